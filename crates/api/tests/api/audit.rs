//! The audit log records admin changes with before and after, in the same transaction.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn admin_changes_are_recorded_and_filterable(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = bearer(&provider.access);
        let (engineer_id, _) = app.add_staff(&provider.access, "acme", "13900139000", "engineer").await;
        app.patch(&format!("/api/v1/admin/staff/{engineer_id}"), &json!({ "name": "李工" }), admin.clone()).await;
        app.patch("/api/v1/admin/settings", &json!({ "number_prefix": "AC" }), admin.clone()).await;
        // A refused change leaves no entry.
        app.patch("/api/v1/admin/settings", &json!({ "number_prefix": "bad prefix" }), admin.clone()).await;

        let log = app.get("/api/v1/admin/audit-log", admin.clone()).await;
        assert_eq!(log.status, StatusCode::OK);
        let actions: Vec<&str> = log.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["staff.create", "tenant.create", "staff.create", "staff.update", "settings.update"]);

        let updates = app.get(&format!("/api/v1/admin/audit-log?object_id={engineer_id}&action=staff.update"), admin.clone()).await;
        let items = updates.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        let entry = &items[0];
        assert_eq!(entry["actor_kind"], "staff");
        assert_eq!(entry["actor_id"], provider.admin_id);
        assert_eq!(entry["before"]["name"], "engineer 13900139000");
        assert_eq!(entry["after"]["name"], "李工");
        assert!(entry["request_id"].is_string());
        // Never a password hash in the log.
        assert!(!log.text.contains("argon2"));

        let settings = app.get("/api/v1/admin/audit-log?object_type=settings", admin.clone()).await;
        let entry = &settings.body["items"][0];
        assert_eq!(entry["before"]["number_prefix"], "BX");
        assert_eq!(entry["after"]["number_prefix"], "AC");
        let future = app.get("/api/v1/admin/audit-log?since=2999-01-01T00:00:00Z", admin.clone()).await;
        assert_eq!(future.body["items"].as_array().unwrap().len(), 0);
    }
}
