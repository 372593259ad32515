//! Guest upgrade (SPEC section 3): orders submitted as the guest with a mobile move to the
//! user who later logs in by SMS code with that mobile — only those, only in that tenant,
//! once.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{access_of, account_with_contact, add_method, put_policy, tenant_with_app};
use crate::work_orders::submit;

fn order(phone: &str, fault: &str) -> Value {
    json!({ "brand": "格力", "category": "空调", "model": "KFR-35", "fault_description": fault, "contact_phone": phone })
}

/// A guest session of `slug` (whose policy allows guests).
async fn guest(app: &TestApp, slug: &str) -> String {
    access_of(
        &app.post("/api/v1/auth/guest", &json!({}), tenant(slug))
            .await,
    )
}

/// Turns guests on in the tenant of `admin`, their orders going to a guest account.
async fn guests_on(app: &TestApp, admin: &str) -> String {
    let (account, contact) = account_with_contact(app, admin, "散客", None).await;
    put_policy(
        app,
        admin,
        json!({ "guest_enabled": true, "guest_account_id": account, "guest_contact_id": contact }),
    )
    .await;
    account
}

async fn sms_login(app: &TestApp, slug: &str, mobile: &str) -> Answer {
    let sent = app
        .post(
            "/api/v1/auth/sms-code",
            &json!({ "mobile": mobile }),
            tenant(slug),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    let code = app.last_code(mobile).await;
    let login = app
        .post(
            "/api/v1/auth/sms-login",
            &json!({ "mobile": mobile, "code": code }),
            tenant(slug),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    login
}

fn id_of(created: &Value) -> String {
    created["work_order"]["id"].as_str().unwrap().to_owned()
}

/// Whether the order is still the guest identity's.
fn still_the_guests(app: &TestApp, id: &str) -> bool {
    app.count_rows(&format!(
        "work_orders w JOIN terminal_users t ON t.tenant_id = w.tenant_id AND t.id = w.terminal_user_id WHERE w.id = '{id}' AND t.kind = 'guest'"
    )) == 1
}

fn numbers(list: &Answer) -> Vec<String> {
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let mut found: Vec<String> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

backend_tests! {
    async fn an_sms_login_takes_over_the_guest_orders_with_its_mobile(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let guest_account = guests_on(&app, &admin).await;
        // An unknown mobile's SMS login creates its user through this method.
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let first_guest = guest(&app, "acme").await;
        let mine = submit(&app, &first_guest, order("13900139701", "不制冷")).await;
        let mine_spelled = submit(&app, &first_guest, order("+86 139-0013-9701", "漏水")).await;
        let second_guest = guest(&app, "acme").await;
        let theirs = submit(&app, &second_guest, order("13900139702", "异响")).await;
        // The same mobile on a guest order of another tenant.
        let other_admin = app.sign_up("other", "13800138702").await.access;
        guests_on(&app, &other_admin).await;
        let elsewhere = submit(&app, &guest(&app, "other").await, order("13900139701", "别家的")).await;

        let login = sms_login(&app, "acme", "13900139701").await;
        let user = access_of(&login);
        let user_id = login.body["me"]["user_id"].as_str().unwrap().to_owned();
        let mut expected = vec![id_of(&mine), id_of(&mine_spelled)];
        expected.sort();
        assert_eq!(numbers(&app.get("/api/v1/work-orders", bearer(&user)).await), expected);
        let detail = app.get(&format!("/api/v1/work-orders/{}", id_of(&mine)), bearer(&user)).await;
        assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
        let steps: Vec<&str> = detail.body["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(steps, ["submit", "guest_upgrade"]);
        // Staff see the order under the user; the user has no account yet, so the guest
        // account keeps it.
        let staff_view = app.get(&format!("/api/v1/admin/work-orders/{}", id_of(&mine)), bearer(&admin)).await;
        assert_eq!(staff_view.body["work_order"]["terminal_user_id"], user_id.as_str(), "{}", staff_view.text);
        assert_eq!(staff_view.body["work_order"]["account_id"], guest_account.as_str());
        assert_eq!(app.count_rows("audit_log WHERE action = 'work_order.guest_upgrade'"), 2);

        // The other mobile's order stays with the guest, the other tenant's too.
        assert!(still_the_guests(&app, &id_of(&theirs)));
        assert!(still_the_guests(&app, &id_of(&elsewhere)));
        assert_eq!(numbers(&app.get("/api/v1/work-orders", bearer(&second_guest)).await), Vec::<String>::new());

        // A second login moves nothing again.
        app.clock.advance(Duration::seconds(61));
        let again = access_of(&sms_login(&app, "acme", "13900139701").await);
        assert_eq!(numbers(&app.get("/api/v1/work-orders", bearer(&again)).await), expected);
        assert_eq!(app.count_rows("audit_log WHERE action = 'work_order.guest_upgrade'"), 2);
        assert_eq!(app.count_rows("work_order_events WHERE action = 'guest_upgrade'"), 2);
    }

    async fn a_registered_contact_gets_the_orders_under_their_account(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        guests_on(&app, &admin).await;
        let (account, contact) = account_with_contact(&app, &admin, "甲公司", Some("13900139703")).await;
        let end_customer = crate::terminal::role_id(&app, &admin, "end_customer").await;
        let activated = app.post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [account], "role_ids": [end_customer] }), bearer(&admin)).await;
        assert_eq!(activated.status, StatusCode::CREATED, "{}", activated.text);
        let guest_order = submit(&app, &guest(&app, "acme").await, order("139 0013 9703", "不制冷")).await;

        let user = access_of(&sms_login(&app, "acme", "13900139703").await);
        assert_eq!(numbers(&app.get("/api/v1/work-orders", bearer(&user)).await), [id_of(&guest_order)]);
        let staff_view = app.get(&format!("/api/v1/admin/work-orders/{}", id_of(&guest_order)), bearer(&admin)).await;
        assert_eq!(staff_view.body["work_order"]["account_id"], account.as_str(), "{}", staff_view.text);
        assert_eq!(staff_view.body["work_order"]["contact_id"], contact.as_str());
        assert_eq!(staff_view.body["work_order"]["created_by_kind"], "guest", "who submitted it stays known");
    }
}
