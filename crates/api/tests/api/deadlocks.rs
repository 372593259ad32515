//! Many writes of one tenant at once (issue 11, defect 3). A transaction that inserted rows
//! referencing the tenant (a key-share lock on its row) and then took `FOR UPDATE` on that
//! row deadlocked with another doing the same: three or four of five answered 500 on
//! PostgreSQL. Locks are taken first, in one order, and the tenant lock no longer waits
//! for the key-share locks of inserts.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::*;

/// Logs in `n` WeChat users and sends each an SMS code; answers (token, mobile, code).
async fn registrants(app: &TestApp, n: usize) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let token = access_of(&wx_login(app, &format!("many-{i}")).await);
        let mobile = format!("1390000{:04}", 100 + i);
        let sent = app
            .post(
                "/api/v1/auth/sms-code",
                &json!({ "mobile": mobile }),
                tenant("acme"),
            )
            .await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        let code = app.last_code(&mobile).await;
        out.push((token, mobile, code));
    }
    app.clock.advance(chrono::Duration::seconds(61));
    out
}

/// All of them register at the same moment, with the company name `company(i)`.
async fn register_at_once(
    app: &TestApp,
    people: &[(String, String, String)],
    company: impl Fn(usize) -> String,
) -> Vec<Answer> {
    let calls = people.iter().enumerate().map(|(i, (token, mobile, code))| {
        let body = json!({
            "account_name": company(i), "contact_name": format!("联系人{i}"),
            "mobile": mobile, "mobile_code": code,
        });
        async move {
            app.post("/api/v1/me/registration", &body, bearer(token))
                .await
        }
    });
    futures_util::future::join_all(calls).await
}

backend_tests! {
    async fn five_registrations_of_one_new_company_make_one_account(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", false, "exact").await;
        let people = registrants(&app, 5).await;
        let answers = register_at_once(&app, &people, |_| "同一家新公司".into()).await;
        // The first creates the account; the others land on it, without proof, so they wait.
        for answer in &answers {
            assert!([200, 202].contains(&answer.status.as_u16()), "{}", answer.text);
        }
        assert_eq!(answers.iter().filter(|a| a.status == StatusCode::OK).count(), 1);
        assert_eq!(app.count_rows("accounts"), 1);
    }

    async fn five_registrations_of_five_companies_all_succeed(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", false, "exact").await;
        let people = registrants(&app, 5).await;
        let answers = register_at_once(&app, &people, |i| format!("第{i}家公司")).await;
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        }
        assert_eq!(app.count_rows("accounts"), 5);
    }

    async fn five_approvals_at_once_all_succeed(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", true, "exact").await;
        let end_customer = role_id(&app, &admin, "end_customer").await;
        let people = registrants(&app, 5).await;
        let answers = register_at_once(&app, &people, |i| format!("待批{i}公司")).await;
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
        }
        let queue = app.get("/api/v1/admin/registrations?limit=50", bearer(&admin)).await;
        let ids: Vec<String> = queue.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 5, "{}", queue.text);
        let body = json!({ "role_ids": [end_customer] });
        let calls = ids.iter().map(|id| {
            let (app, admin, body) = (&app, &admin, &body);
            async move {
                app.post(&format!("/api/v1/admin/registrations/{id}/approve"), body, bearer(admin))
                    .await
            }
        });
        for answer in futures_util::future::join_all(calls).await {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        }
        assert_eq!(app.count_rows("accounts"), 5);
    }
}
