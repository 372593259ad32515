//! The real WeChat client (code2Session) against a fake WeChat on loopback that answers
//! like WeChat, errors included; and no app secret in any answer or log line.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use baoxiu_api::config::{RegistryProvider, WechatProvider};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;
use crate::terminal::{MINI_APP, add_method, tenant_with_app};

const SECRET: &str = "acme-mini-secret";

#[derive(Clone, Default)]
struct FakeWechat {
    /// Query strings received.
    calls: Arc<Mutex<Vec<String>>>,
}

async fn jscode2session(fake: web::Data<FakeWechat>, req: actix_web::HttpRequest) -> HttpResponse {
    fake.calls
        .lock()
        .unwrap()
        .push(req.query_string().to_owned());
    let query: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if query.get("secret").map(String::as_str) != Some(SECRET) {
        return HttpResponse::Ok().json(json!({ "errcode": 40125, "errmsg": "invalid appsecret" }));
    }
    // WeChat answers JSON as text/plain.
    let body = match query.get("js_code").map(String::as_str).unwrap_or_default() {
        "bad" => json!({ "errcode": 40029, "errmsg": "invalid code" }),
        "used" => json!({ "errcode": 40163, "errmsg": "code been used" }),
        "limit" => json!({ "errcode": 45011, "errmsg": "api minute-quota reach limit" }),
        "risky" => json!({ "errcode": 40226, "errmsg": "high risk user" }),
        "busy" => json!({ "errcode": -1, "errmsg": "system error" }),
        code => {
            json!({ "openid": format!("o_{code}"), "session_key": "SESSION-KEY-NEVER-SHOWN", "unionid": "u_1" })
        }
    };
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(body.to_string())
}

async fn oauth(fake: web::Data<FakeWechat>, req: actix_web::HttpRequest) -> HttpResponse {
    fake.calls
        .lock()
        .unwrap()
        .push(req.query_string().to_owned());
    let query: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let body = match query.get("code").map(String::as_str).unwrap_or_default() {
        "bad" => json!({ "errcode": 40029, "errmsg": "invalid code" }),
        code => {
            json!({ "access_token": "OAUTH-TOKEN", "expires_in": 7200, "openid": format!("oa_{code}"), "scope": "snsapi_base" })
        }
    };
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(body.to_string())
}

/// `POST /cgi-bin/stable_token`: a token for the right secret, 40125 for another.
async fn stable_token(body: web::Json<serde_json::Value>) -> HttpResponse {
    if body["grant_type"] != "client_credential" || body["force_refresh"] == true {
        return HttpResponse::Ok()
            .json(json!({ "errcode": 40002, "errmsg": "invalid grant_type" }));
    }
    if body["secret"] == SECRET {
        HttpResponse::Ok().json(json!({ "access_token": "ACCESS-TOKEN", "expires_in": 7200 }))
    } else {
        HttpResponse::Ok().json(json!({ "errcode": 40125, "errmsg": "invalid appsecret" }))
    }
}

/// The business registry protocol: `GET /v1/companies?name=`.
async fn companies(req: actix_web::HttpRequest) -> HttpResponse {
    if req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        != Some("Bearer registry-key")
    {
        return HttpResponse::Unauthorized().finish();
    }
    let query: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    match query.get("name").map(String::as_str).unwrap_or_default() {
        "down" => HttpResponse::ServiceUnavailable().finish(),
        name if name.contains("某某") => HttpResponse::Ok().json(json!({ "items": [
            { "name": "深圳市某某科技有限公司", "credit_code": "91440300XXXXXXXX" },
            { "name": "某某电子有限公司" }
        ] })),
        _ => HttpResponse::Ok().json(json!({ "items": [] })),
    }
}

