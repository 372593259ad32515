-- Devices and the QR codes stuck on them.

CREATE TABLE devices (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    account_id TEXT,
    name TEXT NOT NULL,
    brand TEXT NOT NULL,
    category TEXT NOT NULL,
    model TEXT NOT NULL,
    machine_no TEXT,
    machine_key TEXT,
    serial_no TEXT,
    serial_key TEXT,
    install_address TEXT NOT NULL,
    latitude REAL,
    longitude REAL,
    warranty_status TEXT NOT NULL,
    warranty_ends_on DATE,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE UNIQUE INDEX devices_serial ON devices (tenant_id, serial_key) WHERE serial_key IS NOT NULL;
CREATE INDEX devices_machine ON devices (tenant_id, machine_key);
CREATE INDEX devices_account ON devices (tenant_id, account_id, created_at, id);
CREATE INDEX devices_list ON devices (tenant_id, created_at, id);

CREATE TABLE qr_settings (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    enabled BOOLEAN NOT NULL,
    rule_json TEXT NOT NULL,
    url_template TEXT NOT NULL,
    landing_url_template TEXT NOT NULL,
    style_json TEXT NOT NULL,
    next_sequence BIGINT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Codes are unique per tenant and never reissued: a row is never deleted.
CREATE TABLE qr_codes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    device_id TEXT,
    created_at TIMESTAMP NOT NULL,
    bound_at TIMESTAMP,
    bound_by TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX qr_codes_code ON qr_codes (tenant_id, code);
CREATE INDEX qr_codes_device ON qr_codes (tenant_id, device_id);
CREATE INDEX qr_codes_list ON qr_codes (tenant_id, created_at, id);
