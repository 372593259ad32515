//! Sign-up → login → profile → refresh → reuse detection, over real HTTP.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn sign_up_login_profile_refresh_and_reuse(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;

        // The sign-up tokens work.
        let profile = app.get("/api/v1/admin/profile", bearer(&provider.access)).await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.text);
        assert_eq!(profile.body["slug"], "acme");
        assert_eq!(profile.body["name"], "acme 设备服务有限公司");
        assert_eq!(profile.body["active"], true);

        // Login by password, then the profile with the new token.
        let login = app.login("acme", "13800138000", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        assert_eq!(login.body["token_type"], "Bearer");
        let access = login.body["access_token"].as_str().unwrap();
        let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
        let profile = app.get("/api/v1/admin/profile", bearer(access)).await;
        assert_eq!(profile.status, StatusCode::OK);
        assert_eq!(profile.header("etag"), Some("\"1\""));

        // Refresh: a new pair, and the new access token works.
        let rotated = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }), Opts::default()).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
        let new_access = rotated.body["access_token"].as_str().unwrap().to_owned();
        let new_refresh = rotated.body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(new_refresh, refresh);
        assert_eq!(app.get("/api/v1/me", bearer(&new_access)).await.status, StatusCode::OK);

        // The old refresh token again: 401, and the whole family is revoked.
        let reused = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }), Opts::default()).await;
        reused.problem(401, "refresh-token-reused");
        let after = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": new_refresh }), Opts::default()).await;
        after.problem(401, "unauthenticated");
        // The session's access token stops working at once.
        app.get("/api/v1/me", bearer(&new_access)).await.problem(401, "unauthenticated");
        // Other sessions (the sign-up one) are untouched.
        assert_eq!(app.get("/api/v1/me", bearer(&provider.access)).await.status, StatusCode::OK);
    }

    async fn wrong_passwords_pause_password_login_for_that_mobile(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        app.add_staff(&provider.access, "acme", "13700137000", "engineer").await;
        for _ in 0..5 {
            app.login("acme", "13700137000", "not-the-password").await.problem(401, "invalid-credentials");
        }
        // Now even the right password waits, and is told how long.
        let paused = app.login("acme", "13700137000", PASSWORD).await;
        paused.problem(429, "rate-limited");
        assert_eq!(paused.header("retry-after"), Some("900"));
        // The pause is this mobile's: the admin still logs in.
        assert_eq!(app.login("acme", "13800138000", PASSWORD).await.status, StatusCode::OK);
        // A mobile nobody has is paused the same way: no hint which mobiles exist.
        for _ in 0..5 {
            app.login("acme", "13700137999", "guess").await.problem(401, "invalid-credentials");
        }
        app.login("acme", "13700137999", "guess").await.problem(429, "rate-limited");
        // When the window has passed the right password works, and the count starts over.
        app.clock.advance(chrono::Duration::minutes(15));
        assert_eq!(app.login("acme", "13700137000", PASSWORD).await.status, StatusCode::OK);
        app.login("acme", "13700137000", "not-the-password").await.problem(401, "invalid-credentials");
        assert_eq!(app.login("acme", "13700137000", PASSWORD).await.status, StatusCode::OK);

        // Guesses sent side by side: no more than five count as tries, the rest wait,
        // and then the right password waits too.
        let guesses = (0..8).map(|_| app.login("acme", "13700137000", "parallel-guess"));
        let answers = futures_util::future::join_all(guesses).await;
        let tried = answers.iter().filter(|a| a.status == StatusCode::UNAUTHORIZED).count();
        let waited = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((tried, waited), (5, 3), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
        app.login("acme", "13700137000", PASSWORD).await.problem(429, "rate-limited");
    }

    async fn staff_login_by_sms_code(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let sent = app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": provider.admin_mobile }), tenant("acme")).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        assert_eq!(sent.body["expires_in"], 300);
        let code = app.last_code(&provider.admin_mobile).await;
        let login = app
            .post("/api/v1/auth/staff/login", &json!({ "mobile": provider.admin_mobile, "code": code }), tenant("acme"))
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        // A code works once.
        let again = app
            .post("/api/v1/auth/staff/login", &json!({ "mobile": provider.admin_mobile, "code": code }), tenant("acme"))
            .await;
        again.problem(401, "invalid-credentials");
    }

    async fn logout_revokes_the_session(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let out = app.post("/api/v1/auth/logout", &json!({ "refresh_token": provider.refresh }), Opts::default()).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        app.get("/api/v1/me", bearer(&provider.access)).await.problem(401, "unauthenticated");
        app.post("/api/v1/auth/refresh", &json!({ "refresh_token": provider.refresh }), Opts::default())
            .await
            .problem(401, "unauthenticated");
    }

    /// Staff routes check the session with their first unit of work rather than in a trip
    /// of their own: after logout, a read, an audited create, a multi-unit export, the CSV
    /// import (its own transactions) and a WeChat app bind (WeChat asked before the unit)
    /// all answer 401, and nothing is written.
    async fn logout_ends_the_staff_session_on_every_kind_of_admin_route(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let access = provider.access.clone();
        let out = app.post("/api/v1/auth/logout", &json!({ "refresh_token": provider.refresh }), Opts::default()).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        app.get("/api/v1/admin/profile", bearer(&access)).await.problem(401, "unauthenticated");
        app.get("/api/v1/admin/devices", bearer(&access)).await.problem(401, "unauthenticated");
        app.get("/api/v1/admin/work-orders", bearer(&access)).await.problem(401, "unauthenticated");
        app.post("/api/v1/admin/devices", &json!({ "name": "打印机" }), bearer(&access)).await.problem(401, "unauthenticated");
        app.get("/api/v1/admin/devices/export", bearer(&access)).await.problem(401, "unauthenticated");
        app.post_raw("/api/v1/admin/devices/import", "text/csv", "name\n打印机\n".as_bytes().to_vec(), bearer(&access))
            .await
            .problem(401, "unauthenticated");
        let bind = json!({ "app_id": "wxacme0oa0000001", "kind": "official_account", "name": "Acme 服务号", "secret": "acme-oa-secret" });
        app.post("/api/v1/admin/wechat-apps", &bind, bearer(&access)).await.problem(401, "unauthenticated");
        assert_eq!(app.count_rows("devices"), 0);
        assert_eq!(app.count_rows("wechat_apps"), 0);
    }

    async fn sign_up_rejects_bad_fields_all_at_once_and_creates_nothing(app: TestApp) {
        app.post("/api/v1/providers/sms-code", &json!({ "mobile": "13800138000" }), Opts::default()).await;
        let answer = app
            .post(
                "/api/v1/providers",
                &json!({ "mobile": "123", "code": "000000", "provider_name": " ", "password": "short", "slug": "Bad Slug" }),
                Opts::default(),
            )
            .await;
        answer.problem(422, "validation-failed");
        let mut fields = answer.error_fields();
        fields.sort();
        assert_eq!(fields, ["mobile", "password", "provider_name", "slug"]);
        assert_eq!(app.count_rows("tenants"), 0);
        assert_eq!(app.count_rows("staff_users"), 0);
    }

    async fn sign_up_with_a_wrong_code_or_taken_slug_fails(app: TestApp) {
        app.sign_up("acme", "13800138000").await;
        // The slug is taken.
        let taken = app.try_sign_up("acme", "13900139000").await;
        taken.problem(422, "validation-failed");
        let code = app.last_code("13900139000").await;
        assert_eq!(taken.error_fields(), ["slug"]);
        // A wrong code.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let answer = app
            .post(
                "/api/v1/providers",
                &json!({ "mobile": "13900139000", "code": wrong, "provider_name": "Other", "password": PASSWORD, "slug": "other" }),
                Opts::default(),
            )
            .await;
        answer.problem(422, "validation-failed");
        assert_eq!(answer.error_fields(), ["code"]);
        assert_eq!(app.count_rows("tenants"), 1);
        // The right code still works (the taken slug did not spend it).
        let ok = app
            .post(
                "/api/v1/providers",
                &json!({ "mobile": "13900139000", "code": code, "provider_name": "Other", "password": PASSWORD, "slug": "other" }),
                Opts::default(),
            )
            .await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    }

    async fn profile_and_settings_updates_with_etags(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let token = provider.access.as_str();
        let changed = app
            .patch(
                "/api/v1/admin/profile",
                &json!({ "display_name": "Acme 售后", "phone": "400-800-8000", "logo_url": "https://cdn.example.com/logo.png" }),
                Opts { token: Some(token), if_match: Some("\"1\""), ..Opts::default() },
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        assert_eq!(changed.body["display_name"], "Acme 售后");
        assert_eq!(changed.header("etag"), Some("\"2\""));
        // A stale If-Match: 412, nothing changes.
        let stale = app
            .patch("/api/v1/admin/profile", &json!({ "display_name": "Lost" }), Opts { token: Some(token), if_match: Some("\"1\""), ..Opts::default() })
            .await;
        stale.problem(412, "precondition-failed");
        // The name is fixed at sign-up.
        app.patch("/api/v1/admin/profile", &json!({ "name": "Renamed" }), bearer(token))
            .await
            .problem(422, "validation-failed");
        // The public profile shows the change, by X-Tenant, without a token.
        let public = app.get("/api/v1/provider", tenant("acme")).await;
        assert_eq!(public.status, StatusCode::OK);
        assert_eq!(public.body["display_name"], "Acme 售后");
        assert_eq!(public.body["name"], "acme 设备服务有限公司");
        assert_eq!(public.body["logo_url"], "https://cdn.example.com/logo.png");
        // logo_url: null clears it.
        let cleared = app.patch("/api/v1/admin/profile", &json!({ "logo_url": null }), bearer(token)).await;
        assert_eq!(cleared.body["logo_url"], serde_json::Value::Null);

        let settings = app.get("/api/v1/admin/settings", bearer(token)).await;
        assert_eq!(settings.status, StatusCode::OK);
        assert_eq!(settings.body["number_prefix"], "BX");
        assert_eq!(settings.body["rating_levels"].as_array().unwrap().len(), 5);
        let updated = app
            .patch(
                "/api/v1/admin/settings",
                &json!({ "ratings_enabled": false, "number_prefix": "AC", "repair_without_serial": false }),
                Opts { token: Some(token), if_match: settings.header("etag"), ..Opts::default() },
            )
            .await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
        assert_eq!(updated.body["number_prefix"], "AC");
        assert_eq!(updated.body["ratings_enabled"], false);
        let bad = app
            .patch(
                "/api/v1/admin/settings",
                &json!({ "number_prefix": "a-b", "auto_close_days": 0, "rating_levels": [{ "stars": 1, "description": "x", "tags": [] }] }),
                bearer(token),
            )
            .await;
        bad.problem(422, "validation-failed");
        let mut fields = bad.error_fields();
        fields.sort();
        assert_eq!(fields, ["auto_close_days", "number_prefix", "rating_levels"]);
        assert_eq!(app.get("/api/v1/admin/settings", bearer(token)).await.body["number_prefix"], "AC");
    }

    async fn an_expired_trial_is_read_only(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        app.clock.advance(chrono::Duration::days(16));
        // Access tokens have expired too by now: log in again (reading still works).
        let login = app.login("acme", "13800138000", PASSWORD).await;
        let token = login.body["access_token"].as_str().unwrap().to_owned();
        let profile = app.get("/api/v1/admin/profile", bearer(&token)).await;
        assert_eq!(profile.status, StatusCode::OK);
        assert_eq!(profile.body["active"], false);
        app.patch("/api/v1/admin/profile", &json!({ "display_name": "New" }), bearer(&token))
            .await
            .problem(403, "tenant-inactive");
        app.post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "name": "E", "role": "engineer" }), bearer(&token))
            .await
            .problem(403, "tenant-inactive");
        let _ = provider;
    }
}
