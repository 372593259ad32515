//! `Idempotency-Key` on the creating routes: a retry with the same key and body answers the
//! first answer again (same status and body, `Idempotent-Replayed: true`) and creates
//! nothing; the same key with another body answers 422 naming `Idempotency-Key`; the same
//! key while the first request runs answers 409; keys are the caller's own and go after
//! 24 hours (the periodic clean-up). Also: per-tenant counters taken at once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{access_of, add_method, tenant_with_app, wx_login};

#[derive(Debug)]
struct Keyed {
    status: StatusCode,
    replayed: bool,
    body: Value,
    text: String,
}

async fn post_keyed(app: &TestApp, path: &str, body: &Value, token: &str, key: &str) -> Keyed {
    let answer = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .body(serde_json::to_vec(body).unwrap())
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let replayed = answer
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let text = answer.text().await.unwrap();
    Keyed {
        status,
        replayed,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn problem_field(answer: &Keyed) -> String {
    answer.body["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

backend_tests! {
    async fn a_retry_with_the_same_key_creates_once_and_answers_the_same(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = provider.access.clone();
        let device = json!({ "name": "CT 机", "brand": "GE" });
        let first = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "create-ct-1").await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert!(!first.replayed);
        // The answer got lost; the client retries: the same answer, no second device.
        let retry = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "create-ct-1").await;
        assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
        assert!(retry.replayed);
        assert_eq!(retry.text, first.text);
        assert_eq!(app.count_rows("devices"), 1);
        // The same key for another body: refused, nothing created.
        let other = post_keyed(&app, "/api/v1/admin/devices", &json!({ "name": "MRI" }), &admin, "create-ct-1").await;
        assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.text);
        assert_eq!(problem_field(&other), "Idempotency-Key");
        assert_eq!(app.count_rows("devices"), 1);
        // A new key is a new request; no key at all, as before.
        assert_eq!(post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "create-ct-2").await.status, StatusCode::CREATED);
        assert_eq!(app.post("/api/v1/admin/devices", &device, bearer(&admin)).await.status, StatusCode::CREATED);
        assert_eq!(app.count_rows("devices"), 3);
        // A key that is no key.
        let bad = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, &"k".repeat(256)).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert_eq!(problem_field(&bad), "Idempotency-Key");
        assert_eq!(app.count_rows("devices"), 3);

        // Accounts and contacts likewise.
        let account = json!({ "name": "广州某某医院" });
        let made = post_keyed(&app, "/api/v1/admin/accounts", &account, &admin, "acct").await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let again = post_keyed(&app, "/api/v1/admin/accounts", &account, &admin, "acct").await;
        assert!(again.replayed);
        assert_eq!(again.body["id"], made.body["id"]);
        assert_eq!(app.count_rows("accounts"), 1);
        let contacts = format!("/api/v1/admin/accounts/{}/contacts", made.body["id"].as_str().unwrap());
        let contact = json!({ "name": "张三", "mobile": "13900139001" });
        let added = post_keyed(&app, &contacts, &contact, &admin, "contact").await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        let again = post_keyed(&app, &contacts, &contact, &admin, "contact").await;
        assert!(again.replayed);
        assert_eq!((again.status, &again.text), (added.status, &added.text));
        assert_eq!(app.count_rows("contacts"), 1);
        // The same key on another route is another request.
        let elsewhere = post_keyed(&app, "/api/v1/admin/devices", &account, &admin, "acct").await;
        assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", elsewhere.text);
        assert_eq!(problem_field(&elsewhere), "Idempotency-Key");

        // Keys are the caller's own: another admin's same key is theirs.
        let (_, other_admin) = app.add_staff(&admin, "acme", "13900139077", "admin").await;
        let theirs = post_keyed(&app, "/api/v1/admin/devices", &device, &other_admin, "create-ct-1").await;
        assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
        assert!(!theirs.replayed);
        assert_eq!(app.count_rows("devices"), 4);

        // A day on, the clean-up has deleted the keys: the key runs again.
        let keys = app.count_rows("idempotency_keys");
        assert!(keys >= 5, "{keys}");
        app.advance_clock(chrono::Duration::hours(25));
        app.periodic_jobs_done().await;
        assert_eq!(app.count_rows("idempotency_keys"), 0);
        let admin = app.login("acme", "13800138000", PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
        let later = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "create-ct-1").await;
        assert_eq!(later.status, StatusCode::CREATED, "{}", later.text);
        assert!(!later.replayed);
        assert_eq!(app.count_rows("devices"), 5);
    }

    async fn a_key_in_flight_answers_409_and_refusals_are_kept(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = provider.access.clone();
        let device = json!({ "name": "CT 机" });
        // A request with the key is running (claimed, not answered yet).
        let mut fingerprint = Sha256::new();
        fingerprint.update(b"POST /api/v1/admin/devices\n");
        fingerprint.update(serde_json::to_vec(&device).unwrap());
        let owner = baoxiu_store::idempotency::KeyOwner {
            tenant_id: provider.tenant_id.clone(),
            principal_id: provider.admin_id.clone(),
            key: "running".into(),
        };
        let now = baoxiu_core::Clock::now(&app.clock).naive_utc();
        let claimed = app
            .state
            .db
            .write(|conn| -> Result<_, baoxiu_core::DomainError> {
                Ok(baoxiu_store::idempotency::claim(conn, &owner, &hex::encode(fingerprint.finalize()), now)?)
            })
            .unwrap();
        assert_eq!(claimed, baoxiu_store::idempotency::Claim::Fresh);
        let busy = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "running").await;
        assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.text);
        assert_eq!(app.count_rows("devices"), 0);
        // Its process died: after the lease, a retry runs.
        app.advance_clock(chrono::Duration::minutes(2));
        let retried = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "running").await;
        assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
        assert_eq!(app.count_rows("devices"), 1);

        // A refusal a retry cannot change is kept: the same 422 again.
        let invalid = json!({ "name": "" });
        let refused = post_keyed(&app, "/api/v1/admin/devices", &invalid, &admin, "bad").await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        let again = post_keyed(&app, "/api/v1/admin/devices", &invalid, &admin, "bad").await;
        assert_eq!((again.status, again.replayed), (StatusCode::UNPROCESSABLE_ENTITY, true));
    }

    async fn a_registration_retried_with_its_key_is_one_registration(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        add_method(&app, &provider.access, "openid_auto", false, "exact").await;
        let token = access_of(&wx_login(&app, "alice").await);
        let mobile = "13900139010";
        let sent = app.post("/api/v1/auth/sms-code", &json!({ "mobile": mobile }), tenant("acme")).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        let code = app.last_code(mobile).await;
        let body = json!({ "account_name": "广州某某医院", "contact_name": "爱丽丝", "mobile": mobile, "mobile_code": code });
        let first = post_keyed(&app, "/api/v1/me/registration", &body, &token, "reg-1").await;
        assert!(first.status == StatusCode::OK || first.status == StatusCode::ACCEPTED, "{}", first.text);
        let retry = post_keyed(&app, "/api/v1/me/registration", &body, &token, "reg-1").await;
        assert!(retry.replayed, "{}", retry.text);
        assert_eq!((retry.status, &retry.text), (first.status, &first.text));
        assert_eq!(app.count_rows("accounts"), 1);
        assert_eq!(app.count_rows("registration_attempts"), 1, "the retry spent no attempt");
    }
}

