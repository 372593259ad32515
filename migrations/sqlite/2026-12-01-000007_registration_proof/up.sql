-- Registration needs proof before it lands on an existing account: an invitation code may be
-- issued for one account; a registration records which account it claims, how it found it and
-- why it waits; attempts are counted per user; sessions have an absolute lifetime; custom
-- domains carry the token their owner publishes to prove the host is theirs.
-- (SQLite cannot add a composite foreign key to a table: the two tables are rebuilt.)
CREATE TABLE invitation_codes_new (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    account_id TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
INSERT INTO invitation_codes_new (tenant_id, id, code, max_uses, uses, expires_at, created_at)
    SELECT tenant_id, id, code, max_uses, uses, expires_at, created_at FROM invitation_codes;
DROP TABLE invitation_codes;
ALTER TABLE invitation_codes_new RENAME TO invitation_codes;
CREATE UNIQUE INDEX invitation_codes_code ON invitation_codes (tenant_id, code);

CREATE TABLE registrations_new (
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
    claimed_account_id TEXT,
    claim_kind TEXT,
    approval_reason TEXT NOT NULL DEFAULT 'method',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES terminal_users (tenant_id, id),
    FOREIGN KEY (tenant_id, claimed_account_id) REFERENCES accounts (tenant_id, id)
);
INSERT INTO registrations_new (tenant_id, id, user_id, method_id, payload_json, status, reason,
        decided_by, created_at, decided_at)
    SELECT tenant_id, id, user_id, method_id, payload_json, status, reason, decided_by,
        created_at, decided_at FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_new RENAME TO registrations;
CREATE INDEX registrations_list ON registrations (tenant_id, status, created_at, id);
CREATE INDEX registrations_user ON registrations (tenant_id, user_id, created_at);

CREATE TABLE registration_attempts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES terminal_users (tenant_id, id)
);
CREATE INDEX registration_attempts_user ON registration_attempts (tenant_id, user_id, created_at);

ALTER TABLE refresh_tokens ADD COLUMN session_started_at TIMESTAMP;

ALTER TABLE tenant_domains ADD COLUMN verification_token TEXT;
ALTER TABLE tenant_domains ADD COLUMN reason TEXT;
