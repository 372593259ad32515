//! Limits on the unauthenticated routes: a client's wrong passwords pause only that
//! client (a larger cap pauses the mobile for everyone), old failure rows go, each client
//! and all clients together have a request rate, and password hashes beyond the bound
//! answer 503 at once. Clients are told apart by `X-Forwarded-For` from a trusted proxy
//! (the tests' loopback address), as behind a load balancer.

use baoxiu_api::config::Config;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// Like `backend_tests!`, for tests that start the app with a configuration of their own.
macro_rules! configured_tests {
    ($($name:ident($adjust:expr) |$app:ident| $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($app: TestApp) $body

                #[actix_web::test]
                async fn sqlite() {
                    run(TestApp::spawn_with(baoxiu_store::Backend::Sqlite, $adjust).await).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    run(TestApp::spawn_with(baoxiu_store::Backend::Postgres, $adjust).await).await;
                }
            }
        )*
    };
}

fn behind_a_proxy(config: &mut Config) {
    config.trusted_proxies = vec!["127.0.0.0/8".into()];
}

/// POSTs `body` to `path` as the client `client` (named by the trusted proxy).
async fn post_from(app: &TestApp, client: &str, path: &str, body: &serde_json::Value) -> Answer {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .header("X-Tenant", "acme")
        .header("X-Forwarded-For", client)
        .json(body)
        .send()
        .await
        .unwrap();
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

async fn login_from(app: &TestApp, client: &str, mobile: &str, password: &str) -> Answer {
    post_from(
        app,
        client,
        "/api/v1/auth/staff/login",
        &json!({ "mobile": mobile, "password": password }),
    )
    .await
}

const ATTACKER: &str = "203.0.113.66";
const ENGINEER: &str = "13700137000";

configured_tests! {
    one_client_cannot_pause_another_clients_password_login(behind_a_proxy) |app| {
        let provider = app.sign_up("acme", "13800138000").await;
        app.add_staff(&provider.access, "acme", ENGINEER, "engineer").await;
        for _ in 0..5 {
            login_from(&app, ATTACKER, ENGINEER, "a-guess").await.problem(401, "invalid-credentials");
        }
        // The guessing client is paused, even with the right password...
        let paused = login_from(&app, ATTACKER, ENGINEER, PASSWORD).await;
        paused.problem(429, "rate-limited");
        assert_eq!(paused.header("retry-after"), Some("900"));
        // ...but the engineer, from their own address, still logs in.
        let own = login_from(&app, "198.51.100.20", ENGINEER, PASSWORD).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text);
        login_from(&app, ATTACKER, ENGINEER, PASSWORD).await.problem(429, "rate-limited");
    }

    a_mobile_pauses_for_everyone_at_the_larger_cap(|config: &mut Config| {
        behind_a_proxy(config);
        config.limits.password_failures_per_mobile = 8;
    }) |app| {
        let provider = app.sign_up("acme", "13800138000").await;
        app.add_staff(&provider.access, "acme", ENGINEER, "engineer").await;
        // Eight wrong passwords from four addresses, none of which is paused on its own.
        for client in 1..=4 {
            for _ in 0..2 {
                login_from(&app, &format!("203.0.113.{client}"), ENGINEER, "a-guess").await.problem(401, "invalid-credentials");
            }
        }
        // Now the mobile pauses for every client, its owner's too.
        let paused = login_from(&app, "198.51.100.20", ENGINEER, PASSWORD).await;
        paused.problem(429, "rate-limited");
        assert_eq!(paused.header("retry-after"), Some("900"));
        app.clock.advance(Duration::minutes(15));
        assert_eq!(login_from(&app, "198.51.100.20", ENGINEER, PASSWORD).await.status, StatusCode::OK);
    }

    old_failure_rows_are_purged_when_new_ones_are_written(|_: &mut Config| {}) |app| {
        app.sign_up("acme", "13800138000").await;
        // Each unknown mobile leaves a row: it must not stay for ever.
        for i in 0..5 {
            app.login("acme", &format!("1390013900{i}"), "a-guess").await.problem(401, "invalid-credentials");
        }
        assert_eq!(app.count_rows("password_failures"), 5);
        app.clock.advance(Duration::minutes(16));
        app.login("acme", "13900139009", "a-guess").await.problem(401, "invalid-credentials");
        assert_eq!(app.count_rows("password_failures"), 1, "only the row still in its window");
    }

    the_auth_routes_limit_each_client_and_all_clients(|config: &mut Config| {
        behind_a_proxy(config);
        config.limits.auth_per_ip_burst = 3;
        config.limits.auth_per_ip_per_minute = 1;
        config.limits.auth_global_burst = 6;
        config.limits.auth_global_per_minute = 1;
    }) |app| {
        let refresh = json!({ "refresh_token": "not-a-token" });
        for _ in 0..3 {
            post_from(&app, "203.0.113.1", "/api/v1/auth/refresh", &refresh).await.problem(401, "unauthenticated");
        }
        let limited = post_from(&app, "203.0.113.1", "/api/v1/auth/refresh", &refresh).await;
        limited.problem(429, "rate-limited");
        let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        // The SMS routes count too.
        post_from(&app, "203.0.113.1", "/api/v1/providers/sms-code", &json!({ "mobile": "13800138000" }))
            .await
            .problem(429, "rate-limited");
        // Another client has its own allowance...
        for _ in 0..3 {
            post_from(&app, "203.0.113.2", "/api/v1/auth/refresh", &refresh).await.problem(401, "unauthenticated");
        }
        // ...until all clients together have used the node's.
        post_from(&app, "203.0.113.3", "/api/v1/auth/refresh", &refresh).await.problem(429, "rate-limited");
        // Other routes are not limited.
        assert_eq!(app.get("/healthz/live", Opts::default()).await.status, StatusCode::OK);
        app.get("/api/v1/provider", tenant("nobody")).await.problem(404, "not-found");
    }

    password_logins_beyond_the_hash_bound_answer_503_at_once(|config: &mut Config| {
        config.limits.password_hashes = 1;
        config.limits.password_hash_queue = 1;
    }) |app| {
        let provider = app.sign_up("acme", "13800138000").await;
        // Two logins hold the two places (one hashing, one waiting)...
        let running = app.state.password_hashing.try_admit().unwrap();
        let waiting = app.state.password_hashing.try_admit().unwrap();
        // ...so a third is refused, with no queue to wait in, whoever it is.
        for mobile in [provider.admin_mobile.as_str(), "13900139000"] {
            let refused = app.login("acme", mobile, PASSWORD).await;
            refused.problem(503, "service-unavailable");
            assert_eq!(refused.header("retry-after"), Some("1"));
        }
        // Nothing was counted against the mobile, and once a place is free it logs in.
        assert_eq!(app.count_rows("password_failures"), 0);
        drop(running);
        assert_eq!(app.login("acme", &provider.admin_mobile, PASSWORD).await.status, StatusCode::OK);
        drop(waiting);
        // A burst beyond the bound: every login is answered, each a 401 or a quick 503.
        let mobiles: Vec<String> = (0..6).map(|i| format!("1390013900{i}")).collect();
        let burst = mobiles.iter().map(|mobile| app.login("acme", mobile, "a-guess"));
        for answer in futures_util::future::join_all(burst).await {
            assert!([401, 503].contains(&answer.status.as_u16()), "{}", answer.text);
        }
    }
}
