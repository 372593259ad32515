//! The real HTTP SMS client against a fake gateway on loopback that speaks the gateway
//! protocol (`POST /v1/messages`, bearer key; 2xx sent, 429 rate limited, another 4xx
//! refused, else failed). Messages go out from the job runner, never inside the request
//! that issued the code: a request answers the same however the gateway behaves, a gateway
//! that fails is retried with back-off, and a message it will not take ends as a dead job
//! that the tenant's admin sees.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use baoxiu_api::config::SmsProvider;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// One message as the gateway saw it: the Authorization header and the JSON body.
type Received = (Option<String>, Value);

/// What the fake gateway answers next: a status, or nothing until `release`.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Status(u16),
    Hang,
}

/// What the fake gateway received, and what it answers next.
#[derive(Clone)]
struct Gateway {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
    released: tokio::sync::watch::Sender<bool>,
}

impl Gateway {
    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (polling, at most ten seconds) until `count` messages have arrived.
    async fn wait_for(&self, count: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.received.lock().unwrap().len() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "the gateway got {} messages, not {count}",
                self.received.lock().unwrap().len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
}

async fn receive(
    gateway: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    gateway
        .received
        .lock()
        .unwrap()
        .push((auth, body.into_inner()));
    let answer = *gateway.answer.lock().unwrap();
    match answer {
        Answer::Hang => {
            let mut released = gateway.released.subscribe();
            let _ = released.wait_for(|released| *released).await;
            HttpResponse::Ok().json(json!({ "id": "msg-late" }))
        }
        Answer::Status(200) => HttpResponse::Ok().json(json!({ "id": "msg-1" })),
        Answer::Status(429) => {
            HttpResponse::TooManyRequests().json(json!({ "error": "slow down" }))
        }
        Answer::Status(400) => {
            HttpResponse::BadRequest().json(json!({ "error": "no such number" }))
        }
        Answer::Status(_) => HttpResponse::InternalServerError().body("gateway down"),
    }
}

async fn start_gateway() -> (Gateway, String) {
    let gateway = Gateway {
        received: Arc::default(),
        answer: Arc::new(Mutex::new(Answer::Status(200))),
        released: tokio::sync::watch::channel(false).0,
    };
    let data = web::Data::new(gateway.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v1/messages", web::post().to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (gateway, format!("http://127.0.0.1:{port}"))
}

async fn app_with_gateway(backend: baoxiu_store::Backend) -> (TestApp, Gateway) {
    let (gateway, base_url) = start_gateway().await;
    let app = TestApp::spawn_with(backend, |config| {
        config.sms.provider = SmsProvider::Http;
        config.sms.base_url = Some(base_url.clone());
        config.sms.api_key = Some("gateway-key".into());
    })
    .await;
    (app, gateway)
}

/// Signs `acme` up with the code the gateway received.
async fn sign_up_through_the_gateway(app: &TestApp, gateway: &Gateway, mobile: &str) {
    let before = gateway.received().len();
    let sent = app
        .post(
            "/api/v1/providers/sms-code",
            &json!({ "mobile": mobile }),
            Opts::default(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    gateway.wait_for(before + 1).await;
    let (auth, message) = gateway.received()[before].clone();
    assert_eq!(auth.as_deref(), Some("Bearer gateway-key"));
    assert_eq!(message["mobile"], mobile);
    assert_eq!(message["template"], "provider_signup");
    let code = message["params"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    let signed = app
        .post(
            "/api/v1/providers",
            &json!({ "mobile": mobile, "code": code, "provider_name": "Acme", "password": PASSWORD, "slug": "acme" }),
            Opts::default(),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text);
}

async fn send_staff_code(app: &TestApp, mobile: &str) -> crate::support::Answer {
    app.post(
        "/api/v1/auth/staff/sms-code",
        &json!({ "mobile": mobile }),
        tenant("acme"),
    )
    .await
}

/// SMS delivery jobs in the queue, dead ones included.
fn deliveries(app: &TestApp) -> i64 {
    use baoxiu_store::schema::jobs;
    use diesel::prelude::*;
    app.state
        .db
        .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(jobs::table
                .filter(jobs::kind.eq("sms.deliver"))
                .count()
                .get_result(conn)?)
        })
        .unwrap()
}

/// The dead jobs `slug`'s admin (`mobile`) lists, logged in afresh (the clock moves far).
async fn dead_jobs(app: &TestApp, slug: &str, mobile: &str) -> Vec<Value> {
    let login = app.login(slug, mobile, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let admin = login.body["access_token"].as_str().unwrap();
    let listed = app
        .get("/api/v1/admin/jobs?status=dead", bearer(admin))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    listed.body["items"].as_array().unwrap().clone()
}

async fn failing_gateways_are_retried_then_dead(backend: baoxiu_store::Backend) {
    let (app, gateway) = app_with_gateway(backend).await;
    // Development-only route is gone with the real sender.
    app.get("/api/v1/dev/sms?mobile=13800138000", Opts::default())
        .await
        .problem(404, "not-found");
    sign_up_through_the_gateway(&app, &gateway, "13800138000").await;

    // The gateway rate limits, then recovers: the request answered 202 at once, and the
    // job tries again after its back-off until the message is out.
    app.advance_clock(Duration::seconds(61));
    gateway.answer(Answer::Status(429));
    let sent = send_staff_code(&app, "13800138000").await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    gateway.wait_for(2).await;
    app.jobs_done().await;
    app.advance_clock(Duration::seconds(4));
    app.jobs_done().await;
    assert_eq!(
        gateway.received().len(),
        2,
        "not before its back-off of 5 seconds"
    );
    gateway.answer(Answer::Status(200));
    app.advance_clock(Duration::seconds(2));
    gateway.wait_for(3).await;
    app.jobs_done().await;
    let (_, retried) = gateway.received()[2].clone();
    assert_eq!(
        retried,
        gateway.received()[1].1,
        "the same message, tried again"
    );
    let code = retried["params"]["code"].as_str().unwrap().to_owned();
    let login = app
        .post(
            "/api/v1/auth/staff/login",
            &json!({ "mobile": "13800138000", "code": code }),
            tenant("acme"),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(dead_jobs(&app, "acme", "13800138000").await.is_empty());
    assert_eq!(deliveries(&app), 0, "delivered: the job is gone");

    // The gateway fails on every try: five tries, further and further apart, then dead.
    app.advance_clock(Duration::seconds(61));
    gateway.answer(Answer::Status(500));
    assert_eq!(
        send_staff_code(&app, "13800138000").await.status,
        StatusCode::ACCEPTED
    );
    gateway.wait_for(4).await;
    for tries in 2..=5 {
        app.jobs_done().await;
        app.advance_clock(Duration::seconds(60));
        gateway.wait_for(3 + tries).await;
    }
    app.jobs_done().await;
    app.advance_clock(Duration::minutes(10));
    app.jobs_done().await;
    assert_eq!(gateway.received().len(), 8, "five tries, no sixth");
    let dead = dead_jobs(&app, "acme", "13800138000").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["kind"], "sms.deliver");
    assert_eq!(dead[0]["status"], "dead");
    assert_eq!(dead[0]["attempts"], 5);
    assert_eq!(dead[0]["running_until"], Value::Null);
    let error = dead[0]["last_error"].as_str().unwrap();
    assert!(error.contains("gateway answered 500"), "{error}");
    assert!(
        !error.contains("13800138000"),
        "no mobile in the error: {error}"
    );

    // A message the gateway refuses is dead after its first try.
    app.advance_clock(Duration::seconds(61));
    gateway.answer(Answer::Status(400));
    assert_eq!(
        send_staff_code(&app, "13800138000").await.status,
        StatusCode::ACCEPTED
    );
    gateway.wait_for(9).await;
    app.jobs_done().await;
    app.advance_clock(Duration::minutes(10));
    app.jobs_done().await;
    assert_eq!(gateway.received().len(), 9);
    let dead = dead_jobs(&app, "acme", "13800138000").await;
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[1]["attempts"], 1);
    assert!(
        dead[1]["last_error"].as_str().unwrap().contains("refused"),
        "{}",
        dead[1]
    );

    // Unknown mobiles reach no gateway, and leave no job.
    let jobs_before = deliveries(&app);
    let unknown = send_staff_code(&app, "13700137000").await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    app.jobs_done().await;
    assert_eq!(gateway.received().len(), 9);
    assert_eq!(deliveries(&app), jobs_before);

    // Another tenant's admin sees none of acme's dead jobs.
    app.advance_clock(Duration::seconds(61));
    gateway.answer(Answer::Status(200));
    let sent = app
        .post(
            "/api/v1/providers/sms-code",
            &json!({ "mobile": "13900139000" }),
            Opts::default(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED);
    gateway.wait_for(10).await;
    let code = gateway.received()[9].1["params"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app
        .post(
            "/api/v1/providers",
            &json!({ "mobile": "13900139000", "code": code, "provider_name": "Other", "password": PASSWORD, "slug": "other" }),
            Opts::default(),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    assert!(dead_jobs(&app, "other", "13900139000").await.is_empty());

    // Dead jobs stay listed for 30 days, then the daily clean-up deletes them.
    app.advance_clock(Duration::days(29));
    app.periodic_jobs_done().await;
    assert_eq!(dead_jobs(&app, "acme", "13800138000").await.len(), 2);
    app.advance_clock(Duration::days(2));
    app.periodic_jobs_done().await;
    assert!(dead_jobs(&app, "acme", "13800138000").await.is_empty());
}

#[actix_web::test]
async fn failing_gateways_are_retried_then_dead_sqlite() {
    failing_gateways_are_retried_then_dead(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn failing_gateways_are_retried_then_dead_postgres() {
    failing_gateways_are_retried_then_dead(baoxiu_store::Backend::Postgres).await;
}

async fn a_hanging_gateway_does_not_delay_the_answer(backend: baoxiu_store::Backend) {
    let (app, gateway) = app_with_gateway(backend).await;
    sign_up_through_the_gateway(&app, &gateway, "13800138000").await;
    app.advance_clock(Duration::seconds(61));

    // The gateway takes the message and does not answer until the test says so: the
    // request has answered meanwhile (it used to wait for the gateway, then answer 503).
    gateway.answer(Answer::Hang);
    let known = send_staff_code(&app, "13800138000").await;
    let unknown = send_staff_code(&app, "13700137000").await;
    assert_eq!(known.status, StatusCode::ACCEPTED, "{}", known.text);
    assert_eq!(unknown.status, StatusCode::ACCEPTED, "{}", unknown.text);
    assert_eq!(known.body, unknown.body);
    gateway.wait_for(2).await;
    assert_eq!(
        gateway.received()[1].1["mobile"],
        "13800138000",
        "only the staff mobile"
    );
    assert_eq!(deliveries(&app), 1, "still being delivered");

    gateway.released.send_replace(true);
    app.jobs_done().await;
    assert_eq!(deliveries(&app), 0);
    assert_eq!(gateway.received().len(), 2);
}

#[actix_web::test]
async fn a_hanging_gateway_does_not_delay_the_answer_sqlite() {
    a_hanging_gateway_does_not_delay_the_answer(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_hanging_gateway_does_not_delay_the_answer_postgres() {
    a_hanging_gateway_does_not_delay_the_answer(baoxiu_store::Backend::Postgres).await;
}

/// Staff login codes for a known and an unknown mobile, with the job runner stopped so that
/// the statement log holds the requests' statements alone: the same answer, the same
/// statements in the same order but the one insert of the delivery job, and a job whose
/// payload shows neither the mobile nor the code.
async fn known_and_unknown_mobiles_do_the_same_work(backend: baoxiu_store::Backend) {
    let app = TestApp::spawn_with(backend, |config| config.jobs.in_process = false).await;
    // This test runs the jobs itself, when it chooses.
    let runner = baoxiu_api::jobs::runner(&app.state).unwrap();
    let sent = app
        .post(
            "/api/v1/providers/sms-code",
            &json!({ "mobile": "13800138000" }),
            Opts::default(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED);
    runner.run_until_idle().await.unwrap();
    let code = app.last_code("13800138000").await;
    let signed = app
        .post(
            "/api/v1/providers",
            &json!({ "mobile": "13800138000", "code": code, "provider_name": "Acme", "password": PASSWORD, "slug": "acme" }),
            Opts::default(),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text);

    let statements = app.state.db.statements();
    statements.start();
    let unknown = send_staff_code(&app, "13700137000").await;
    let unknown_statements = statements.stop();
    statements.start();
    let known = send_staff_code(&app, "13800138000").await;
    let known_statements = statements.stop();

    assert_eq!(known.status, StatusCode::ACCEPTED, "{}", known.text);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let enqueue: Vec<_> = known_statements
        .iter()
        .filter(|sql| {
            sql.starts_with("INSERT INTO \"jobs\"") || sql.starts_with("INSERT INTO `jobs`")
        })
        .cloned()
        .collect();
    assert_eq!(enqueue.len(), 1, "{known_statements:#?}");
    let known_without_enqueue: Vec<_> = known_statements
        .iter()
        .filter(|sql| **sql != enqueue[0])
        .cloned()
        .collect();
    assert_eq!(
        known_without_enqueue, unknown_statements,
        "the same statements for both, but the enqueue"
    );
    assert!(unknown_statements.len() >= 5, "{unknown_statements:#?}");

    // The queued delivery keeps the message sealed.
    let payload = {
        use baoxiu_store::schema::jobs;
        use diesel::prelude::*;
        app.state
            .db
            .read(
                |conn| -> Result<(String, String), baoxiu_core::DomainError> {
                    Ok(jobs::table
                        .filter(jobs::kind.eq("sms.deliver"))
                        .select((jobs::tenant_id, jobs::payload))
                        .first(conn)?)
                },
            )
            .unwrap()
    };
    assert_eq!(
        payload.0,
        signed.body["tenant"]["id"].as_str().unwrap(),
        "the tenant's job"
    );
    runner.run_until_idle().await.unwrap();
    let code = app.last_code("13800138000").await;
    let payload: Value = serde_json::from_str(&payload.1).unwrap();
    let mut fields: Vec<_> = payload.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(fields, ["expires_at", "sealed"], "{payload}");
    let sealed = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        payload["sealed"].as_str().unwrap(),
    )
    .unwrap();
    let holds = |text: &str| sealed.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(
        !holds(&code) && !holds("13800138000") && !holds("staff_login"),
        "sealed, not plain"
    );
    assert_eq!(app.sms_count("13700137000").await, 0);
}

#[actix_web::test]
async fn known_and_unknown_mobiles_do_the_same_work_sqlite() {
    known_and_unknown_mobiles_do_the_same_work(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn known_and_unknown_mobiles_do_the_same_work_postgres() {
    known_and_unknown_mobiles_do_the_same_work(baoxiu_store::Backend::Postgres).await;
}
