//! Statement budgets: how many SQL statements one request runs, counted on the database's
//! statement log (BEGIN, COMMIT and SAVEPOINT included). N+1 shows up here as a failing
//! count, not as a slow page. Counts, not times: they do not flake.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, register, set_seats, tenant_with_app, wx_login,
};

/// The statements of one request: `send` is run three times and the fewest statements
/// count (anything else that touched the database meanwhile, such as the job runner, only
/// adds). The job tables are never a request's here, so their statements are left out.
pub async fn statements_of<F, Fut>(app: &TestApp, send: F) -> Vec<String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let log = app.state.db.statements();
    let mut fewest: Option<Vec<String>> = None;
    for _ in 0..3 {
        app.jobs_done().await;
        log.start();
        let answer = send().await;
        let statements = of_the_request(log.stop(), &answer);
        if fewest.as_ref().is_none_or(|f| statements.len() < f.len()) {
            fewest = Some(statements);
        }
    }
    fewest.unwrap_or_default()
}

/// The statements of one request that can run only once (a first login): the job
/// tables' statements are left out, as in `statements_of`.
pub async fn statements_once<F, Fut>(app: &TestApp, send: F) -> Vec<String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let log = app.state.db.statements();
    app.jobs_done().await;
    log.start();
    let answer = send().await;
    of_the_request(log.stop(), &answer)
}

/// The statements that are the request's (the job tables' are the runner's), once it
/// answered with success.
fn of_the_request(statements: Vec<String>, answer: &Answer) -> Vec<String> {
    assert!(
        answer.status.is_success(),
        "{} {}",
        answer.status,
        answer.text
    );
    statements
        .into_iter()
        .filter(|sql| !sql.contains("jobs\"") && !sql.contains("jobs`"))
        .filter(|sql| !sql.contains("job_schedules"))
        .collect()
}

#[track_caller]
fn within(what: &str, statements: &[String], budget: usize) {
    assert!(
        statements.len() <= budget,
        "{what}: {} statements, budget {budget}: {statements:#?}",
        statements.len()
    );
}

