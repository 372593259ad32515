-- The platform-wide SMS caps count a mobile's codes, and a client address's, over every
-- tenant together: the one place a query on sms_codes does not start from the tenant.
CREATE INDEX sms_codes_platform_mobile ON sms_codes (mobile, created_at);
CREATE INDEX sms_codes_platform_ip ON sms_codes (client_ip, created_at);
-- The per-tenant address cap it replaces.
DROP INDEX sms_codes_ip;
-- Wrong passwords pause the (mobile, client address) that made them; a larger count per
-- mobile pauses it for everyone. Rows older than the window are purged as new ones are
-- written, tenant by tenant (by age, hence the index).
ALTER TABLE password_failures ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX password_failures_age ON password_failures (tenant_id, failed_at);
