-- The platform-wide SMS caps count a mobile's codes, and a client address's, over every
-- tenant together: the one place a query on sms_codes does not start from the tenant.
CREATE INDEX sms_codes_platform_mobile ON sms_codes (mobile, created_at);
CREATE INDEX sms_codes_platform_ip ON sms_codes (client_ip, created_at);
-- The per-tenant address cap it replaces.
DROP INDEX sms_codes_ip;
