-- Wrong staff passwords, per tenant and mobile: too many in a window and password login for
-- that mobile pauses (429). In the database, so every API node counts the same tries.
CREATE TABLE password_failures (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    mobile TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX password_failures_mobile ON password_failures (tenant_id, mobile, failed_at);
