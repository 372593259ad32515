-- Per-tenant counters (QR code numbers now, work-order numbers next): the last number
-- given out under a name. Taken with UPDATE … SET value = value + 1, so two transactions
-- never read the same value; the first use inserts the row.
CREATE TABLE counters (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
-- The QR sequence moves onto its counter: qr_settings.next_sequence was the next number.
INSERT INTO counters (tenant_id, name, value)
    SELECT tenant_id, 'qr_code', next_sequence - 1 FROM qr_settings WHERE next_sequence > 1;
ALTER TABLE qr_settings DROP COLUMN next_sequence;

-- Idempotency keys: (tenant, principal, key) → the request's fingerprint and, once
-- answered, the answer, replayed for a retry with the same key and body for 24 hours.
-- status is NULL while the first request is in flight.
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    principal_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    response_headers TEXT,
    response_body BYTEA,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, principal_id, idempotency_key)
);
-- The periodic purge deletes by expiry across every tenant.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The periodic purge of wrong-password rows deletes by age across every tenant.
CREATE INDEX password_failures_failed_at ON password_failures (failed_at);
