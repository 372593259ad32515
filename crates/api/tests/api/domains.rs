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
