-- Terminal identity: CRM accounts and contacts, external enterprises, terminal users with
-- their WeChat identities and roles, registration policy and methods, the approval queue,
-- invitation codes and bound WeChat apps.

CREATE TABLE accounts (
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
CREATE INDEX accounts_exact ON accounts (tenant_id, exact_key);
CREATE INDEX accounts_fuzzy ON accounts (tenant_id, fuzzy_key);
CREATE INDEX accounts_list ON accounts (tenant_id, created_at, id);

CREATE TABLE contacts (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mobile TEXT,
    record_type TEXT NOT NULL,
    fields_json TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX contacts_account ON contacts (tenant_id, account_id, created_at, id);
CREATE INDEX contacts_mobile ON contacts (tenant_id, mobile);

CREATE TABLE terminal_roles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    permissions_json TEXT NOT NULL,
    built_in BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX terminal_roles_key ON terminal_roles (tenant_id, key);

CREATE TABLE terminal_users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    enterprise_name TEXT NOT NULL,
    account_id TEXT,
    contact_id TEXT,
    mobile TEXT,
    status TEXT NOT NULL,
    method_id TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX terminal_users_list ON terminal_users (tenant_id, created_at, id);
CREATE INDEX terminal_users_mobile ON terminal_users (tenant_id, mobile);
CREATE INDEX terminal_users_contact ON terminal_users (tenant_id, contact_id);
CREATE UNIQUE INDEX terminal_users_guest ON terminal_users (tenant_id, kind) WHERE kind = 'guest';

CREATE TABLE terminal_user_roles (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES terminal_users (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES terminal_roles (tenant_id, id)
);

CREATE TABLE wechat_identities (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    openid TEXT NOT NULL,
    unionid TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES terminal_users (tenant_id, id)
);
CREATE UNIQUE INDEX wechat_identities_openid ON wechat_identities (tenant_id, app_id, openid);

CREATE TABLE registration_policies (
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

CREATE TABLE registration_methods (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    settings_json TEXT NOT NULL,
    owner_cursor INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX registration_methods_list ON registration_methods (tenant_id, created_at, id);

CREATE TABLE registrations (
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
CREATE INDEX registrations_list ON registrations (tenant_id, status, created_at, id);

CREATE TABLE invitation_codes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    code TEXT NOT NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX invitation_codes_code ON invitation_codes (tenant_id, code);

-- One app id belongs to one tenant: the login's app id decides the tenant.
CREATE TABLE wechat_apps (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX wechat_apps_app_id ON wechat_apps (app_id);

-- Built-in roles for tenants that signed up before this migration (new tenants get them at sign-up).
INSERT INTO terminal_roles (tenant_id, id, key, name, permissions_json, built_in, version, created_at, updated_at)
SELECT id, id || '-guest', 'guest', 'Guest', '["submit_work_order","view_knowledge_base"]', TRUE, 1, created_at, created_at FROM tenants;
INSERT INTO terminal_roles (tenant_id, id, key, name, permissions_json, built_in, version, created_at, updated_at)
SELECT id, id || '-end-customer', 'end_customer', 'End customer', '["submit_work_order","view_own_work_orders","view_devices","view_knowledge_base"]', TRUE, 1, created_at, created_at FROM tenants;