/// Eight requests with one key at once on PostgreSQL: one device; every other answer is
/// the first one replayed or 409 while it ran.
#[actix_web::test]
async fn one_key_sent_eight_times_at_once_creates_one_device() {
    let app = TestApp::spawn(baoxiu_store::Backend::Postgres).await;
    let admin = app.sign_up("acme", "13800138000").await.access;
    let device = json!({ "name": "CT 机" });
    let answers = futures_util::future::join_all(
        (0..8).map(|_| post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "once")),
    )
    .await;
    let created: Vec<&Keyed> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty(), "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| a.status == StatusCode::CREATED || a.status == StatusCode::CONFLICT),
        "{answers:?}"
    );
    assert_eq!(
        created.iter().filter(|a| !a.replayed).count(),
        1,
        "{answers:?}"
    );
    assert!(
        created
            .iter()
            .all(|a| a.body["id"] == created[0].body["id"])
    );
    assert_eq!(app.count_rows("devices"), 1);
    let retry = post_keyed(&app, "/api/v1/admin/devices", &device, &admin, "once").await;
    assert_eq!((retry.status, retry.replayed), (StatusCode::CREATED, true));
}

/// A counter's first use, taken by eight transactions at once on PostgreSQL: 1 to 8, each
/// once (the losers of the first insert increment instead).
#[actix_web::test]
async fn a_new_counter_taken_at_once_gives_consecutive_numbers() {
    let app = TestApp::spawn(baoxiu_store::Backend::Postgres).await;
    let provider = app.sign_up("acme", "13800138000").await;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (db, tenant) = (app.state.db.clone(), provider.tenant_id.clone());
            std::thread::spawn(move || {
                db.write(|conn| -> Result<i64, baoxiu_core::DomainError> {
                    let n = baoxiu_store::counters::next(conn, &tenant, "work_order")?;
                    // Hold the transaction a moment, so the others queue behind it.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    Ok(n)
                })
                .unwrap()
            })
        })
        .collect();
    let mut numbers: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    let current = app
        .state
        .db
        .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(baoxiu_store::counters::current(
                conn,
                &provider.tenant_id,
                "work_order",
            )?)
        });
    assert_eq!(current.unwrap(), 8);
}