/// A tenant, a registered terminal user of an account with a device bound to a QR code,
/// and the WeChat code that user logs in with. Answers (admin, the user's token).
async fn registered_customer(app: &TestApp) -> (Provider, String) {
    let provider = tenant_with_app(app).await;
    let admin = provider.access.clone();
    add_method(app, &admin, "openid_auto", false, "exact").await;
    let (account, _) = account_with_contact(app, &admin, "甲公司", Some("13900139300")).await;
    let token = access_of(&wx_login(app, "budget").await);
    let registered = register(app, &token, "甲公司", "预算", "13900139300").await;
    assert!(registered.status.is_success(), "{}", registered.text);
    let settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
    let mut body = settings.body.clone();
    body["enabled"] = json!(true);
    body["rule"] = json!({ "kind": "sequence", "prefix": "BG", "digits": 5 });
    let saved = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/qr-settings",
            Some(&body),
            bearer(&admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let generated = app
        .post(
            "/api/v1/admin/qr-codes",
            &json!({ "count": 1 }),
            bearer(&admin),
        )
        .await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
    let device = app
        .post(
            "/api/v1/admin/devices",
            &json!({ "name": "冷水机", "account_id": account, "serial_no": "BG-1" }),
            bearer(&admin),
        )
        .await;
    assert_eq!(device.status, StatusCode::CREATED, "{}", device.text);
    let bound = app
        .post(
            "/api/v1/scan/BG00001/bind",
            &json!({ "device_id": device.body["id"] }),
            bearer(&admin),
        )
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
    // A fresh token: the registration changed the roles the first one carried.
    let token = access_of(&wx_login(app, "budget").await);
    (provider, token)
}

backend_tests! {
    async fn terminal_reads_stay_within_their_budgets(app: TestApp) {
        let (_, token) = registered_customer(&app).await;

        let me = statements_of(&app, || app.get("/api/v1/me", bearer(&token))).await;
        within("GET /me", &me, 2);

        let devices = statements_of(&app, || app.get("/api/v1/devices", bearer(&token))).await;
        within("GET /devices", &devices, 2);
        let seen = app.get("/api/v1/devices", bearer(&token)).await;
        assert_eq!(seen.body["items"].as_array().map(Vec::len), Some(1), "{}", seen.text);

        let scan = statements_of(&app, || app.get("/api/v1/scan/BG00001", bearer(&token))).await;
        within("GET /scan/{code}", &scan, 3);
        let scanned = app.get("/api/v1/scan/BG00001", bearer(&token)).await;
        assert_eq!(scanned.body["kind"], "device", "{}", scanned.text);
        assert_eq!(scanned.body["device"]["name"], "冷水机");

        // The repair form: the principal, then the default template (no transaction).
        let form = statements_of(&app, || app.get("/api/v1/forms/work-order", bearer(&token))).await;
        assert_eq!(form.len(), 2, "GET /forms/work-order: {form:#?}");

        let login = statements_of(&app, || wx_login(&app, "budget")).await;
        within("a known WeChat user's login", &login, 6);

        // An unknown user's first login (a user, an enterprise, a registration, its roles,
        // a session, the audit): the method is chosen in one statement and its references
        // read in one more, not the method read again. 25 on SQLite, 26 on PostgreSQL.
        let first = statements_once(&app, || wx_login(&app, "newcomer")).await;
        within("an unknown WeChat user's first login", &first, 26);
    }

    /// The audited create: the session, then one transaction (the tenant's subscription,
    /// the row, its audit entry); the row is not read back.
    async fn an_audited_create_stays_within_its_budget(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access.clone();
        let serial = std::cell::Cell::new(0);
        let create = statements_of(&app, || {
            serial.set(serial.get() + 1);
            let body = json!({ "name": "打印机", "serial_no": format!("BUDGET-{}", serial.get()) });
            let admin = admin.clone();
            let app = &app;
            async move { app.post("/api/v1/admin/devices", &body, bearer(&admin)).await }
        })
        .await;
        within("POST /admin/devices", &create, 6);
    }

    async fn the_terminal_user_list_costs_the_same_for_one_row_or_fifty(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access.clone();
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        set_seats(&app, &provider.tenant_id, 100).await;
        for i in 0..50 {
            let login = wx_login(&app, &format!("user{i}")).await;
            assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        }
        for limit in [1, 50] {
            let path = format!("/api/v1/admin/terminal-users?limit={limit}");
            let list = statements_of(&app, || app.get(&path, bearer(&admin))).await;
            within(&format!("GET /admin/terminal-users?limit={limit}"), &list, 4);
            let page = app.get(&path, bearer(&admin)).await;
            let items = page.body["items"].as_array().unwrap();
            assert_eq!(items.len(), limit, "{}", page.text);
            assert!(items.iter().all(|u| u["roles"].as_array().is_some_and(|r| !r.is_empty())), "{}", page.text);
            assert!(items.iter().all(|u| u["enterprise"].is_object()), "{}", page.text);
        }
    }
}

backend_tests! {
    /// `GET /work-orders` (principal, one page) and `GET /work-orders/{id}` (principal, the
    /// order with its engineer, its timeline, its photos) cost the same however many orders
    /// or steps.
    async fn work_order_reads_stay_within_their_budgets(app: TestApp) {
        use crate::work_orders::{customer, submit};
        let (admin, token, _) = customer(&app, "wo-budget", "13900139600").await;
        let mut last = String::new();
        for i in 0..25 {
            let body = json!({ "brand": "格力", "category": "空调", "model": "KFR", "fault_description": format!("故障 {i}") });
            last = submit(&app, &token, body).await["work_order"]["id"].as_str().unwrap().to_owned();
        }
        let (engineer, _) = app.add_staff(&admin, "acme", "13700137600", "engineer").await;
        for step in [json!({ "action": "accept" }), json!({ "action": "assign", "engineer_id": engineer }), json!({ "action": "start" })] {
            let moved = app.post(&format!("/api/v1/admin/work-orders/{last}/transitions"), &step, bearer(&admin)).await;
            assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        }
        for limit in [1, 25] {
            let path = format!("/api/v1/work-orders?limit={limit}");
            let list = statements_of(&app, || app.get(&path, bearer(&token))).await;
            within("GET /work-orders", &list, 2);
        }
        let path = format!("/api/v1/work-orders/{last}");
        let detail = statements_of(&app, || app.get(&path, bearer(&token))).await;
        // The principal (one), the order with its engineer, its timeline, its photos.
        within("GET /work-orders/{id}", &detail, 4);
        let seen = app.get(&format!("/api/v1/work-orders/{last}"), bearer(&token)).await;
        assert_eq!(seen.body["timeline"].as_array().map(Vec::len), Some(4), "{}", seen.text);
        assert_eq!(seen.body["work_order"]["engineer_name"], "engineer 13700137600");
    }

    /// `POST /work-orders` for a device by id, counted whole (`total`) and without the
    /// transaction's own statements (`work`: no BEGIN, COMMIT, SAVEPOINT, RELEASE). The same
    /// on both backends: BEGIN (IMMEDIATE on SQLite); 1 the principal (session, user, tenant
    /// and its subscription, roles: one join); 2 the settings with the default form
    /// template; 3 the device; 4 the day's number (`UPDATE … RETURNING`); 5 the order; 6
    /// its timeline row; 7 its outbox event; with an `Idempotency-Key`, 8 the key with its
    /// answer (one insert); COMMIT. Two photos add their claim's update and read. The day's
    /// first order inserts its counter once more (a warm-up order takes that here).
    ///
    /// Phone intake (`POST /admin/work-orders`) the same way: 1 the session check (before
    /// the unit), BEGIN, 2 the tenant's subscription, 3 the account, 4 the contact, then as
    /// above from the settings (5 to 10), 11 the audit entry; with a key, 12 the key; COMMIT.
    /// The staff caller is not resolved in the unit yet, so the session and the tenant are
    /// read apart: 13 in all without a key, 14 with one.
    async fn a_submission_stays_within_its_budget(app: TestApp) {
        use crate::attachments::{phone_jpeg, uploaded};
        let (provider, token) = registered_customer(&app).await;
        let admin = provider.access.clone();
        let devices = app.get("/api/v1/admin/devices", bearer(&admin)).await;
        let device = devices.body["items"][0]["id"].as_str().unwrap().to_owned();
        let order = |n: u32, photos: &[String]| json!({ "device_id": device, "fault_description": format!("故障 {n}"), "confirm_duplicate": true, "attachment_ids": photos });
        let warm_up = app.post("/api/v1/work-orders", &order(0, &[]), bearer(&token)).await;
        assert_eq!(warm_up.status, StatusCode::CREATED, "{}", warm_up.text);
        let (account, contact) = account_with_contact(&app, &admin, "乙公司", Some("13900139301")).await;
        let send = |path: &'static str, bearer_token: String, body: serde_json::Value, key: Option<String>| {
            let app = &app;
            async move {
                let mut request = app.client.post(format!("{}{path}", app.base)).bearer_auth(&bearer_token).json(&body);
                if let Some(key) = key {
                    request = request.header("Idempotency-Key", key);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let text = response.text().await.unwrap();
                Answer { status, headers, body: serde_json::from_str(&text).unwrap_or_default(), text }
            }
        };
        // (route, photos, key, total, work)
        let cases = [
            ("/api/v1/work-orders", 0, false, 9, 7),
            ("/api/v1/work-orders", 0, true, 10, 8),
            ("/api/v1/work-orders", 2, true, 12, 10),
            ("/api/v1/admin/work-orders", 0, false, PHONE, PHONE - 2),
            ("/api/v1/admin/work-orders", 0, true, PHONE + 1, PHONE - 1),
        ];
        let mut measured = Vec::new();
        for (n, (path, photos, key, total, work)) in cases.into_iter().enumerate() {
            let staff = path.contains("/admin/");
            // Three tries (the fewest count: a job's transaction may come between), each
            // with its own photos, key and body.
            let mut tries = Vec::new();
            for t in 0..3u32 {
                let mut ids = Vec::new();
                for i in 0..photos {
                    ids.push(uploaded(&app, &token, &phone_jpeg(20 + i + 2 * t, 20)).await);
                }
                let sent = order(10 * n as u32 + t + 1, &ids);
                tries.push(if staff {
                    let mut sent = sent;
                    sent["contact_phone"] = json!("13900139301");
                    (admin.clone(), json!({ "account_id": account, "contact_id": contact, "order": sent }))
                } else {
                    (token.clone(), sent)
                });
            }
            let next = std::cell::Cell::new(0usize);
            let statements = statements_of(&app, || {
                let t = next.get();
                next.set(t + 1);
                let (who, body) = tries[t].clone();
                send(path, who, body, key.then(|| format!("budget-{n}-{t}")))
            })
            .await;
            let counted = (statements.len(), work_of(&statements));
            measured.push((path, photos, key, counted));
            assert_eq!(counted, (total, work), "POST {path} ({photos} photos, Idempotency-Key {key}): {statements:#?}");
        }
        eprintln!("POST submissions (route, photos, key, (total, work)) on {:?}: {measured:?}", app.backend);
    }
}

/// Phone intake's statements without a key, the session check, BEGIN and COMMIT included
/// (measured the same on both backends).
const PHONE: usize = 13;

/// The statements that are work, not the transaction's own bookkeeping.
fn work_of(statements: &[String]) -> usize {
    statements
        .iter()
        .filter(|sql| {
            let head = sql.trim_start().to_ascii_uppercase();
            !["BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"]
                .iter()
                .any(|word| head.starts_with(word))
        })
        .count()
}
