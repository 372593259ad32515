ALTER TABLE tenant_domains DROP COLUMN reason;
ALTER TABLE tenant_domains DROP COLUMN verification_token;
ALTER TABLE refresh_tokens DROP COLUMN session_started_at;
DROP TABLE registration_attempts;

CREATE TABLE registrations_old (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    method_id TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    decided_by TEXT,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES terminal_users (tenant_id, id)
);
INSERT INTO registrations_old SELECT tenant_id, id, user_id, method_id, payload_json, status,
    reason, decided_by, created_at, decided_at FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_old RENAME TO registrations;
CREATE INDEX registrations_list ON registrations (tenant_id, status, created_at, id);

CREATE TABLE invitation_codes_old (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO invitation_codes_old SELECT tenant_id, id, code, max_uses, uses, expires_at,
    created_at FROM invitation_codes;
DROP TABLE invitation_codes;
ALTER TABLE invitation_codes_old RENAME TO invitation_codes;
CREATE UNIQUE INDEX invitation_codes_code ON invitation_codes (tenant_id, code);
