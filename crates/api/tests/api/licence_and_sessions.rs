//! Seats are the platform's to set; guest sessions end with guest access; sessions have an
//! absolute lifetime; the shared Mini Program serves only tenants without their own
//! (issue 9, items 7, 13, 19).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::*;

async fn seats(app: &TestApp, admin: &str) -> i64 {
    let policy = app
        .get("/api/v1/admin/registration-policy", bearer(admin))
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
    policy.body["seats"].as_i64().unwrap()
}

backend_tests! {
    async fn a_tenant_cannot_set_its_own_seats(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access.clone();
        let own = app
            .call(reqwest::Method::PUT, "/api/v1/admin/registration-policy",
                Some(&json!({ "guest_enabled": false, "guest_account_id": null, "guest_contact_id": null,
                    "require_account_on_work_orders": false, "invitation_required": false, "seats": 1_000_000 })),
                bearer(&admin))
            .await;
        assert!(own.status.is_client_error(), "{}", own.text);
        assert_eq!(own.header("content-type"), Some("application/problem+json"));
        assert_eq!(seats(&app, &admin).await, 100, "unchanged");
        // Admin tokens do not reach the platform route.
        app.call(reqwest::Method::PUT, &format!("/api/v1/platform/tenants/{}/seats", provider.tenant_id), Some(&json!({ "seats": 5 })), bearer(&admin))
            .await
            .problem(403, "forbidden");
        assert_eq!(seats(&app, &admin).await, 100);

        // The platform operator sets them; the tenant's audit log says so.
        set_seats(&app, &provider.tenant_id, 7).await;
        assert_eq!(seats(&app, &admin).await, 7);
        let log = app.get("/api/v1/admin/audit-log?action=registration_policy.set_seats", bearer(&admin)).await;
        assert_eq!(log.body["items"][0]["actor_kind"], "platform", "{}", log.text);
        let operator = platform_token(&app);
        let out_of_range = app.call(reqwest::Method::PUT, &format!("/api/v1/platform/tenants/{}/seats", provider.tenant_id), Some(&json!({ "seats": -1 })), bearer(&operator)).await;
        out_of_range.problem(422, "validation-failed");
        assert_eq!(out_of_range.error_fields(), ["seats"]);
        app.call(reqwest::Method::PUT, "/api/v1/platform/tenants/no-such-tenant/seats", Some(&json!({ "seats": 5 })), bearer(&operator))
            .await
            .problem(404, "not-found");
        assert_eq!(seats(&app, &admin).await, 7);
    }

    async fn switching_guests_off_ends_guest_sessions(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let (account, contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": account, "guest_contact_id": contact })).await;
        let login = app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        let access = access_of(&login);
        let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(app.get("/api/v1/devices", bearer(&access)).await.status, StatusCode::OK);

        put_policy(&app, &admin, json!({ "guest_enabled": false })).await;
        app.get("/api/v1/devices", bearer(&access)).await.problem(401, "unauthenticated");
        app.get("/api/v1/me", bearer(&access)).await.problem(401, "unauthenticated");
        let renewed = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }), Opts::default()).await;
        assert_eq!(renewed.status, StatusCode::UNAUTHORIZED, "{}", renewed.text);
        app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await.problem(403, "guest-disabled");
    }

    async fn a_session_ends_ninety_days_after_login_however_often_it_is_renewed(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let mut refresh = provider.refresh.clone();
        // Renewed every 29 days: each renewal is within the 30-day idle limit...
        for _ in 0..3 {
            app.clock.advance(chrono::Duration::days(29));
            let renewed = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }), Opts::default()).await;
            assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
            refresh = renewed.body["refresh_token"].as_str().unwrap().to_owned();
        }
        // ...but day 91 is past the session's absolute lifetime.
        app.clock.advance(chrono::Duration::days(4));
        let late = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }), Opts::default()).await;
        late.problem(401, "unauthenticated");
        // A fresh login starts a new session.
        let again = app.login("acme", "13800138000", PASSWORD).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    }
}

/// With a shared public Mini Program configured, a tenant that bound its own Mini Program
/// is not reachable through the shared one; a tenant without one is.
async fn the_shared_mini_program_serves_tenants_without_their_own(backend: baoxiu_store::Backend) {
    const PUBLIC: &str = "wxpublic00000001";
    let app = TestApp::spawn_with(backend, |config| {
        config.wechat.public_app_id = Some(PUBLIC.into());
        config.wechat.public_app_secret = Some("public-secret".into());
    })
    .await;
    let admin = tenant_with_app(&app).await.access;
    add_method(&app, &admin, "openid_auto", false, "exact").await;
    let other = app.sign_up("beta", "13800138001").await;
    add_method(&app, &other.access, "openid_auto", false, "exact").await;
    let through_public = |slug: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/wechat/mini-program",
                &json!({ "app_id": PUBLIC, "code": "someone" }),
                tenant(slug),
            )
            .await
        }
    };
    let refused = through_public("acme").await;
    refused.problem(422, "validation-failed");
    assert_eq!(refused.error_fields(), ["app_id"]);
    assert_eq!(
        app.count_rows("terminal_users"),
        0,
        "nobody was created for acme"
    );
    let served = through_public("beta").await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text);
    // acme's own program still logs in.
    assert_eq!(wx_login(&app, "someone").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn the_shared_mini_program_serves_tenants_without_their_own_sqlite() {
    the_shared_mini_program_serves_tenants_without_their_own(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn the_shared_mini_program_serves_tenants_without_their_own_postgres() {
    the_shared_mini_program_serves_tenants_without_their_own(baoxiu_store::Backend::Postgres).await;
}
