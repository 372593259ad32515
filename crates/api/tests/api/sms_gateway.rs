//! The real HTTP SMS client against a fake gateway on loopback that speaks the gateway
//! protocol (`POST /v1/messages`, bearer key; 2xx sent, 429 rate limited, else failed).

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use baoxiu_api::config::SmsProvider;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// One message as the gateway saw it: the Authorization header and the JSON body.
type Received = (Option<String>, Value);

/// What the fake gateway received, and what it answers next.
#[derive(Clone, Default)]
struct Gateway {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<u16>>,
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
    match *gateway.answer.lock().unwrap() {
        200 => HttpResponse::Ok().json(json!({ "id": "msg-1" })),
        429 => HttpResponse::TooManyRequests().json(json!({ "error": "slow down" })),
        _ => HttpResponse::InternalServerError().body("gateway down"),
    }
}

async fn start_gateway() -> (Gateway, String) {
    let gateway = Gateway::default();
    *gateway.answer.lock().unwrap() = 200;
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

async fn run(backend: baoxiu_store::Backend) {
    let (gateway, base_url) = start_gateway().await;
    let app = TestApp::spawn_with(backend, |config| {
        config.sms.provider = SmsProvider::Http;
        config.sms.base_url = Some(base_url.clone());
        config.sms.api_key = Some("gateway-key".into());
    })
    .await;

    // Development-only route is gone with the real sender.
    app.get("/api/v1/dev/sms?mobile=13800138000", Opts::default())
        .await
        .problem(404, "not-found");

    let sent = app
        .post(
            "/api/v1/providers/sms-code",
            &json!({ "mobile": "13800138000" }),
            Opts::default(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    let (auth, message) = gateway.received.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer gateway-key"));
    assert_eq!(message["mobile"], "13800138000");
    assert_eq!(message["template"], "provider_signup");
    let code = message["params"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);

    // The code from the gateway signs the provider up.
    let signed = app
        .post(
            "/api/v1/providers",
            &json!({ "mobile": "13800138000", "code": code, "provider_name": "Acme", "password": PASSWORD, "slug": "acme" }),
            Opts::default(),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text);

    // The gateway rate limits: 429 with Retry-After. The gateway fails: 503.
    app.clock.advance(chrono::Duration::seconds(61));
    *gateway.answer.lock().unwrap() = 429;
    app.post(
        "/api/v1/auth/staff/sms-code",
        &json!({ "mobile": "13800138000" }),
        tenant("acme"),
    )
    .await
    .problem(429, "rate-limited");
    app.clock.advance(chrono::Duration::seconds(61));
    *gateway.answer.lock().unwrap() = 500;
    app.post(
        "/api/v1/auth/staff/sms-code",
        &json!({ "mobile": "13800138000" }),
        tenant("acme"),
    )
    .await
    .problem(503, "service-unavailable");
    // Unknown mobiles reach no gateway at all.
    let before = gateway.received.lock().unwrap().len();
    app.post(
        "/api/v1/auth/staff/sms-code",
        &json!({ "mobile": "13700137000" }),
        tenant("acme"),
    )
    .await;
    assert_eq!(gateway.received.lock().unwrap().len(), before);
}

#[actix_web::test]
async fn http_gateway_sqlite() {
    run(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn http_gateway_postgres() {
    run(baoxiu_store::Backend::Postgres).await;
}
