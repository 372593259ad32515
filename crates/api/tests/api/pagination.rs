//! One keyset paginator behind every list: each pages through more rows than a page without
//! repeats or gaps, in its order, and refuses a cursor another list gave out or a client
//! changed (422 naming `cursor`). The five lists that once answered whole arrays are here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{MINI_APP, add_method, tenant_with_app};

/// Every id of a list, `limit` at a time, following `next_cursor` to the end.
async fn page_through(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let join = if path.contains('?') { '&' } else { '?' };
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}{join}limit={limit}&cursor={c}"),
            None => format!("{path}{join}limit={limit}"),
        };
        let page = app.get(&url, bearer(token)).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text);
        let items = page.body["items"].as_array().unwrap();
        assert!(
            !items.is_empty() && items.len() <= limit,
            "{url}: {}",
            page.text
        );
        for item in items {
            let id = item["id"].as_str().unwrap().to_owned();
            assert!(!seen.contains(&id), "{id} came twice in {path}");
            seen.push(id);
        }
        match &page.body["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => return seen,
            other => panic!("next_cursor is {other}"),
        }
    }
    panic!("the cursor of {path} never ends");
}

/// The ids of a list's first (and only) page of up to 100.
async fn all_ids(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let join = if path.contains('?') { '&' } else { '?' };
    let page = app
        .get(&format!("{path}{join}limit=100"), bearer(token))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["next_cursor"], Value::Null);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn created(answer: Answer) -> String {
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().unwrap().to_owned()
}

backend_tests! {
    async fn the_lists_that_were_arrays_page_like_the_others(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access.clone();
        // Rows enough for several pages of each list, some written in the same microsecond.
        created(app.post("/api/v1/admin/wechat-apps", &json!({ "app_id": "wxacme0oa0000001", "kind": "official_account", "name": "Acme 服务号", "secret": "acme-oa-secret" }), bearer(&admin)).await).await;
        for i in 0..4 {
            created(app.post("/api/v1/admin/roles", &json!({ "key": format!("role{i}"), "name": format!("角色 {i}"), "permissions": ["submit_work_order"] }), bearer(&admin)).await).await;
            created(app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": i + 1 }), bearer(&admin)).await).await;
            if i % 2 == 0 {
                app.advance_clock(chrono::Duration::seconds(1));
            }
        }
        for (mode, check) in [("openid_auto", "exact"), ("require_registration", "fuzzy"), ("require_registration", "exact")] {
            add_method(&app, &admin, mode, false, check).await;
        }
        let account = created(app.post("/api/v1/admin/accounts", &json!({ "name": "广州某某医院" }), bearer(&admin)).await).await;
        let contacts = format!("/api/v1/admin/accounts/{account}/contacts");
        for i in 0..5 {
            created(app.post(&contacts, &json!({ "name": format!("联系人 {i}"), "mobile": format!("1390013902{i}") }), bearer(&admin)).await).await;
        }

        for (path, rows) in [
            ("/api/v1/admin/roles", 6),
            ("/api/v1/admin/invitation-codes", 4),
            ("/api/v1/admin/registration-methods", 3),
            ("/api/v1/admin/wechat-apps", 2),
            (contacts.as_str(), 5),
        ] {
            let all = all_ids(&app, &admin, path).await;
            assert_eq!(all.len(), rows, "{path}");
            for limit in [1, 2, 3] {
                assert_eq!(page_through(&app, &admin, path, limit).await, all, "{path}, limit {limit}");
            }
        }
        // The apps page oldest first, secrets never shown.
        let apps = app.get("/api/v1/admin/wechat-apps?limit=1", bearer(&admin)).await;
        assert_eq!(apps.body["items"][0]["app_id"], MINI_APP);
        assert!(apps.body["next_cursor"].is_string());
        assert!(!apps.text.contains("secret\""), "{}", apps.text);
        // The other lists page through the same paginator.
        for i in 0..3 {
            created(app.post("/api/v1/admin/devices", &json!({ "name": format!("CT {i}"), "serial_no": format!("SN-{i}") }), bearer(&admin)).await).await;
        }
        for path in ["/api/v1/admin/devices", "/api/v1/admin/accounts", "/api/v1/admin/staff", "/api/v1/admin/audit-log"] {
            let all = all_ids(&app, &admin, path).await;
            assert_eq!(page_through(&app, &admin, path, 2).await, all, "{path}");
        }
        // The audit log is a feed: newest first.
        let log = app.get("/api/v1/admin/audit-log?limit=1", bearer(&admin)).await;
        assert_eq!(log.body["items"][0]["object_type"], "device", "{}", log.text);
    }

    async fn a_cursor_works_only_on_the_list_that_gave_it_out(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = provider.access.clone();
        for i in 0..3 {
            created(app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": i + 1 }), bearer(&admin)).await).await;
            created(app.post("/api/v1/admin/devices", &json!({ "name": format!("CT {i}"), "serial_no": format!("SN-{i}") }), bearer(&admin)).await).await;
        }
        let roles = app.get("/api/v1/admin/roles?limit=1", bearer(&admin)).await;
        let cursor = roles.body["next_cursor"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/api/v1/admin/roles?limit=1&cursor={cursor}"), bearer(&admin)).await.status, StatusCode::OK);

        // Another list's cursor, even for rows of the same shape: refused, nothing listed.
        for path in ["/api/v1/admin/invitation-codes", "/api/v1/admin/devices", "/api/v1/admin/audit-log", "/api/v1/admin/wechat-apps"] {
            let refused = app.get(&format!("{path}?cursor={cursor}"), bearer(&admin)).await;
            refused.problem(422, "validation-failed");
            assert_eq!(refused.error_fields(), ["cursor"], "{path}: {}", refused.text);
        }
        // A cursor changed by the client: its id, its time, or junk.
        let plain = String::from_utf8(URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
        let fields: Vec<&str> = plain.split('|').collect();
        let other_id = plain.replace(fields[4], &format!("{}0", fields[4]));
        let other_time = plain.replace(fields[3], &(fields[3].parse::<i64>().unwrap() - 1).to_string());
        let other_list = plain.replace("terminal_roles", "invitation_codes");
        for changed in [other_id, other_time, other_list] {
            let changed = URL_SAFE_NO_PAD.encode(changed);
            let refused = app.get(&format!("/api/v1/admin/roles?cursor={changed}"), bearer(&admin)).await;
            refused.problem(422, "validation-failed");
            assert_eq!(refused.error_fields(), ["cursor"], "{}", refused.text);
        }
        let junk = app.get("/api/v1/admin/roles?cursor=bm90LWEtY3Vyc29y", bearer(&admin)).await;
        junk.problem(422, "validation-failed");
        assert_eq!(junk.error_fields(), ["cursor"]);
    }
}
