//! Hostile and careless callers: every bad input answers problem+json with a fitting
//! status, and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn bad_bodies_answer_problems_and_change_nothing(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let opts = bearer(&provider.access);
        let staff_before = app.count_rows("staff_users");
        let audit_before = app.count_rows("audit_log");

        // Malformed JSON.
        let malformed = app.post_raw("/api/v1/admin/staff", "application/json", b"{\"mobile\": ".to_vec(), opts.clone()).await;
        malformed.problem(400, "malformed-request");
        // Not JSON at all.
        let form = app.post_raw("/api/v1/admin/staff", "application/x-www-form-urlencoded", b"mobile=1".to_vec(), opts.clone()).await;
        form.problem(415, "unsupported-media-type");
        // An unknown field (no sneaking in tenant_id).
        let unknown = app
            .post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "name": "E", "role": "engineer", "tenant_id": "other" }), opts.clone())
            .await;
        unknown.problem(422, "validation-failed");
        assert_eq!(unknown.error_fields(), ["tenant_id"]);
        assert_eq!(unknown.body["errors"][0]["code"], "unknown_field");
        // Wrong types.
        let typed = app.post("/api/v1/admin/staff", &json!({ "mobile": 13900139000u64, "name": "E", "role": "engineer" }), opts.clone()).await;
        typed.problem(422, "validation-failed");
        assert_eq!(typed.error_fields(), ["mobile"]);
        // An unknown enum value.
        let role = app.post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "name": "E", "role": "king" }), opts.clone()).await;
        role.problem(422, "validation-failed");
        assert_eq!(role.error_fields(), ["role"]);
        // A missing field.
        let missing = app.post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "role": "engineer" }), opts.clone()).await;
        missing.problem(422, "validation-failed");
        assert_eq!(missing.error_fields(), ["name"]);
        // A body over the limit (64 KiB).
        let huge = json!({ "mobile": "13900139000", "name": "x".repeat(70 * 1024), "role": "engineer" });
        let oversize = app.post("/api/v1/admin/staff", &huge, opts.clone()).await;
        oversize.problem(413, "payload-too-large");
        // A bad query parameter.
        app.get("/api/v1/admin/staff?limit=1000", opts.clone()).await.problem(422, "validation-failed");
        app.get("/api/v1/admin/staff?limit=abc", opts.clone()).await.problem(422, "validation-failed");
        app.get("/api/v1/admin/staff?cursor=garbage!", opts.clone()).await.problem(422, "validation-failed");

        assert_eq!(app.count_rows("staff_users"), staff_before);
        assert_eq!(app.count_rows("audit_log"), audit_before);
    }

    async fn bad_and_expired_tokens_are_refused(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        // No token, a malformed header, garbage, a token signed with another key.
        app.get("/api/v1/admin/profile", Opts::default()).await.problem(401, "unauthenticated");
        let basic = app.client.get(format!("{}/api/v1/admin/profile", app.base)).header("Authorization", "Basic abc").send().await.unwrap();
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(basic.headers().get("www-authenticate").unwrap(), "Bearer");
        app.get("/api/v1/admin/profile", bearer("not-a-jwt")).await.problem(401, "unauthenticated");
        let mut parts: Vec<String> = provider.access.split('.').map(str::to_owned).collect();
        parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
        app.get("/api/v1/admin/profile", bearer(&parts.join("."))).await.problem(401, "unauthenticated");
        // alg "none" with the same claims.
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", provider.access.split('.').nth(1).unwrap());
        app.get("/api/v1/admin/profile", bearer(&none)).await.problem(401, "unauthenticated");
        // Expired: 15 minutes on.
        assert_eq!(app.get("/api/v1/admin/profile", bearer(&provider.access)).await.status, StatusCode::OK);
        app.clock.advance(chrono::Duration::minutes(16));
        let expired = app.get("/api/v1/admin/profile", bearer(&provider.access)).await;
        expired.problem(401, "unauthenticated");
        assert!(expired.body["detail"].as_str().unwrap().contains("expired"));
        // Writes with a forged or an expired token change nothing.
        let audit_entries = app.count_rows("audit_log");
        for token in [parts.join("."), none.clone(), provider.access.clone()] {
            app.patch("/api/v1/admin/profile", &json!({ "display_name": "Hijacked" }), bearer(&token))
                .await
                .problem(401, "unauthenticated");
            app.post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "name": "Mole", "role": "admin" }), bearer(&token))
                .await
                .problem(401, "unauthenticated");
        }
        assert_eq!(app.count_rows("staff_users"), 1);
        assert_eq!(app.count_rows("audit_log"), audit_entries);
        // The refresh token still renews the session.
        let renewed = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": provider.refresh }), Opts::default()).await;
        assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
        let fresh = renewed.body["access_token"].as_str().unwrap();
        let profile = app.get("/api/v1/admin/profile", bearer(fresh)).await;
        assert_ne!(profile.body["display_name"], "Hijacked");
    }

    async fn tenants_are_named_or_refused(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        app.sign_up("other", "13900139000").await;
        // No tenant named.
        app.post("/api/v1/auth/staff/login", &json!({ "mobile": "13800138000", "password": PASSWORD }), Opts::default())
            .await
            .problem(400, "tenant-required");
        // An unknown tenant.
        app.login("nobody", "13800138000", PASSWORD).await.problem(404, "not-found");
        // The wrong tenant: acme's admin is not other's staff.
        app.login("other", "13800138000", PASSWORD).await.problem(401, "invalid-credentials");
        // A wrong password and an unknown mobile answer the same.
        let wrong = app.login("acme", "13800138000", "wrong-password").await;
        wrong.problem(401, "invalid-credentials");
        let unknown = app.login("acme", "13700137000", PASSWORD).await;
        unknown.problem(401, "invalid-credentials");
        assert_eq!(wrong.body["detail"], unknown.body["detail"]);
        // With a token, the token's tenant, whatever X-Tenant says.
        let public = app
            .get("/api/v1/provider", Opts { token: Some(&provider.access), tenant: Some("other"), ..Opts::default() })
            .await;
        assert_eq!(public.body["slug"], "acme");
    }

    async fn staff_roles_decide_admin_routes(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let (_, engineer) = app.add_staff(&provider.access, "acme", "13900139000", "engineer").await;
        let forbidden = app.get("/api/v1/admin/staff", bearer(&engineer)).await;
        forbidden.problem(403, "forbidden");
        app.patch("/api/v1/admin/settings", &json!({ "ratings_enabled": false }), bearer(&engineer))
            .await
            .problem(403, "forbidden");
        app.get("/api/v1/admin/audit-log", bearer(&engineer)).await.problem(403, "forbidden");
        // The engineer can still see who they are.
        let me = app.get("/api/v1/me", bearer(&engineer)).await;
        assert_eq!(me.body["staff"]["role"], "engineer");
    }

    async fn unknown_routes_and_request_ids(app: TestApp) {
        let missing = app.get("/api/v1/no-such-thing", Opts::default()).await;
        missing.problem(404, "not-found");
        assert_eq!(missing.body["instance"], "/api/v1/no-such-thing");
        assert_eq!(missing.header("x-request-id"), missing.body["request_id"].as_str());
        // A sane incoming request id is kept.
        let answer = app
            .client
            .get(format!("{}/healthz/live", app.base))
            .header("X-Request-Id", "trace-123")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers().get("x-request-id").unwrap(), "trace-123");
    }

    async fn a_method_a_path_lacks_answers_405_with_allow(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let cases = [
            (reqwest::Method::PUT, "/api/v1/admin/staff".to_owned(), "GET, POST"),
            (reqwest::Method::PUT, format!("/api/v1/admin/staff/{}", provider.admin_id), "GET, PATCH, DELETE"),
            (reqwest::Method::DELETE, "/healthz/live".to_owned(), "GET"),
            (reqwest::Method::GET, "/api/v1/auth/refresh".to_owned(), "POST"),
            // The literal path's methods, not those of `/terminal-users/{id}` beside it.
            (reqwest::Method::PUT, "/api/v1/admin/terminal-users/activations".to_owned(), "POST"),
        ];
        for (method, path, allow) in cases {
            let answer = app.call(method.clone(), &path, None, bearer(&provider.access)).await;
            answer.problem(405, "method-not-allowed");
            assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
        }
        // A path that does not exist at all is still 404, whatever the method.
        app.call(reqwest::Method::PUT, "/api/v1/admin/nothing", None, bearer(&provider.access))
            .await
            .problem(404, "not-found");
        // Nothing changed: the admin is still there.
        let me = app.get(&format!("/api/v1/admin/staff/{}", provider.admin_id), bearer(&provider.access)).await;
        assert_eq!(me.status, StatusCode::OK);
    }
}
