DROP INDEX password_failures_failed_at;
DROP INDEX idempotency_keys_expiry;
DROP TABLE idempotency_keys;
ALTER TABLE qr_settings ADD COLUMN next_sequence BIGINT NOT NULL DEFAULT 1;
UPDATE qr_settings SET next_sequence = COALESCE(
    (SELECT value + 1 FROM counters
     WHERE counters.tenant_id = qr_settings.tenant_id AND counters.name = 'qr_code'),
    1);
DROP TABLE counters;
