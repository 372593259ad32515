//! Check, then act (issue 11, defect 2): every state change writes only where the state it
//! read still holds, so requests sent side by side cannot both win. Meant for PostgreSQL
//! (SQLite serialises writes in one process, so there they pass whatever the code does);
//! run on both.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, register, role_id, set_seats, tenant_with_app,
    wx_login,
};

/// Sends `n` copies of one request at once; answers their statuses.
async fn at_once(
    app: &TestApp,
    n: usize,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> Vec<u16> {
    let calls = (0..n).map(|_| {
        let method = method.clone();
        async move {
            app.call(method, path, body, bearer(token))
                .await
                .status
                .as_u16()
        }
    });
    futures_util::future::join_all(calls).await
}

/// Audit entries of one action (at most 100).
async fn audited(app: &TestApp, admin: &str, action: &str) -> usize {
    let log = app
        .get(
            &format!("/api/v1/admin/audit-log?action={action}&limit=100"),
            bearer(admin),
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    log.body["items"].as_array().unwrap().len()
}

#[track_caller]
fn one_won(statuses: &[u16], won: u16, lost: u16) {
    assert_eq!(
        statuses.iter().filter(|s| **s == won).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == won || *s == lost),
        "{statuses:?}"
    );
}

backend_tests! {
    async fn eight_approvals_of_one_registration_make_one_decision(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", true, "exact").await;
        let end_customer = role_id(&app, &admin, "end_customer").await;
        let token = access_of(&wx_login(&app, "race").await);
        let waiting = register(&app, &token, "竞速公司", "快", "13900000021").await;
        assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.text);
        let queue = app.get("/api/v1/admin/registrations", bearer(&admin)).await;
        let id = queue.body["items"][0]["id"].as_str().unwrap().to_owned();
        let statuses = at_once(
            &app,
            8,
            reqwest::Method::POST,
            &format!("/api/v1/admin/registrations/{id}/approve"),
            Some(&json!({ "role_ids": [end_customer] })),
            &admin,
        )
        .await;
        one_won(&statuses, 200, 409);
        assert_eq!(audited(&app, &admin, "terminal_user.register").await, 1);
        assert_eq!(app.count_rows("accounts"), 1);
    }

    async fn eight_approvals_of_one_domain_request_make_one_decision(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let requested = app
            .post("/api/v1/admin/domains", &json!({ "kind": "subdomain", "label": "acme" }), bearer(&provider.access))
            .await;
        assert_eq!(requested.status, StatusCode::CREATED, "{}", requested.text);
        let id = requested.body["id"].as_str().unwrap().to_owned();
        let operator = platform_token(&app);
        let statuses = at_once(
            &app,
            8,
            reqwest::Method::POST,
            &format!("/api/v1/platform/domains/{id}/approve"),
            Some(&json!({})),
            &operator,
        )
        .await;
        one_won(&statuses, 200, 409);
        assert_eq!(audited(&app, &provider.access, "domain.approve").await, 1);
    }

    async fn seats_set_at_once_are_each_audited_and_one_holds(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let operator = platform_token(&app);
        let path = format!("/api/v1/platform/tenants/{}/seats", provider.tenant_id);
        let calls = (0..8).map(|i| {
            let (app, path, operator) = (&app, &path, &operator);
            async move {
                let answer = app
                    .call(reqwest::Method::PUT, path, Some(&json!({ "seats": 10 + i })), bearer(operator))
                    .await;
                (answer.status.as_u16(), answer.body["seats"].as_i64())
            }
        });
        let answers = futures_util::future::join_all(calls).await;
        assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 409), "{answers:?}");
        let saved = answers.iter().filter(|(s, _)| *s == 200).count();
        assert!(saved >= 1, "{answers:?}");
        // Every change that answered 200 is in the log, and nothing else.
        assert_eq!(audited(&app, &provider.access, "registration_policy.set_seats").await, saved);
        let policy = app.get("/api/v1/admin/registration-policy", bearer(&provider.access)).await;
        let seats = policy.body["seats"].as_i64();
        assert!(answers.iter().any(|(s, n)| *s == 200 && *n == seats), "{answers:?} {}", policy.text);
    }

    async fn activations_at_once_never_exceed_the_seats(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = provider.access.clone();
        set_seats(&app, &provider.tenant_id, 2).await;
        let mut accounts = Vec::new();
        for i in 0..6 {
            let (account, _) = account_with_contact(&app, &admin, &format!("公司{i}"), Some(&format!("1390013930{i}"))).await;
            accounts.push(account);
        }
        let calls = accounts.iter().map(|account| {
            let (app, admin) = (&app, &admin);
            async move {
                app.post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [account] }), bearer(admin))
                    .await
                    .status
                    .as_u16()
            }
        });
        let statuses = futures_util::future::join_all(calls).await;
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
        let active = app.get("/api/v1/admin/terminal-users?status=active", bearer(&admin)).await;
        assert_eq!(active.body["items"].as_array().unwrap().len(), 2, "{}", active.text);
    }

    async fn deleting_one_object_at_once_deletes_it_once(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access.clone();
        let role = app
            .post("/api/v1/admin/roles", &json!({ "key": "vip", "name": "VIP", "permissions": ["submit_work_order"] }), bearer(&admin))
            .await;
        assert_eq!(role.status, StatusCode::CREATED, "{}", role.text);
        let device = app.post("/api/v1/admin/devices", &json!({ "name": "冷水机" }), bearer(&admin)).await;
        assert_eq!(device.status, StatusCode::CREATED, "{}", device.text);
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        let (staff, _) = app.add_staff(&admin, "acme", "13900139399", "engineer").await;
        let apps = app.get("/api/v1/admin/wechat-apps", bearer(&admin)).await;
        let wechat_app = apps.body.as_array().or_else(|| apps.body["items"].as_array()).unwrap()[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for (path, action) in [
            (format!("/api/v1/admin/roles/{}", role.body["id"].as_str().unwrap()), "role.delete"),
            (format!("/api/v1/admin/devices/{}", device.body["id"].as_str().unwrap()), "device.delete"),
            (format!("/api/v1/admin/registration-methods/{method}"), "registration_method.delete"),
            (format!("/api/v1/admin/staff/{staff}"), "staff.delete"),
            (format!("/api/v1/admin/wechat-apps/{wechat_app}"), "wechat_app.unbind"),
        ] {
            let statuses = at_once(&app, 8, reqwest::Method::DELETE, &path, None, &admin).await;
            one_won(&statuses, 204, 404);
            assert_eq!(audited(&app, &admin, action).await, 1, "{path}");
        }
    }

    async fn two_submissions_claiming_one_photo_at_once_give_it_to_one(app: TestApp) {
        use crate::attachments::{phone_jpeg, uploaded};
        let (_, token, _) = crate::work_orders::customer(&app, "race-photo", "13900000031").await;
        let photo = uploaded(&app, &token, &phone_jpeg(40, 30)).await;
        let body = json!({ "brand": "格力", "category": "空调", "model": "KFR", "fault_description": "不制冷",
            "contact_phone": "13900000031", "attachment_ids": [photo] });
        let statuses = at_once(&app, 2, reqwest::Method::POST, "/api/v1/work-orders", Some(&body), &token).await;
        one_won(&statuses, 201, 409);
        assert_eq!(app.count_rows("work_orders"), 1);
        assert_eq!(app.count_rows("outbox_events"), 1);
        assert_eq!(app.count_rows(&format!("attachments WHERE id = '{photo}' AND work_order_id IS NOT NULL")), 1);
    }

    async fn eight_accepts_of_one_work_order_make_one_change(app: TestApp) {
        let (admin, token, _) = crate::work_orders::customer(&app, "race-accept", "13900000032").await;
        let body = json!({ "brand": "格力", "category": "空调", "model": "KFR", "fault_description": "不制冷", "contact_phone": "13900000032" });
        let order = crate::work_orders::submit(&app, &token, body).await;
        let id = order["work_order"]["id"].as_str().unwrap().to_owned();
        let statuses = at_once(&app, 8, reqwest::Method::POST, &format!("/api/v1/admin/work-orders/{id}/transitions"),
            Some(&json!({ "action": "accept" })), &admin).await;
        one_won(&statuses, 200, 409);
        assert_eq!(app.count_rows(&format!("work_order_events WHERE work_order_id = '{id}' AND action = 'accept'")), 1);
        assert_eq!(app.count_rows(&format!("outbox_events WHERE subject_id = '{id}' AND kind = 'work_order.accept'")), 1);
        assert_eq!(app.count_rows(&format!("work_orders WHERE id = '{id}' AND status = 'accepted' AND version = 2")), 1);
        assert_eq!(audited(&app, &admin, "work_order.accept").await, 1);
    }

    async fn two_templates_made_the_default_at_once_leave_one_default(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        let templates = app.get("/api/v1/admin/form-templates", bearer(&admin)).await;
        let ids: Vec<String> = templates.body["items"].as_array().unwrap().iter()
            .filter(|t| t["is_default"] == false).map(|t| t["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), 3, "{}", templates.text);
        for _ in 0..3 {
            let calls = ids.iter().map(|id| {
                let app = &app;
                let admin = admin.clone();
                let path = format!("/api/v1/admin/form-templates/{id}");
                async move { app.patch(&path, &json!({ "is_default": true }), bearer(&admin)).await.status.as_u16() }
            });
            let statuses = futures_util::future::join_all(calls).await;
            assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
            assert!(statuses.contains(&200), "{statuses:?}");
            let tenant = app.count_rows("form_templates WHERE is_default = TRUE");
            assert_eq!(tenant, 1, "exactly one default remains");
        }
    }
}
