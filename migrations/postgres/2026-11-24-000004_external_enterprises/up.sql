-- External enterprises: the organisation a terminal user belongs to. A WeChat login of an
-- `openid_auto` method creates one per user; registering links it to the account (one
-- enterprise per account, so the account's users share it). The name moves off the user.
CREATE TABLE external_enterprises (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    account_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE UNIQUE INDEX external_enterprises_account ON external_enterprises (tenant_id, account_id)
    WHERE account_id IS NOT NULL;

ALTER TABLE terminal_users ADD COLUMN enterprise_id TEXT;

-- Users with an account share the account's enterprise (its id is the account's);
-- other users but the guest keep one of their own (its id is the user's).
INSERT INTO external_enterprises (tenant_id, id, name, account_id, created_at, updated_at)
SELECT a.tenant_id, a.id, a.name, a.id, a.created_at, a.updated_at
FROM accounts a
WHERE EXISTS (SELECT 1 FROM terminal_users u
              WHERE u.tenant_id = a.tenant_id AND u.account_id = a.id);
INSERT INTO external_enterprises (tenant_id, id, name, account_id, created_at, updated_at)
SELECT tenant_id, id, enterprise_name, NULL, created_at, updated_at
FROM terminal_users
WHERE account_id IS NULL AND kind <> 'guest';
UPDATE terminal_users SET enterprise_id = CASE
    WHEN account_id IS NOT NULL THEN account_id
    WHEN kind = 'guest' THEN NULL
    ELSE id END;

ALTER TABLE terminal_users DROP COLUMN enterprise_name;
CREATE INDEX terminal_users_enterprise ON terminal_users (tenant_id, enterprise_id);