/// The hourly clean-up deletes wrong-password rows once they have left the pause window.
mod password_failures_purge {
    use super::*;

    backend_tests! {
        async fn old_wrong_passwords_are_purged_hourly(app: TestApp) {
            app.sign_up("acme", "13800138000").await;
            for _ in 0..2 {
                assert_eq!(app.login("acme", "13800138000", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
            }
            assert_eq!(app.count_rows("password_failures"), 2);
            app.advance_clock(chrono::Duration::minutes(5));
            app.periodic_jobs_done().await;
            assert_eq!(app.count_rows("password_failures"), 2, "still inside the window");
            app.advance_clock(chrono::Duration::hours(1));
            app.periodic_jobs_done().await;
            assert_eq!(app.count_rows("password_failures"), 0);
        }
    }
}

/// Eight submissions with one key at once on PostgreSQL: the key is kept in the order's
/// own transaction, so the seven others wait for the first's commit, are rolled back, and
/// answer its answer replayed (no 409 on this route): one order, one number, one event.
#[actix_web::test]
async fn one_key_sent_eight_times_at_once_submits_one_order() {
    use crate::work_orders::{customer, without_device};
    let app = TestApp::spawn(baoxiu_store::Backend::Postgres).await;
    let (_, token, _) = customer(&app, "wo-key-race", "13900139520").await;
    let body = without_device();
    let answers = futures_util::future::join_all(
        (0..8).map(|_| post_keyed(&app, "/api/v1/work-orders", &body, &token, "at-once")),
    )
    .await;
    assert!(
        answers.iter().all(|a| a.status == StatusCode::CREATED),
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|a| !a.replayed).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|a| a.text == answers[0].text),
        "{answers:?}"
    );
    assert_eq!(app.count_rows("work_orders"), 1);
    assert_eq!(app.count_rows("work_order_events"), 1);
    assert_eq!(app.count_rows("outbox_events"), 1);
    assert_eq!(app.count_rows("idempotency_keys"), 1);
    // The same key with another body, at once with a retry of the first: 422 and a replay.
    let mut other = without_device();
    other["fault_description"] = serde_json::json!("别的故障");
    let (reused, retried) = futures_util::join!(
        post_keyed(&app, "/api/v1/work-orders", &other, &token, "at-once"),
        post_keyed(&app, "/api/v1/work-orders", &body, &token, "at-once"),
    );
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reused.text
    );
    assert_eq!(problem_field(&reused), "Idempotency-Key");
    assert_eq!(
        (retried.status, retried.replayed),
        (StatusCode::CREATED, true)
    );
    assert_eq!(app.count_rows("work_orders"), 1);
}
