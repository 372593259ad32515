//! Portal domains: requested by an admin, approved by a platform operator, then the host
//! alone names the tenant.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn an_approved_host_resolves_to_its_tenant(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let requested = app
            .post("/api/v1/admin/domains", &json!({ "kind": "custom", "host": "Repair.Acme.CN" }), bearer(&provider.access))
            .await;
        assert_eq!(requested.status, StatusCode::CREATED, "{}", requested.text);
        assert_eq!(requested.body["host"], "repair.acme.cn");
        assert_eq!(requested.body["status"], "pending");
        let id = requested.body["id"].as_str().unwrap();
        let sub = app.post("/api/v1/admin/domains", &json!({ "kind": "subdomain", "label": "acme" }), bearer(&provider.access)).await;
        assert_eq!(sub.body["host"], "acme.baoxiu.localhost");
        app.post("/api/v1/admin/domains", &json!({ "kind": "custom", "host": "not a host" }), bearer(&provider.access))
            .await
            .problem(422, "validation-failed");

        let by_host = |host: &'static str| {
            let client = app.client.clone();
            let url = format!("{}/api/v1/provider", app.base);
            async move { client.get(url).header("Host", host).send().await.unwrap() }
        };
        // Pending: the host names nobody yet.
        assert_eq!(by_host("repair.acme.cn").await.status(), StatusCode::BAD_REQUEST);

        // Admins cannot approve; platform operators can.
        app.post(&format!("/api/v1/platform/domains/{id}/approve"), &json!({}), bearer(&provider.access))
            .await
            .problem(403, "forbidden");
        let operator = platform_token(&app);
        let approved = app.post(&format!("/api/v1/platform/domains/{id}/approve"), &json!({}), bearer(&operator)).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.body["status"], "approved");
        app.post(&format!("/api/v1/platform/domains/{id}/approve"), &json!({}), bearer(&operator))
            .await
            .problem(409, "conflict");

        let answer = by_host("repair.acme.cn").await;
        assert_eq!(answer.status(), StatusCode::OK);
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["slug"], "acme");
        // The approval is in the tenant's audit log, by the operator.
        let log = app.get("/api/v1/admin/audit-log?action=domain.approve", bearer(&provider.access)).await;
        assert_eq!(log.body["items"][0]["actor_kind"], "platform");
        assert_eq!(log.body["items"][0]["actor_id"], "ops@baoxiu");
    }

    async fn nobody_takes_another_tenants_portal_address(app: TestApp) {
        app.sign_up("acme", "13800138000").await;
        let rival = app.sign_up("rival", "13800138001").await;
        // acme.<portal domain> is acme's: rival may not ask for it.
        let taken = app.post("/api/v1/admin/domains", &json!({ "kind": "subdomain", "label": "acme" }), bearer(&rival.access)).await;
        taken.problem(422, "validation-failed");
        assert_eq!(taken.error_fields(), ["label"]);
        // A label rival asked for is no slug for a later provider.
        let asked = app.post("/api/v1/admin/domains", &json!({ "kind": "subdomain", "label": "fixit" }), bearer(&rival.access)).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        let refused = app.try_sign_up("fixit", "13800138002").await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.body["errors"][0]["field"], "slug");
        assert_eq!(refused.body["errors"][0]["code"], "taken");
        // acme's own address still names acme.
        let own = app.client.get(format!("{}/api/v1/provider", app.base)).header("Host", "acme.baoxiu.localhost").send().await.unwrap();
        let body: serde_json::Value = own.json().await.unwrap();
        assert_eq!(body["slug"], "acme");
    }
}

