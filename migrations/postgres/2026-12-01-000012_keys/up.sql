-- Foreign keys where ids pointed at rows without one, each carrying tenant_id so that no row
-- can point into another tenant; the two lookups that start from no tenant (WeChat app id,
-- host) move to global lookup tables, so every unique index of a tenant-owned table starts
-- with tenant_id; and indexes for what lists and logins filter on.

-- References that name nothing any more are cleared first (the key could not be added).
UPDATE terminal_users u SET account_id = NULL WHERE account_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.tenant_id = u.tenant_id AND a.id = u.account_id);
UPDATE terminal_users u SET contact_id = NULL WHERE contact_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = u.tenant_id AND c.id = u.contact_id);
UPDATE terminal_users u SET enterprise_id = NULL WHERE enterprise_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM external_enterprises e WHERE e.tenant_id = u.tenant_id AND e.id = u.enterprise_id);
UPDATE terminal_users u SET method_id = NULL WHERE method_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM registration_methods m WHERE m.tenant_id = u.tenant_id AND m.id = u.method_id);
UPDATE qr_codes q SET device_id = NULL, bound_at = NULL, bound_by = NULL WHERE device_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = q.tenant_id AND d.id = q.device_id);
UPDATE registration_policies p SET guest_account_id = NULL WHERE guest_account_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.tenant_id = p.tenant_id AND a.id = p.guest_account_id);
UPDATE registration_policies p SET guest_contact_id = NULL WHERE guest_contact_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = p.tenant_id AND c.id = p.guest_contact_id);
UPDATE accounts a SET owner_staff_id = NULL WHERE owner_staff_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM staff_users s WHERE s.tenant_id = a.tenant_id AND s.id = a.owner_staff_id);
-- A registration keeps its history: the method it came through, deleted under the old
-- scheme, comes back disabled under a name that says so.
INSERT INTO registration_methods (tenant_id, id, name, enabled, settings_json, owner_cursor, version, created_at, updated_at)
SELECT r.tenant_id, r.method_id, 'Deleted method', FALSE,
    '{"channels":["h5"],"mode":"require_registration","requires_approval":true,"account":{"record_type":"customer","fields":[],"show_only_required":false,"owner":{"kind":"none"},"duplicate_check":"exact","new_account_rule":"user_defined"},"contact":{"record_type":"default","fields":[],"show_only_required":false}}',
    0, 1, MIN(r.created_at), MIN(r.created_at)
FROM registrations r
WHERE NOT EXISTS (SELECT 1 FROM registration_methods m WHERE m.tenant_id = r.tenant_id AND m.id = r.method_id)
GROUP BY r.tenant_id, r.method_id;

ALTER TABLE terminal_users
    ADD CONSTRAINT terminal_users_account_fkey FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    ADD CONSTRAINT terminal_users_contact_fkey FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    ADD CONSTRAINT terminal_users_enterprise_fkey FOREIGN KEY (tenant_id, enterprise_id) REFERENCES external_enterprises (tenant_id, id),
    ADD CONSTRAINT terminal_users_method_fkey FOREIGN KEY (tenant_id, method_id) REFERENCES registration_methods (tenant_id, id);
ALTER TABLE registrations
    ADD CONSTRAINT registrations_method_fkey FOREIGN KEY (tenant_id, method_id) REFERENCES registration_methods (tenant_id, id);
ALTER TABLE qr_codes
    ADD CONSTRAINT qr_codes_device_fkey FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id);
ALTER TABLE registration_policies
    ADD CONSTRAINT registration_policies_guest_account_fkey FOREIGN KEY (tenant_id, guest_account_id) REFERENCES accounts (tenant_id, id),
    ADD CONSTRAINT registration_policies_guest_contact_fkey FOREIGN KEY (tenant_id, guest_contact_id) REFERENCES contacts (tenant_id, id);
ALTER TABLE accounts
    ADD CONSTRAINT accounts_owner_fkey FOREIGN KEY (tenant_id, owner_staff_id) REFERENCES staff_users (tenant_id, id);

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
CREATE INDEX terminal_users_account ON terminal_users (tenant_id, account_id, created_at, id);
CREATE INDEX terminal_users_method ON terminal_users (tenant_id, method_id);
CREATE INDEX terminal_user_roles_role ON terminal_user_roles (tenant_id, role_id);
CREATE INDEX wechat_identities_user ON wechat_identities (tenant_id, user_id);
CREATE INDEX registrations_method ON registrations (tenant_id, method_id);
CREATE INDEX accounts_owner ON accounts (tenant_id, owner_staff_id);
CREATE INDEX invitation_codes_account ON invitation_codes (tenant_id, account_id);
