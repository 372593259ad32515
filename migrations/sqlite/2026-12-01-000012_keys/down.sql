-- Back to the tables without the keys this migration added (rebuilt again, as the up).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

DROP INDEX invitation_codes_account;
DROP INDEX wechat_identities_user;
DROP INDEX terminal_user_roles_role;
DROP INDEX audit_log_actor;
DROP INDEX refresh_tokens_subject;

DROP INDEX tenant_domains_host;
CREATE UNIQUE INDEX tenant_domains_host ON tenant_domains (host) WHERE status <> 'rejected';
DROP TABLE tenant_hosts;

DROP INDEX wechat_apps_app_id;
CREATE UNIQUE INDEX wechat_apps_app_id ON wechat_apps (app_id);
DROP TABLE wechat_app_ids;

CREATE TABLE accounts_rebuilt (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    exact_key TEXT NOT NULL,
    fuzzy_key TEXT NOT NULL,
    record_type TEXT NOT NULL,
    fields_json TEXT NOT NULL,
    owner_staff_id TEXT,
    source TEXT NOT NULL,
    activated BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO accounts_rebuilt (tenant_id, id, name, exact_key, fuzzy_key, record_type, fields_json, owner_staff_id, source, activated, version, created_at, updated_at)
SELECT tenant_id, id, name, exact_key, fuzzy_key, record_type, fields_json, owner_staff_id, source, activated, version, created_at, updated_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_rebuilt RENAME TO accounts;
CREATE INDEX accounts_exact ON accounts (tenant_id, exact_key);
CREATE INDEX accounts_fuzzy ON accounts (tenant_id, fuzzy_key);
CREATE INDEX accounts_list ON accounts (tenant_id, created_at, id);

CREATE TABLE terminal_users_rebuilt (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_id TEXT,
    contact_id TEXT,
    mobile TEXT,
    status TEXT NOT NULL,
    method_id TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    enterprise_id TEXT,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO terminal_users_rebuilt (tenant_id, id, kind, account_id, contact_id, mobile, status, method_id, version, created_at, updated_at, enterprise_id)
SELECT tenant_id, id, kind, account_id, contact_id, mobile, status, method_id, version, created_at, updated_at, enterprise_id FROM terminal_users;
DROP TABLE terminal_users;
ALTER TABLE terminal_users_rebuilt RENAME TO terminal_users;
CREATE INDEX terminal_users_list ON terminal_users (tenant_id, created_at, id);
CREATE INDEX terminal_users_mobile ON terminal_users (tenant_id, mobile);
CREATE INDEX terminal_users_contact ON terminal_users (tenant_id, contact_id);
CREATE UNIQUE INDEX terminal_users_guest ON terminal_users (tenant_id, kind) WHERE kind = 'guest';
CREATE INDEX terminal_users_enterprise ON terminal_users (tenant_id, enterprise_id);

CREATE TABLE registrations_rebuilt (
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
INSERT INTO registrations_rebuilt (tenant_id, id, user_id, method_id, payload_json, status, reason, decided_by, created_at, decided_at, claimed_account_id, claim_kind, approval_reason)
SELECT tenant_id, id, user_id, method_id, payload_json, status, reason, decided_by, created_at, decided_at, claimed_account_id, claim_kind, approval_reason FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_rebuilt RENAME TO registrations;
CREATE INDEX registrations_list ON registrations (tenant_id, status, created_at, id);
CREATE INDEX registrations_user ON registrations (tenant_id, user_id, created_at);

CREATE TABLE qr_codes_rebuilt (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    device_id TEXT,
    created_at TIMESTAMP NOT NULL,
    bound_at TIMESTAMP,
    bound_by TEXT,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO qr_codes_rebuilt (tenant_id, id, code, device_id, created_at, bound_at, bound_by)
SELECT tenant_id, id, code, device_id, created_at, bound_at, bound_by FROM qr_codes;
DROP TABLE qr_codes;
ALTER TABLE qr_codes_rebuilt RENAME TO qr_codes;
CREATE UNIQUE INDEX qr_codes_code ON qr_codes (tenant_id, code);
CREATE INDEX qr_codes_device ON qr_codes (tenant_id, device_id);
CREATE INDEX qr_codes_list ON qr_codes (tenant_id, created_at, id);

CREATE TABLE registration_policies_rebuilt (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    guest_enabled BOOLEAN NOT NULL,
    guest_account_id TEXT,
    guest_contact_id TEXT,
    require_account_on_work_orders BOOLEAN NOT NULL,
    invitation_required BOOLEAN NOT NULL,
    seats INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO registration_policies_rebuilt (tenant_id, guest_enabled, guest_account_id, guest_contact_id, require_account_on_work_orders, invitation_required, seats, version, updated_at)
SELECT tenant_id, guest_enabled, guest_account_id, guest_contact_id, require_account_on_work_orders, invitation_required, seats, version, updated_at FROM registration_policies;
DROP TABLE registration_policies;
ALTER TABLE registration_policies_rebuilt RENAME TO registration_policies;

COMMIT;
PRAGMA foreign_keys = ON;
