DROP INDEX password_failures_age;
ALTER TABLE password_failures DROP COLUMN client_ip;
CREATE INDEX sms_codes_ip ON sms_codes (tenant_id, client_ip, created_at);
DROP INDEX sms_codes_platform_ip;
DROP INDEX sms_codes_platform_mobile;
