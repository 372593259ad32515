//! SMS code rules: cool-down, daily cap, wrong tries, expiry, single use, same answer for
//! unknown mobiles. The clock moves; nothing sleeps.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn codes_cool_down_and_cap_per_day(app: TestApp) {
        let mobile = json!({ "mobile": "13800138000" });
        assert_eq!(app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.status, StatusCode::ACCEPTED);
        let again = app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await;
        again.problem(429, "rate-limited");
        let wait: i64 = again.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait));
        for _ in 0..9 {
            app.clock.advance(Duration::seconds(61));
            assert_eq!(app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.status, StatusCode::ACCEPTED);
        }
        app.clock.advance(Duration::seconds(61));
        app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.problem(429, "rate-limited");
        assert_eq!(app.sms_count("13800138000").await, 10);
        app.clock.advance(Duration::days(1));
        assert_eq!(app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.status, StatusCode::ACCEPTED);
    }

    async fn five_wrong_tries_burn_a_code(app: TestApp) {
        app.sign_up("acme", "13800138000").await;
        app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "13800138000" }), tenant("acme")).await;
        let code = app.last_code("13800138000").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            app.post("/api/v1/auth/staff/login", &json!({ "mobile": "13800138000", "code": wrong }), tenant("acme"))
                .await
                .problem(401, "invalid-credentials");
        }
        // Even the right code no longer works.
        app.post("/api/v1/auth/staff/login", &json!({ "mobile": "13800138000", "code": code }), tenant("acme"))
            .await
            .problem(401, "invalid-credentials");
    }

    async fn codes_expire_after_five_minutes(app: TestApp) {
        app.sign_up("acme", "13800138000").await;
        app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "13800138000" }), tenant("acme")).await;
        let code = app.last_code("13800138000").await;
        app.clock.advance(Duration::minutes(5) + Duration::seconds(1));
        app.post("/api/v1/auth/staff/login", &json!({ "mobile": "13800138000", "code": code }), tenant("acme"))
            .await
            .problem(401, "invalid-credentials");
    }

    async fn unknown_mobiles_get_the_same_answer_and_no_sms(app: TestApp) {
        app.sign_up("acme", "13800138000").await;
        let known = app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "13800138000" }), tenant("acme")).await;
        let unknown = app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "13700137000" }), tenant("acme")).await;
        assert_eq!(known.status, StatusCode::ACCEPTED);
        assert_eq!(unknown.status, StatusCode::ACCEPTED);
        assert_eq!(known.body, unknown.body);
        assert_eq!(app.sms_count("13700137000").await, 0);
        // The cool-down applies to unknown mobiles too, so it tells nothing.
        app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "13700137000" }), tenant("acme"))
            .await
            .problem(429, "rate-limited");
        app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "12345" }), tenant("acme"))
            .await
            .problem(422, "validation-failed");
    }
}

/// The `attempts` of every code sent to `mobile`, read directly in the database.
fn attempts_of(app: &TestApp, mobile: &str) -> Vec<i32> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Attempts {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    let db = baoxiu_store::Db::open(&app.db.url, 1).unwrap();
    db.read(|conn| -> Result<Vec<i32>, baoxiu_core::DomainError> {
        let rows: Vec<Attempts> = diesel::sql_query(format!(
            "SELECT attempts FROM sms_codes WHERE mobile = '{mobile}' ORDER BY created_at"
        ))
        .load(conn)?;
        Ok(rows.into_iter().map(|r| r.attempts).collect())
    })
    .unwrap()
}

backend_tests! {
    async fn parallel_wrong_guesses_count_exactly_five(app: TestApp) {
        app.sign_up("acme", "13800138000").await;
        let app = &app;
        let login = |code: String| async move {
            app.post("/api/v1/auth/staff/login", &json!({ "mobile": "13800138000", "code": code }), tenant("acme")).await
        };
        for (round, guesses) in [(1, 20), (2, 5)] {
            if round > 1 {
                app.clock.advance(Duration::seconds(61));
            }
            app.post("/api/v1/auth/staff/sms-code", &json!({ "mobile": "13800138000" }), tenant("acme")).await;
            let code = app.last_code("13800138000").await;
            let wrong = if code == "000000" { "111111" } else { "000000" };
            let answers = futures_util::future::join_all((0..guesses).map(|_| login(wrong.to_owned()))).await;
            for answer in &answers {
                answer.problem(401, "invalid-credentials");
            }
            // Every guess sent side by side counted, up to the cap and not past it.
            assert_eq!(attempts_of(app, "13800138000").last(), Some(&5), "round {round}");
            // So the right code, sent after them, finds no try left.
            login(code).await.problem(401, "invalid-credentials");
        }
    }

    async fn a_burst_of_sends_to_one_mobile_delivers_one(app: TestApp) {
        let mobile = json!({ "mobile": "13800138000" });
        let burst = (0..5).map(|_| app.post("/api/v1/providers/sms-code", &mobile, Opts::default()));
        let answers = futures_util::future::join_all(burst).await;
        let sent = answers.iter().filter(|a| a.status == StatusCode::ACCEPTED).count();
        assert_eq!(sent, 1, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
        for refused in answers.iter().filter(|a| a.status != StatusCode::ACCEPTED) {
            refused.problem(429, "rate-limited");
        }
        assert_eq!(app.sms_count("13800138000").await, 1);
    }
}
