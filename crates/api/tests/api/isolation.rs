//! Tenants never see each other: another tenant's objects answer 404.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn another_tenants_staff_and_profile_answer_404(app: TestApp) {
        let a = app.sign_up("tenant-a", "13800138000").await;
        let b = app.sign_up("tenant-b", "13900139000").await;
        let (b_engineer, _) = app.add_staff(&b.access, "tenant-b", "13700137000", "engineer").await;

        // A reads B's staff by id: 404, as if it did not exist.
        app.get(&format!("/api/v1/admin/staff/{}", b.admin_id), bearer(&a.access)).await.problem(404, "not-found");
        app.get(&format!("/api/v1/admin/staff/{b_engineer}"), bearer(&a.access)).await.problem(404, "not-found");
        // ...nor change or delete them.
        app.patch(&format!("/api/v1/admin/staff/{b_engineer}"), &json!({ "name": "Hijacked" }), bearer(&a.access))
            .await
            .problem(404, "not-found");
        app.delete(&format!("/api/v1/admin/staff/{b_engineer}"), bearer(&a.access)).await.problem(404, "not-found");
        let b_view = app.get(&format!("/api/v1/admin/staff/{b_engineer}"), bearer(&b.access)).await;
        assert_eq!(b_view.status, StatusCode::OK);
        assert_ne!(b_view.body["name"], "Hijacked");

        // A's lists hold only A's.
        let list = app.get("/api/v1/admin/staff", bearer(&a.access)).await;
        let ids: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [a.admin_id.as_str()]);
        // A's profile is A's, whatever tenant A names.
        let profile = app.get("/api/v1/admin/profile", Opts { token: Some(&a.access), tenant: Some("tenant-b"), ..Opts::default() }).await;
        assert_eq!(profile.body["id"], a.tenant_id);
        // A's audit log holds nothing of B's.
        let audit = app.get("/api/v1/admin/audit-log?limit=100", bearer(&a.access)).await;
        assert!(audit.body["items"].as_array().unwrap().iter().all(|e| e["object_id"] != b_engineer.as_str()));
        // A refresh token cannot be replayed as another tenant's by editing its prefix.
        let forged = format!("{}.{}", b.tenant_id, a.refresh.split_once('.').unwrap().1);
        app.post("/api/v1/auth/refresh", &json!({ "refresh_token": forged }), Opts::default())
            .await
            .problem(401, "unauthenticated");
    }
}
