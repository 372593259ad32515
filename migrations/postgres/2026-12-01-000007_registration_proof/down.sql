ALTER TABLE tenant_domains DROP COLUMN reason;
ALTER TABLE tenant_domains DROP COLUMN verification_token;
ALTER TABLE refresh_tokens DROP COLUMN session_started_at;
DROP TABLE registration_attempts;
DROP INDEX registrations_user;
ALTER TABLE registrations DROP COLUMN approval_reason;
ALTER TABLE registrations DROP COLUMN claim_kind;
ALTER TABLE registrations DROP COLUMN claimed_account_id;
ALTER TABLE invitation_codes DROP COLUMN account_id;
