ALTER TABLE refresh_tokens DROP COLUMN wechat_openid;
ALTER TABLE refresh_tokens DROP COLUMN wechat_app_id;