/// A loopback web server standing in for tenants' hosts: `GET /{host}/.well-known/...`
/// answers whatever token the test put there for that host.
async fn start_hosts() -> (
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    String,
) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let served = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        String,
    >::new()));
    let data = web::Data::from(served.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/{host}/.well-known/baoxiu-domain-verification.txt",
            web::get().to(
                |served: web::Data<std::sync::Mutex<std::collections::HashMap<String, String>>>,
                 host: web::Path<String>| async move {
                    match served.lock().unwrap().get(host.as_str()) {
                        Some(token) => HttpResponse::Ok().body(format!("{token}\n")),
                        None => HttpResponse::NotFound().finish(),
                    }
                },
            ),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (
        served,
        format!("http://127.0.0.1:{port}/{{host}}/.well-known/baoxiu-domain-verification.txt"),
    )
}

/// A custom host is approved only once it serves its token (the real HTTP check against
/// a loopback server); a squatter's pending request is rejected and the host is free again.
async fn custom_hosts_are_checked_and_squats_rejected(backend: baoxiu_store::Backend) {
    let (served, template) = start_hosts().await;
    let app = TestApp::spawn_with(backend, |config| {
        config.domain_check.provider = baoxiu_api::config::DomainCheckProvider::Http;
        config.domain_check.url_template = template.clone();
    })
    .await;
    let owner = app.sign_up("acme", "13800138000").await;
    let squatter = app.sign_up("rival", "13800138001").await;
    let operator = platform_token(&app);

    let squat = app
        .post(
            "/api/v1/admin/domains",
            &json!({ "kind": "custom", "host": "repair.acme.cn" }),
            bearer(&squatter.access),
        )
        .await;
    assert_eq!(squat.status, StatusCode::CREATED, "{}", squat.text);
    let squat_id = squat.body["id"].as_str().unwrap().to_owned();
    assert_eq!(squat.body["verification_token"].as_str().unwrap().len(), 32);
    // The squatter cannot serve a token on acme's host: no approval.
    let unproven = app
        .post(
            &format!("/api/v1/platform/domains/{squat_id}/approve"),
            &json!({}),
            bearer(&operator),
        )
        .await;
    unproven.problem(409, "conflict");
    // While pending, the host is blocked for its owner...
    app.post(
        "/api/v1/admin/domains",
        &json!({ "kind": "custom", "host": "repair.acme.cn" }),
        bearer(&owner.access),
    )
    .await
    .problem(422, "validation-failed");
    // ...until the operator rejects the squat.
    let rejected = app
        .post(
            &format!("/api/v1/platform/domains/{squat_id}/reject"),
            &json!({ "reason": "不是你的域名" }),
            bearer(&operator),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(rejected.body["reason"], "不是你的域名");
    app.post(
        &format!("/api/v1/platform/domains/{squat_id}/reject"),
        &json!({ "reason": "again" }),
        bearer(&operator),
    )
    .await
    .problem(409, "conflict");

    let mine = app
        .post(
            "/api/v1/admin/domains",
            &json!({ "kind": "custom", "host": "repair.acme.cn" }),
            bearer(&owner.access),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
    let id = mine.body["id"].as_str().unwrap().to_owned();
    let token = mine.body["verification_token"].as_str().unwrap().to_owned();
    served
        .lock()
        .unwrap()
        .insert("repair.acme.cn".into(), "some-other-token".into());
    app.post(
        &format!("/api/v1/platform/domains/{id}/approve"),
        &json!({}),
        bearer(&operator),
    )
    .await
    .problem(409, "conflict");
    served
        .lock()
        .unwrap()
        .insert("repair.acme.cn".into(), token);
    let approved = app
        .post(
            &format!("/api/v1/platform/domains/{id}/approve"),
            &json!({}),
            bearer(&operator),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let answer = app
        .client
        .get(format!("{}/api/v1/provider", app.base))
        .header("Host", "repair.acme.cn")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["slug"], "acme");
}

#[actix_web::test]
async fn custom_hosts_are_checked_and_squats_rejected_sqlite() {
    custom_hosts_are_checked_and_squats_rejected(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn custom_hosts_are_checked_and_squats_rejected_postgres() {
    custom_hosts_are_checked_and_squats_rejected(baoxiu_store::Backend::Postgres).await;
}
