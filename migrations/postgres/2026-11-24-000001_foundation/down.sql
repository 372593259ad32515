DROP TABLE audit_log;
DROP TABLE tenant_domains;
DROP TABLE sms_codes;
DROP TABLE refresh_tokens;
DROP TABLE staff_users;
DROP TABLE tenant_settings;
DROP TABLE tenants;
