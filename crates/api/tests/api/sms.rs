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
