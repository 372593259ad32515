-- Photos uploaded for work orders: the record of each (who uploaded it, what it is, where
-- its stripped bytes and thumbnail live in the blob store). An attachment is the
-- uploader's alone until a work order claims it (work_order_id and claimed_at set in one
-- guarded UPDATE); one that no order claims within a day is removed with its blobs.
CREATE TABLE attachments (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    uploaded_by_kind TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    blob_key TEXT NOT NULL,
    thumb_blob_key TEXT NOT NULL,
    thumb_width INTEGER NOT NULL,
    thumb_height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    work_order_id TEXT,
    created_at TIMESTAMP NOT NULL,
    claimed_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, work_order_id) REFERENCES work_orders (tenant_id, id)
);
-- An order's photos, in upload order.
CREATE INDEX attachments_work_order ON attachments (tenant_id, work_order_id, created_at, id);
-- The daily clean-up finds unclaimed ones by age across every tenant.
CREATE INDEX attachments_unclaimed ON attachments (created_at) WHERE claimed_at IS NULL;
