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
        // Each code is delivered before the clock moves on: ten minutes on, the first ones
        // have expired, and an expired code is not sent.
        for sent in 1..10 {
            assert_eq!(app.sms_count("13800138000").await, sent);
            app.clock.advance(Duration::seconds(61));
            assert_eq!(app.post("/api/v1/providers/sms-code", &mobile, Opts::default()).await.status, StatusCode::ACCEPTED);
        }
        assert_eq!(app.sms_count("13800138000").await, 10);
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

/// Asks for a terminal login code for `mobile` in `slug`, from `forwarded_for` when given.
async fn send_code_from(
    app: &TestApp,
    slug: Option<&str>,
    mobile: &str,
    forwarded_for: Option<&str>,
) -> Answer {
    let path = match slug {
        Some(_) => "/api/v1/auth/sms-code",
        None => "/api/v1/providers/sms-code",
    };
    let mut request = app
        .client
        .post(format!("{}{path}", app.base))
        .json(&json!({ "mobile": mobile }));
    if let Some(slug) = slug {
        request = request.header("X-Tenant", slug);
    }
    if let Some(client) = forwarded_for {
        request = request.header("X-Forwarded-For", client);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or_default(),
        text,
    }
}

backend_tests! {
    async fn the_per_address_cap_counts_across_tenants_and_ignores_forwarded_headers(app: TestApp) {
        // The sign-up's own code is the address's first send of the hour.
        app.sign_up("acme", "13800138000").await;
        for i in 0..29 {
            // A client cannot name another address: without trusted proxies the header is ignored.
            let forged = format!("198.51.100.{i}");
            let sent = send_code_from(&app, None, &format!("1370013{i:04}"), Some(&forged)).await;
            assert_eq!(sent.status, StatusCode::ACCEPTED, "send {i}: {}", sent.text);
        }
        // Thirty from this address within the hour, whichever tenant they were for.
        let refused = send_code_from(&app, Some("acme"), "13900139000", Some("198.51.100.200")).await;
        refused.problem(429, "rate-limited");
        let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((3000..=3600).contains(&wait), "{wait}");
        assert_eq!(app.sms_count("13900139000").await, 0);
        app.clock.advance(Duration::hours(1));
        assert_eq!(send_code_from(&app, Some("acme"), "13900139000", None).await.status, StatusCode::ACCEPTED);
    }

    async fn a_mobile_gets_at_most_twenty_codes_a_day_from_all_tenants(app: TestApp) {
        for (slug, admin) in [("one", "13800138001"), ("two", "13800138002"), ("three", "13800138003")] {
            app.sign_up(slug, admin).await;
        }
        let victim = "13700137000";
        for slug in ["one", "two"] {
            for _ in 0..10 {
                app.clock.advance(Duration::seconds(61));
                let sent = send_code_from(&app, Some(slug), victim, None).await;
                assert_eq!(sent.status, StatusCode::ACCEPTED, "{slug}: {}", sent.text);
                // Delivered before the clock moves on: a code whose delivery runs after it
                // expired is never sent (under load the runner can lag that far behind).
                app.jobs_done().await;
            }
            app.clock.advance(Duration::seconds(61));
            send_code_from(&app, Some(slug), victim, None).await.problem(429, "rate-limited");
        }
        // A third tenant adds nothing: the mobile has had its twenty for the day.
        app.clock.advance(Duration::seconds(61));
        let refused = send_code_from(&app, Some("three"), victim, None).await;
        refused.problem(429, "rate-limited");
        assert_eq!(app.sms_count(victim).await, 20);
        // Another mobile is not affected, and the day passes.
        assert_eq!(send_code_from(&app, Some("three"), "13700137001", None).await.status, StatusCode::ACCEPTED);
        app.clock.advance(Duration::days(1));
        assert_eq!(send_code_from(&app, Some("three"), victim, None).await.status, StatusCode::ACCEPTED);
    }
}

/// Behind a load balancer every request comes from its address: with the balancer among
/// `trusted_proxies`, the cap counts the client it names in `X-Forwarded-For`.
mod behind_a_trusted_proxy_the_cap_is_per_forwarded_client {
    use super::*;

    async fn run(backend: baoxiu_store::Backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.trusted_proxies = vec!["127.0.0.0/8".into()];
        })
        .await;
        for i in 0..30 {
            // The balancer appends the address it saw; what the client wrote is left of it.
            let chain = "10.9.9.9, 203.0.113.7";
            let sent = send_code_from(&app, None, &format!("1370013{i:04}"), Some(chain)).await;
            assert_eq!(sent.status, StatusCode::ACCEPTED, "send {i}: {}", sent.text);
        }
        send_code_from(&app, None, "13900139000", Some("203.0.113.7"))
            .await
            .problem(429, "rate-limited");
        // Other clients behind the same balancer still get their codes.
        let other = send_code_from(&app, None, "13900139000", Some("203.0.113.8")).await;
        assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);
    }

    #[actix_web::test]
    async fn sqlite() {
        run(baoxiu_store::Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn postgres() {
        run(baoxiu_store::Backend::Postgres).await;
    }
}
