-- Foreign keys where ids pointed at rows without one, each carrying tenant_id so that no row
-- can point into another tenant; the two lookups that start from no tenant (WeChat app id,
-- host) move to global lookup tables, so every unique index of a tenant-owned table starts
-- with tenant_id; and indexes for what lists and logins filter on.
--
-- SQLite cannot add a foreign key to a table: the tables are rebuilt (new table, copy, drop,
-- rename). Dropping a table others refer to needs foreign keys off, which cannot change
-- inside a transaction: this migration runs outside diesel's (metadata.toml) and opens its
-- own, turning the keys back on once it has committed.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- References that name nothing any more are cleared first.
UPDATE terminal_users SET account_id = NULL WHERE account_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.tenant_id = terminal_users.tenant_id AND a.id = terminal_users.account_id);
UPDATE terminal_users SET contact_id = NULL WHERE contact_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = terminal_users.tenant_id AND c.id = terminal_users.contact_id);
UPDATE terminal_users SET enterprise_id = NULL WHERE enterprise_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM external_enterprises e WHERE e.tenant_id = terminal_users.tenant_id AND e.id = terminal_users.enterprise_id);
UPDATE terminal_users SET method_id = NULL WHERE method_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM registration_methods m WHERE m.tenant_id = terminal_users.tenant_id AND m.id = terminal_users.method_id);
UPDATE qr_codes SET device_id = NULL, bound_at = NULL, bound_by = NULL WHERE device_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = qr_codes.tenant_id AND d.id = qr_codes.device_id);
UPDATE registration_policies SET guest_account_id = NULL WHERE guest_account_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.tenant_id = registration_policies.tenant_id AND a.id = registration_policies.guest_account_id);
UPDATE registration_policies SET guest_contact_id = NULL WHERE guest_contact_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = registration_policies.tenant_id AND c.id = registration_policies.guest_contact_id);
UPDATE accounts SET owner_staff_id = NULL WHERE owner_staff_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM staff_users s WHERE s.tenant_id = accounts.tenant_id AND s.id = accounts.owner_staff_id);
-- A registration keeps its history: the method it came through, deleted under the old
-- scheme, comes back disabled under a name that says so.
INSERT INTO registration_methods (tenant_id, id, name, enabled, settings_json, owner_cursor, version, created_at, updated_at)
SELECT r.tenant_id, r.method_id, 'Deleted method', FALSE,
    '{"channels":["h5"],"mode":"require_registration","requires_approval":true,"account":{"record_type":"customer","fields":[],"show_only_required":false,"owner":{"kind":"none"},"duplicate_check":"exact","new_account_rule":"user_defined"},"contact":{"record_type":"default","fields":[],"show_only_required":false}}',
    0, 1, MIN(r.created_at), MIN(r.created_at)
FROM registrations r
WHERE NOT EXISTS (SELECT 1 FROM registration_methods m WHERE m.tenant_id = r.tenant_id AND m.id = r.method_id)
GROUP BY r.tenant_id, r.method_id;

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
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_staff_id) REFERENCES staff_users (tenant_id, id)
);
INSERT INTO accounts_rebuilt (tenant_id, id, name, exact_key, fuzzy_key, record_type, fields_json, owner_staff_id, source, activated, version, created_at, updated_at)
SELECT tenant_id, id, name, exact_key, fuzzy_key, record_type, fields_json, owner_staff_id, source, activated, version, created_at, updated_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_rebuilt RENAME TO accounts;
CREATE INDEX accounts_exact ON accounts (tenant_id, exact_key);
CREATE INDEX accounts_fuzzy ON accounts (tenant_id, fuzzy_key);
CREATE INDEX accounts_list ON accounts (tenant_id, created_at, id);
CREATE INDEX accounts_owner ON accounts (tenant_id, owner_staff_id);

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
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, enterprise_id) REFERENCES external_enterprises (tenant_id, id),
    FOREIGN KEY (tenant_id, method_id) REFERENCES registration_methods (tenant_id, id)
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
CREATE INDEX terminal_users_account ON terminal_users (tenant_id, account_id, created_at, id);
CREATE INDEX terminal_users_method ON terminal_users (tenant_id, method_id);

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
    FOREIGN KEY (tenant_id, claimed_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, method_id) REFERENCES registration_methods (tenant_id, id)
);
INSERT INTO registrations_rebuilt (tenant_id, id, user_id, method_id, payload_json, status, reason, decided_by, created_at, decided_at, claimed_account_id, claim_kind, approval_reason)
SELECT tenant_id, id, user_id, method_id, payload_json, status, reason, decided_by, created_at, decided_at, claimed_account_id, claim_kind, approval_reason FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_rebuilt RENAME TO registrations;
CREATE INDEX registrations_list ON registrations (tenant_id, status, created_at, id);
CREATE INDEX registrations_user ON registrations (tenant_id, user_id, created_at);
CREATE INDEX registrations_method ON registrations (tenant_id, method_id);

CREATE TABLE qr_codes_rebuilt (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    device_id TEXT,
    created_at TIMESTAMP NOT NULL,
    bound_at TIMESTAMP,
    bound_by TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
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
    updated_at TIMESTAMP NOT NULL,
    FOREIGN KEY (tenant_id, guest_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, guest_contact_id) REFERENCES contacts (tenant_id, id)
);
INSERT INTO registration_policies_rebuilt (tenant_id, guest_enabled, guest_account_id, guest_contact_id, require_account_on_work_orders, invitation_required, seats, version, updated_at)
SELECT tenant_id, guest_enabled, guest_account_id, guest_contact_id, require_account_on_work_orders, invitation_required, seats, version, updated_at FROM registration_policies;
DROP TABLE registration_policies;
ALTER TABLE registration_policies_rebuilt RENAME TO registration_policies;

-- WeChat app id → tenant: a login names an app id and no tenant. One app id, one tenant.
CREATE TABLE wechat_app_ids (
    app_id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    wechat_app_id TEXT NOT NULL,
    FOREIGN KEY (tenant_id, wechat_app_id) REFERENCES wechat_apps (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO wechat_app_ids (app_id, tenant_id, wechat_app_id) SELECT app_id, tenant_id, id FROM wechat_apps;
DROP INDEX wechat_apps_app_id;
CREATE UNIQUE INDEX wechat_apps_app_id ON wechat_apps (tenant_id, app_id);

-- Host → tenant: a request names a host and no tenant. A host is held while its request is
-- pending or approved; rejecting it frees the host (the row goes).
CREATE TABLE tenant_hosts (
    host TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    FOREIGN KEY (tenant_id, domain_id) REFERENCES tenant_domains (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO tenant_hosts (host, tenant_id, domain_id)
SELECT host, tenant_id, id FROM tenant_domains WHERE status <> 'rejected';
DROP INDEX tenant_domains_host;
CREATE UNIQUE INDEX tenant_domains_host ON tenant_domains (tenant_id, host) WHERE status <> 'rejected';

-- What lists, logins and the deletes that look for references filter on.
CREATE INDEX refresh_tokens_subject ON refresh_tokens (tenant_id, subject_id);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor_id, created_at);
CREATE INDEX terminal_user_roles_role ON terminal_user_roles (tenant_id, role_id);
CREATE INDEX wechat_identities_user ON wechat_identities (tenant_id, user_id);
CREATE INDEX invitation_codes_account ON invitation_codes (tenant_id, account_id);

COMMIT;
PRAGMA foreign_keys = ON;
