-- Tenants, staff, sessions, SMS codes, domains and the audit log.
-- Tenant-owned tables key on (tenant_id, id); every unique constraint starts with tenant_id.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    introduction TEXT NOT NULL DEFAULT '',
    contact_person TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    about TEXT NOT NULL DEFAULT '',
    logo_url TEXT,
    trial_ends_at TIMESTAMP NOT NULL,
    paid_until TIMESTAMP,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE tenant_settings (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id),
    ratings_enabled BOOLEAN NOT NULL,
    rating_levels TEXT NOT NULL,
    rating_reason_threshold INTEGER NOT NULL,
    repair_without_serial BOOLEAN NOT NULL,
    default_form_template_id TEXT,
    number_prefix TEXT NOT NULL,
    auto_close_days INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE staff_users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    mobile TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    disabled BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX staff_users_mobile ON staff_users (tenant_id, mobile) WHERE deleted_at IS NULL;
CREATE INDEX staff_users_list ON staff_users (tenant_id, created_at, id);

CREATE TABLE refresh_tokens (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (tenant_id, token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);

-- SMS codes are scoped by tenant, or by the platform scope for provider sign-up.
CREATE TABLE sms_codes (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    mobile TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sms_codes_mobile ON sms_codes (tenant_id, mobile, created_at);
CREATE INDEX sms_codes_ip ON sms_codes (tenant_id, client_ip, created_at);

CREATE TABLE tenant_domains (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX tenant_domains_host ON tenant_domains (host) WHERE status <> 'rejected';
CREATE INDEX tenant_domains_list ON tenant_domains (tenant_id, created_at, id);

CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    request_id TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_list ON audit_log (tenant_id, created_at, id);
CREATE INDEX audit_log_object ON audit_log (tenant_id, object_type, object_id);