async fn start() -> (FakeWechat, String) {
    let fake = FakeWechat::default();
    let data = web::Data::new(fake.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/sns/jscode2session", web::get().to(jscode2session))
            .route("/sns/oauth2/access_token", web::get().to(oauth))
            .route("/cgi-bin/stable_token", web::post().to(stable_token))
            .route("/v1/companies", web::get().to(companies))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (fake, format!("http://127.0.0.1:{port}"))
}

async fn run(backend: baoxiu_store::Backend) {
    let (fake, base_url) = start().await;
    let app = TestApp::spawn_with(backend, |config| {
        config.wechat.provider = WechatProvider::Http;
        config.wechat.base_url = base_url.clone();
        config.wechat.public_app_id = Some("wxpublic00000001".into());
        config.wechat.public_app_secret = Some(SECRET.into());
        config.business_registry.provider = RegistryProvider::Http;
        config.business_registry.base_url = Some(base_url.clone());
        config.business_registry.api_key = Some("registry-key".into());
    })
    .await;
    let admin = tenant_with_app(&app).await.access;
    add_method(&app, &admin, "openid_auto", false, "fuzzy").await;
    let login = |code: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/wechat/mini-program",
                &json!({ "app_id": MINI_APP, "code": code }),
                Opts::default(),
            )
            .await
        }
    };

    let ok = login("good").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(
        !ok.text.contains("SESSION-KEY"),
        "session_key never leaves the server"
    );
    let query = fake.calls.lock().unwrap()[0].clone();
    assert!(
        query.contains(&format!("appid={MINI_APP}"))
            && query.contains("js_code=good")
            && query.contains("grant_type=authorization_code")
    );

    login("bad").await.problem(401, "wechat-code-invalid");
    login("used").await.problem(401, "wechat-code-invalid");
    let limited = login("limit").await;
    limited.problem(429, "rate-limited");
    assert!(limited.header("retry-after").is_some());
    login("risky").await.problem(403, "wechat-high-risk-user");
    login("busy").await.problem(503, "service-unavailable");
    // Busy is retried once before giving up.
    let busy_calls = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|q| q.contains("js_code=busy"))
        .count();
    assert_eq!(busy_calls, 2);
    // Unknown app ids name no tenant.
    app.post(
        "/api/v1/auth/wechat/mini-program",
        &json!({ "app_id": "wxunknown0000000", "code": "good" }),
        Opts::default(),
    )
    .await
    .problem(422, "validation-failed");
    assert_eq!(
        app.count_rows("terminal_users"),
        1,
        "failed logins create nobody"
    );

    // Binding checks the secret with WeChat: a made-up one binds nothing, so nobody can
    // squat an app id its owner has not bound yet.
    let squat = app
        .post(
            "/api/v1/admin/wechat-apps",
            &json!({ "app_id": "wxacme0oa0000001", "kind": "official_account", "name": "抢注", "secret": "made-up-secret" }),
            bearer(&admin),
        )
        .await;
    squat.problem(422, "validation-failed");
    assert_eq!(squat.error_fields(), ["secret"]);
    let apps = app.get("/api/v1/admin/wechat-apps", bearer(&admin)).await;
    assert_eq!(
        apps.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        apps.text
    );

    // The Official Account login exchanges an OAuth code.
    app.post(
        "/api/v1/admin/wechat-apps",
        &json!({ "app_id": "wxacme0oa0000001", "kind": "official_account", "name": "Acme 服务号", "secret": SECRET }),
        bearer(&admin),
    )
    .await;
    let oa = app
        .post(
            "/api/v1/auth/wechat/official-account",
            &json!({ "app_id": "wxacme0oa0000001", "code": "olivia" }),
            Opts::default(),
        )
        .await;
    assert_eq!(oa.status, StatusCode::OK, "{}", oa.text);
    assert!(!oa.text.contains("OAUTH-TOKEN"));
    app.post(
        "/api/v1/auth/wechat/official-account",
        &json!({ "app_id": "wxacme0oa0000001", "code": "bad" }),
        Opts::default(),
    )
    .await
    .problem(401, "wechat-code-invalid");
    // A Mini Program app id on the Official Account route is refused.
    app.post(
        "/api/v1/auth/wechat/official-account",
        &json!({ "app_id": MINI_APP, "code": "x" }),
        Opts::default(),
    )
    .await
    .problem(422, "validation-failed");
    // The shared public mini program: the tenant comes from X-Tenant; it serves tenants
    // that have no Mini Program of their own (acme has one).
    let beta = app.sign_up("beta", "13800138009").await;
    add_method(&app, &beta.access, "openid_auto", false, "fuzzy").await;
    let shared_login = |opts: Opts<'static>| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/wechat/mini-program",
                &json!({ "app_id": "wxpublic00000001", "code": "pat" }),
                opts,
            )
            .await
        }
    };
    let public = shared_login(tenant("beta")).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text);
    shared_login(tenant("acme"))
        .await
        .problem(422, "validation-failed");
    shared_login(Opts::default())
        .await
        .problem(400, "tenant-required");
    // No tenant may bind the shared program: its logins would all become that tenant's.
    let taken = app
        .post(
            "/api/v1/admin/wechat-apps",
            &json!({ "app_id": "wxpublic00000001", "kind": "mini_program", "name": "Mine now", "secret": "s3cret" }),
            bearer(&admin),
        )
        .await;
    taken.problem(422, "validation-failed");
    assert_eq!(taken.error_fields(), ["app_id"]);
    let still_shared = shared_login(tenant("beta")).await;
    assert_eq!(still_shared.status, StatusCode::OK, "{}", still_shared.text);

    // The business registry rule: the account gets the registered name.
    let registry_method = add_method(&app, &admin, "require_registration", false, "fuzzy").await;
    let current = app
        .get(
            &format!("/api/v1/admin/registration-methods/{registry_method}"),
            bearer(&admin),
        )
        .await;
    let mut settings = current.body["settings"].clone();
    settings["account"]["new_account_rule"] = json!("business_registry");
    settings["channels"] = json!(["h5"]);
    app.patch(
        &format!("/api/v1/admin/registration-methods/{registry_method}"),
        &json!({ "settings": settings }),
        bearer(&admin),
    )
    .await;
    // Make it the only method for h5 users: the openid_auto one keeps the Mini Program.
    let methods = app
        .get("/api/v1/admin/registration-methods", bearer(&admin))
        .await;
    let auto = methods.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] != registry_method.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.patch(&format!("/api/v1/admin/registration-methods/{auto}"), &json!({ "settings": { "channels": ["mini_program"], "mode": "openid_auto", "requires_approval": false,
        "account": { "record_type": "customer", "fields": [], "show_only_required": false, "owner": { "kind": "none" }, "duplicate_check": "fuzzy", "new_account_rule": "user_defined" },
        "contact": { "record_type": "default", "fields": [], "show_only_required": false }, "role_ids": [] } }), bearer(&admin)).await;
    app.post(
        "/api/v1/auth/sms-code",
        &json!({ "mobile": "13900139030" }),
        tenant("acme"),
    )
    .await;
    let code = app.last_code("13900139030").await;
    let h5 = app
        .post(
            "/api/v1/auth/sms-login",
            &json!({ "mobile": "13900139030", "code": code }),
            tenant("acme"),
        )
        .await;
    assert_eq!(h5.status, StatusCode::OK, "{}", h5.text);
    let h5_token = h5.body["access_token"].as_str().unwrap().to_owned();
    let form = app
        .get("/api/v1/registration/form", bearer(&h5_token))
        .await;
    assert_eq!(form.body["new_account_rule"], "business_registry");
    app.clock.advance(chrono::Duration::seconds(61));
    let unknown =
        crate::terminal::register(&app, &h5_token, "不存在的公司", "甲", "13900139030").await;
    unknown.problem(422, "validation-failed");
    assert_eq!(unknown.body["errors"][0]["code"], "not_registered");
    app.clock.advance(chrono::Duration::seconds(61));
    let registered =
        crate::terminal::register(&app, &h5_token, "深圳某某科技", "甲", "13900139030").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
    let account_id = registered.body["account_id"].as_str().unwrap();
    let account = app
        .get(
            &format!("/api/v1/admin/accounts/{account_id}"),
            bearer(&admin),
        )
        .await;
    assert_eq!(account.body["name"], "深圳市某某科技有限公司");

    let logs = captured_logs();
    assert!(!logs.is_empty(), "logs were captured");
    assert!(!logs.contains(SECRET), "an app secret reached the logs");
    assert!(
        !logs.contains("SESSION-KEY"),
        "a session key reached the logs"
    );
}

#[actix_web::test]
async fn wechat_protocol_sqlite() {
    run(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn wechat_protocol_postgres() {
    run(baoxiu_store::Backend::Postgres).await;
}
