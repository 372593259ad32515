-- The WeChat identity a terminal session was started with, so that access tokens issued
-- on refresh still carry the OpenID (each rotated token copies it).
ALTER TABLE refresh_tokens ADD COLUMN wechat_app_id TEXT;
ALTER TABLE refresh_tokens ADD COLUMN wechat_openid TEXT;
