DROP INDEX invitation_codes_account;
DROP INDEX accounts_owner;
DROP INDEX registrations_method;
DROP INDEX wechat_identities_user;
DROP INDEX terminal_user_roles_role;
DROP INDEX terminal_users_method;
DROP INDEX terminal_users_account;
DROP INDEX audit_log_actor;
DROP INDEX refresh_tokens_subject;

DROP INDEX tenant_domains_host;
CREATE UNIQUE INDEX tenant_domains_host ON tenant_domains (host) WHERE status <> 'rejected';
DROP TABLE tenant_hosts;

DROP INDEX wechat_apps_app_id;
CREATE UNIQUE INDEX wechat_apps_app_id ON wechat_apps (app_id);
DROP TABLE wechat_app_ids;

ALTER TABLE accounts DROP CONSTRAINT accounts_owner_fkey;
ALTER TABLE registration_policies
    DROP CONSTRAINT registration_policies_guest_account_fkey,
    DROP CONSTRAINT registration_policies_guest_contact_fkey;
ALTER TABLE qr_codes DROP CONSTRAINT qr_codes_device_fkey;
ALTER TABLE registrations DROP CONSTRAINT registrations_method_fkey;
ALTER TABLE terminal_users
    DROP CONSTRAINT terminal_users_account_fkey,
    DROP CONSTRAINT terminal_users_contact_fkey,
    DROP CONSTRAINT terminal_users_enterprise_fkey,
    DROP CONSTRAINT terminal_users_method_fkey;
