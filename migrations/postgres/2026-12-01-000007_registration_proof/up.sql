-- Registration needs proof before it lands on an existing account: an invitation code may be
-- issued for one account; a registration records which account it claims, how it found it and
-- why it waits; attempts are counted per user; sessions have an absolute lifetime; custom
-- domains carry the token their owner publishes to prove the host is theirs.
ALTER TABLE invitation_codes ADD COLUMN account_id TEXT;
ALTER TABLE invitation_codes
    ADD FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id);

ALTER TABLE registrations ADD COLUMN claimed_account_id TEXT;
ALTER TABLE registrations ADD COLUMN claim_kind TEXT;
ALTER TABLE registrations ADD COLUMN approval_reason TEXT NOT NULL DEFAULT 'method';
ALTER TABLE registrations
    ADD FOREIGN KEY (tenant_id, claimed_account_id) REFERENCES accounts (tenant_id, id);
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
