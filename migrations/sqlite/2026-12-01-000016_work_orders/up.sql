-- The outbox: one row per event a change emits (`Tx::emit`), written in the change's own
-- transaction, so an event exists exactly when its change committed. Delivery (WeChat,
-- SMS, webhooks) reads undelivered rows later and sets delivered_at.
CREATE TABLE outbox_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    request_id TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Delivery reads the oldest undelivered events across every tenant.
CREATE INDEX outbox_events_pending ON outbox_events (delivered_at, created_at);
CREATE INDEX outbox_events_subject ON outbox_events (tenant_id, subject_type, subject_id, created_at);

-- Response and resolution targets per service type (JSON, read leniently: a service type
-- it does not name takes the built-in targets).
ALTER TABLE tenant_settings ADD COLUMN service_targets TEXT NOT NULL DEFAULT '{}';

-- Work orders: a repair request and its whole life.
CREATE TABLE work_orders (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    number TEXT NOT NULL,
    tracking_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    service_type TEXT NOT NULL,
    device_id TEXT,
    brand TEXT NOT NULL,
    category TEXT NOT NULL,
    model TEXT NOT NULL,
    machine_no TEXT,
    serial_no TEXT,
    serial_key TEXT,
    fault_description TEXT NOT NULL,
    warranty_status TEXT,
    appointment_at TIMESTAMP,
    notes TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    address TEXT NOT NULL,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    custom_fields TEXT NOT NULL,
    account_id TEXT,
    contact_id TEXT,
    enterprise_id TEXT,
    terminal_user_id TEXT,
    created_by_kind TEXT NOT NULL,
    created_by_id TEXT NOT NULL,
    engineer_id TEXT,
    response_due_at TIMESTAMP,
    resolution_due_at TIMESTAMP,
    accepted_at TIMESTAMP,
    completed_at TIMESTAMP,
    closed_at TIMESTAMP,
    reject_reason TEXT,
    check_in_at TIMESTAMP,
    check_in_latitude DOUBLE PRECISION,
    check_in_longitude DOUBLE PRECISION,
    check_out_at TIMESTAMP,
    check_out_latitude DOUBLE PRECISION,
    check_out_longitude DOUBLE PRECISION,
    rating_stars INTEGER,
    rating_tags TEXT,
    rating_comment TEXT,
    rated_at TIMESTAMP,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, enterprise_id) REFERENCES external_enterprises (tenant_id, id),
    FOREIGN KEY (tenant_id, terminal_user_id) REFERENCES terminal_users (tenant_id, id),
    FOREIGN KEY (tenant_id, engineer_id) REFERENCES staff_users (tenant_id, id)
);
CREATE UNIQUE INDEX work_orders_number ON work_orders (tenant_id, number);
CREATE UNIQUE INDEX work_orders_tracking ON work_orders (tenant_id, tracking_hash);
-- One index per list filter, each leading with tenant_id and ending with the keyset.
CREATE INDEX work_orders_list ON work_orders (tenant_id, created_at, id);
CREATE INDEX work_orders_status ON work_orders (tenant_id, status, created_at, id);
CREATE INDEX work_orders_device ON work_orders (tenant_id, device_id, created_at, id);
CREATE INDEX work_orders_account ON work_orders (tenant_id, account_id, created_at, id);
CREATE INDEX work_orders_engineer ON work_orders (tenant_id, engineer_id, created_at, id);
CREATE INDEX work_orders_channel ON work_orders (tenant_id, channel, created_at, id);
CREATE INDEX work_orders_user ON work_orders (tenant_id, terminal_user_id, created_at, id);
CREATE INDEX work_orders_serial ON work_orders (tenant_id, serial_key, created_at, id);
CREATE INDEX work_orders_due ON work_orders (tenant_id, resolution_due_at);
CREATE INDEX work_orders_phone ON work_orders (tenant_id, contact_phone);
-- Auto-close looks for completed orders by completion time.
CREATE INDEX work_orders_completed ON work_orders (tenant_id, status, completed_at);

-- The timeline: every change of a work order, who made it, when, from and to which status.
CREATE TABLE work_order_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    work_order_id TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, work_order_id) REFERENCES work_orders (tenant_id, id)
);
CREATE INDEX work_order_events_order ON work_order_events (tenant_id, work_order_id, created_at, id);
