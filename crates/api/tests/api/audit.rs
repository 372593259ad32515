//! The audit log records admin changes with before and after, in the same transaction.

use reqwest::StatusCode;
use serde_json::{Value, json};

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
        // Newest first: the log is a feed (the sign-up's two entries share a time).
        assert_eq!(actions, ["settings.update", "staff.update", "staff.create", "tenant.create", "staff.create"]);

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

backend_tests! {
    async fn the_log_pages_with_cursors_without_repeats_or_gaps(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = bearer(&provider.access);
        for i in 0..4 {
            app.add_staff(&provider.access, "acme", &format!("1390013901{i}"), "engineer").await;
        }
        for prefix in ["AA", "BB", "CC"] {
            let changed = app.patch("/api/v1/admin/settings", &json!({ "number_prefix": prefix }), admin.clone()).await;
            assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        }
        let log = app.get("/api/v1/admin/audit-log?limit=100", admin.clone()).await;
        let entries = log.body["items"].as_array().unwrap();
        let n = entries.len();
        assert_eq!(entries[n - 1]["created_at"], entries[n - 2]["created_at"], "{}", log.text);
        let all: Vec<String> = entries.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        assert!(all.len() > 5, "{all:?}");

        // Limits of 1 and 3 put page breaks between entries written by one request (the
        // provider's sign-up writes two with one time), 2 does not.
        for limit in [1, 2, 3] {
            let mut seen: Vec<String> = Vec::new();
            let mut pages = 0;
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/api/v1/admin/audit-log?limit={limit}&cursor={c}"),
                    None => format!("/api/v1/admin/audit-log?limit={limit}"),
                };
                let page = app.get(&path, admin.clone()).await;
                assert_eq!(page.status, StatusCode::OK, "{}", page.text);
                let items = page.body["items"].as_array().unwrap();
                assert!(!items.is_empty() && items.len() <= limit, "{}", page.text);
                for entry in items {
                    let id = entry["id"].as_str().unwrap().to_owned();
                    assert!(!seen.contains(&id), "{id} came twice with limit {limit}");
                    seen.push(id);
                }
                pages += 1;
                assert!(pages <= all.len(), "the cursor never ends");
                match &page.body["next_cursor"] {
                    Value::String(next) => cursor = Some(next.clone()),
                    Value::Null => break,
                    other => panic!("next_cursor is {other}"),
                }
            }
            // Every entry once, newest first, on as few pages as it takes.
            assert_eq!(seen, all, "limit {limit}");
            assert_eq!(pages, all.len().div_ceil(limit), "limit {limit}");
        }
        // Filters and the cursor work together.
        let staff = app.get("/api/v1/admin/audit-log?action=staff.create&limit=3", admin.clone()).await;
        let first: Vec<&str> = staff.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(first, ["staff.create"; 3]);
        let next = staff.body["next_cursor"].as_str().unwrap();
        let rest = app.get(&format!("/api/v1/admin/audit-log?action=staff.create&limit=3&cursor={next}"), admin.clone()).await;
        assert_eq!(rest.body["items"].as_array().unwrap().len(), 2, "{}", rest.text);
        assert_eq!(rest.body["next_cursor"], Value::Null);
    }
}
