//! Background jobs through the app: the admin's list (tenant-filtered, by status), and the
//! hourly clean-ups, which delete expired refresh tokens and SMS codes that no send limit
//! counts any more, and nothing else. The clock moves; waits poll the queue.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

async fn list(app: &TestApp, query: &str, token: &str) -> Answer {
    app.get(&format!("/api/v1/admin/jobs{query}"), bearer(token))
        .await
}

backend_tests! {
    async fn expired_tokens_and_old_codes_are_cleaned_up_hourly(app: TestApp) {
        let acme = app.sign_up("acme", "13800138000").await;
        // Ten codes to one mobile within ten minutes: its daily cap.
        let mobile = json!({ "mobile": "13900139000" });
        for _ in 0..10 {
            assert_eq!(app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.status, StatusCode::ACCEPTED);
            app.advance_clock(Duration::seconds(61));
        }
        assert_eq!(app.count_rows("sms_codes"), 11, "ten, and the sign-up's");

        // An hour on, the clean-ups have run: the codes have expired but still count.
        app.advance_clock(Duration::hours(1));
        app.periodic_jobs_done().await;
        assert_eq!(app.count_rows("sms_codes"), 11);
        app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.problem(429, "rate-limited");
        assert_eq!(app.count_rows("refresh_tokens"), 1);

        // A day on, they count no more and are gone; the cap has moved on with them.
        app.advance_clock(Duration::days(1));
        app.periodic_jobs_done().await;
        assert_eq!(app.count_rows("sms_codes"), 0);
        assert_eq!(app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.status, StatusCode::ACCEPTED);
        let later = app.login("acme", "13800138000", PASSWORD).await;
        assert_eq!(later.status, StatusCode::OK, "{}", later.text);
        assert_eq!(app.count_rows("refresh_tokens"), 2);

        // Thirty days after sign-up its refresh token has expired and goes; the later
        // login's stays and still refreshes.
        app.advance_clock(Duration::days(29));
        app.periodic_jobs_done().await;
        assert_eq!(app.count_rows("refresh_tokens"), 1);
        app.post("/api/v1/auth/refresh", &json!({ "refresh_token": acme.refresh }), Opts::default())
            .await
            .problem(401, "unauthenticated");
        let refreshed = app
            .post("/api/v1/auth/refresh", &json!({ "refresh_token": later.body["refresh_token"] }), Opts::default())
            .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
        // The clean-ups are the platform's: no tenant lists them.
        assert_eq!(list(&app, "", refreshed.body["access_token"].as_str().unwrap()).await.body["items"], json!([]));
    }
}

async fn admins_list_their_tenants_jobs(backend: baoxiu_store::Backend) {
    // No runner in the process: the job waits in the queue.
    let app = TestApp::spawn_with(backend, |config| config.jobs.in_process = false).await;
    let runner = baoxiu_api::jobs::runner(&app.state).unwrap();
    let sign_up = |slug: &'static str, mobile: &'static str| {
        let (app, runner) = (&app, &runner);
        async move {
            let sent = app
                .post(
                    "/api/v1/providers/sms-code",
                    &json!({ "mobile": mobile }),
                    Opts::default(),
                )
                .await;
            assert_eq!(sent.status, StatusCode::ACCEPTED);
            runner.run_until_idle().await.unwrap();
            let code = app.last_code(mobile).await;
            let answer = app
                .post(
                    "/api/v1/providers",
                    &json!({ "mobile": mobile, "code": code, "provider_name": slug, "password": PASSWORD, "slug": slug }),
                    Opts::default(),
                )
                .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
            answer.body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let acme = sign_up("acme", "13800138000").await;
    let other = sign_up("other", "13800138001").await;
    let sent = app
        .post(
            "/api/v1/auth/staff/sms-code",
            &json!({ "mobile": "13800138000" }),
            tenant("acme"),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED);

    let all = list(&app, "", &acme).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", all.text);
    assert_eq!(items[0]["kind"], "sms.deliver");
    assert_eq!(items[0]["status"], "queued");
    assert_eq!(items[0]["attempts"], 0);
    assert_eq!(items[0]["last_error"], serde_json::Value::Null);
    assert!(items[0].get("payload").is_none(), "never the payload");
    assert_eq!(
        list(&app, "?status=queued", &acme).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        list(&app, "?status=dead", &acme).await.body["items"],
        json!([])
    );
    assert_eq!(
        list(&app, "", &other).await.body["items"],
        json!([]),
        "another tenant's"
    );
    let bad = list(&app, "?status=failed", &acme).await;
    bad.problem(422, "validation-failed");
    let paged = list(&app, "?limit=0", &acme).await;
    paged.problem(422, "validation-failed");

    runner.run_until_idle().await.unwrap();
    assert_eq!(
        list(&app, "", &acme).await.body["items"],
        json!([]),
        "done jobs are gone"
    );
}

#[actix_web::test]
async fn admins_list_their_tenants_jobs_sqlite() {
    admins_list_their_tenants_jobs(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn admins_list_their_tenants_jobs_postgres() {
    admins_list_their_tenants_jobs(baoxiu_store::Backend::Postgres).await;
}
