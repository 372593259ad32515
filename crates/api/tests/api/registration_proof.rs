//! Registration that lands on an existing account needs proof; one SMS code does not buy
//! unlimited attempts; a location is written only when a registration takes effect; a
//! waiting registration sees nothing with guests off; one decision per registration, and an
//! admin's disable wins (issue 9, items 1, 2, 6, 12, 14).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::*;

const VICTIM: &str = "深圳市甲乙科技有限公司";
const VICTIM_MOBILE: &str = "13900000001";

/// A tenant with a self-registration method that needs no approval, and a customer account
/// with a contact, a private device and its serial. Answers (admin, account id, device id).
async fn tenant_with_victim(app: &TestApp, mode: &str) -> (String, String, String) {
    let admin = tenant_with_app(app).await.access;
    add_method(app, &admin, mode, false, "fuzzy").await;
    let (account, _) = account_with_contact(app, &admin, VICTIM, Some(VICTIM_MOBILE)).await;
    let device = app
        .post(
            "/api/v1/admin/devices",
            &json!({ "account_id": account, "name": "空压机", "brand": "甲", "category": "压缩机", "model": "K-1",
                     "serial_no": "SN-PRIVATE-1", "visibility": "private", "install_address": "一号车间" }),
            bearer(&admin),
        )
        .await;
    assert_eq!(device.status, StatusCode::CREATED, "{}", device.text);
    (
        admin,
        account,
        device.body["id"].as_str().unwrap().to_owned(),
    )
}

fn device_ids(list: &Answer) -> Vec<String> {
    list.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn pending(app: &TestApp, admin: &str) -> Vec<Value> {
    let queue = app.get("/api/v1/admin/registrations", bearer(admin)).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
    queue.body["items"].as_array().unwrap().clone()
}

backend_tests! {
    async fn claiming_an_existing_account_by_name_waits_without_proof(app: TestApp) {
        let (admin, account, device) = tenant_with_victim(&app, "require_registration").await;

        // Exact and fuzzy matches of another company's name, from a mobile that is none of
        // its contacts': the caller waits and reads none of its devices.
        for (code, name, mobile) in [("m1", VICTIM, "13900000091"), ("m2", "深圳甲乙科技", "13900000092")] {
            let token = access_of(&wx_login(&app, code).await);
            let claim = register(&app, &token, name, "马某", mobile).await;
            assert_eq!(claim.status, StatusCode::ACCEPTED, "{}", claim.text);
            assert_eq!(claim.body["registration_state"], "awaiting_approval");
            assert_eq!(claim.body["registration"]["approval_reason"], "unverified_claim");
            assert_eq!(claim.body["account_id"], Value::Null);
            app.get("/api/v1/devices", bearer(&token)).await.problem(403, "registration-required");
            app.get(&format!("/api/v1/devices/{device}"), bearer(&token)).await.problem(403, "registration-required");
        }
        // Staff see which account each claims, how and why it waits.
        let queue = pending(&app, &admin).await;
        assert_eq!(queue.len(), 2);
        for item in &queue {
            assert_eq!(item["claimed_account"]["id"], account.as_str());
            assert_eq!(item["claimed_account"]["name"], VICTIM);
            assert_eq!(item["claim_kind"], "account_name");
            assert_eq!(item["approval_reason"], "unverified_claim");
        }

        // The account's own contact gets in at once; so does a new company.
        let own = access_of(&wx_login(&app, "own").await);
        let joined = register(&app, &own, VICTIM, "张三", VICTIM_MOBILE).await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.text);
        assert_eq!(joined.body["account_id"], account.as_str());
        assert!(device_ids(&app.get("/api/v1/devices", bearer(&own)).await).contains(&device));
        let new = access_of(&wx_login(&app, "new").await);
        let created = register(&app, &new, "全新公司", "李四", "13900000093").await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
        assert_ne!(created.body["account_id"], account.as_str());
    }

    async fn an_invitation_code_for_the_account_is_proof_and_another_is_not(app: TestApp) {
        let (admin, account, device) = tenant_with_victim(&app, "openid_auto").await;
        let (other, _) = account_with_contact(&app, &admin, "别的公司", Some("13900000050")).await;
        let code_for = |account: String| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let created = app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 5, "account_id": account }), bearer(&admin)).await;
                assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
                assert_eq!(created.body["account_id"], account.as_str());
                created.body["code"].as_str().unwrap().to_owned()
            }
        };
        let for_victim = code_for(account.clone()).await;
        let for_other = code_for(other).await;
        let body = |code: &str| json!({ "account_name": VICTIM, "contact_name": "王五", "invitation_code": code });

        let wrong = access_of(&wx_login(&app, "w").await);
        let waits = register_with(&app, &wrong, "13900000094", body(&for_other)).await;
        assert_eq!(waits.status, StatusCode::ACCEPTED, "{}", waits.text);
        assert!(!device_ids(&app.get("/api/v1/devices", bearer(&wrong)).await).contains(&device));

        let right = access_of(&wx_login(&app, "r").await);
        let joined = register_with(&app, &right, "13900000095", body(&for_victim)).await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.text);
        assert_eq!(joined.body["account_id"], account.as_str());

        // A code for an account that is not the tenant's is refused by name.
        let bad = app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 1, "account_id": "nope" }), bearer(&admin)).await;
        bad.problem(422, "validation-failed");
        assert_eq!(bad.error_fields(), ["account_id"]);
    }

    async fn a_serial_answers_the_same_whether_or_not_it_exists(app: TestApp) {
        let (admin, account, device) = tenant_with_victim(&app, "require_registration").await;
        let by_serial = |serial: &'static str| json!({ "contact_name": "赵六", "device_serial": serial });
        let known = access_of(&wx_login(&app, "k").await);
        let unknown = access_of(&wx_login(&app, "u").await);
        let a = register_with(&app, &known, "13900000096", by_serial("SN-PRIVATE-1")).await;
        let b = register_with(&app, &unknown, "13900000097", by_serial("SN-DOES-NOT-EXIST")).await;
        for answer in [&a, &b] {
            assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
            assert_eq!(answer.body["registration_state"], "awaiting_approval");
            assert_eq!(answer.body["registration"]["approval_reason"], "unverified_claim");
        }
        let shape = |v: &Value| {
            let mut v = v.clone();
            v["user_id"] = Value::Null;
            v["mobile"] = Value::Null;
            v
        };
        assert_eq!(shape(&a.body), shape(&b.body), "the same answer either way");
        assert!(!device_ids(&app.get("/api/v1/devices", bearer(&known)).await).contains(&device));
        let queue = pending(&app, &admin).await;
        let claims: Vec<(Value, Value)> = queue.iter().map(|r| (r["claimed_account"]["id"].clone(), r["device_serial"].clone())).collect();
        assert!(claims.contains(&(json!(account), json!("SN-PRIVATE-1"))), "{claims:?}");
        assert!(claims.contains(&(Value::Null, json!("SN-DOES-NOT-EXIST"))), "{claims:?}");

        // Approving the known serial's registration joins the device's account.
        let id = queue.iter().find(|r| r["device_serial"] == "SN-PRIVATE-1").unwrap()["id"].as_str().unwrap().to_owned();
        let end_customer = role_id(&app, &admin, "end_customer").await;
        let approved = app.post(&format!("/api/v1/admin/registrations/{id}/approve"), &json!({ "role_ids": [end_customer] }), bearer(&admin)).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.body["account_id"], account.as_str());
        assert!(device_ids(&app.get("/api/v1/devices", bearer(&known)).await).contains(&device));
    }

    async fn one_sms_code_buys_five_attempts_and_a_user_ten_an_hour(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let method = add_method(&app, &admin, "require_registration", false, "exact").await;
        change_method(&app, &admin, &method, |s| s["account"]["new_account_rule"] = json!("existing_only")).await;
        account_with_contact(&app, &admin, "真实公司", Some("13900000060")).await;
        let token = access_of(&wx_login(&app, "guesser").await);
        let mobile = "13900000061";
        app.post("/api/v1/auth/sms-code", &json!({ "mobile": mobile }), tenant("acme")).await;
        let code = app.last_code(mobile).await;
        let attempt = |name: &str| json!({ "account_name": name, "contact_name": "猜", "mobile": mobile, "mobile_code": code });
        for guess in ["猜一", "猜二", "猜三", "猜四", "猜五"] {
            let wrong = app.post("/api/v1/me/registration", &attempt(guess), bearer(&token)).await;
            wrong.problem(422, "validation-failed");
            assert_eq!(wrong.error_fields(), ["account_name"], "{}", wrong.text);
        }
        // The sixth attempt with the same code fails on the code, even with the right name.
        let sixth = app.post("/api/v1/me/registration", &attempt("真实公司"), bearer(&token)).await;
        sixth.problem(422, "validation-failed");
        assert_eq!(sixth.error_fields(), ["mobile_code"], "{}", sixth.text);
        assert_eq!(me(&app, &token).await["registration_state"], "unregistered");

        // Fresh codes (other mobiles, to stay under the SMS caps) still count against the
        // user's hourly attempts: 5 spent above, 5 more, then 429.
        for i in 0..5 {
            let answer = register_with(&app, &token, &format!("1390000007{i}"), json!({ "account_name": "猜", "contact_name": "猜" })).await;
            answer.problem(422, "validation-failed");
        }
        let capped = register_with(&app, &token, "13900000080", json!({ "account_name": "真实公司", "contact_name": "猜" })).await;
        capped.problem(429, "rate-limited");
        assert!(capped.header("retry-after").is_some(), "{:?}", capped.headers);
        app.clock.advance(chrono::Duration::hours(1));
        let token = access_of(&wx_login(&app, "guesser").await);
        let later = register_with(&app, &token, "13900000081", json!({ "account_name": "真实公司", "contact_name": "猜" })).await;
        assert_eq!(later.status, StatusCode::ACCEPTED, "an hour later it counts again: {}", later.text);
    }

    async fn a_location_is_written_only_when_the_registration_takes_effect(app: TestApp) {
        let (admin, _account, device) = tenant_with_victim(&app, "require_registration").await;
        let path = format!("/api/v1/admin/devices/{device}");
        let before = app.get(&path, bearer(&admin)).await.body;
        let located = |address: &str| json!({ "contact_name": "赵六", "device_serial": "SN-PRIVATE-1",
            "device_location": { "latitude": 22.5, "longitude": 114.0, "address": address } });

        // A claim without proof waits: the device is untouched, and stays so after rejection.
        let stranger = access_of(&wx_login(&app, "s").await);
        let waits = register_with(&app, &stranger, "13900000098", located("假地址")).await;
        assert_eq!(waits.status, StatusCode::ACCEPTED, "{}", waits.text);
        assert_eq!(app.get(&path, bearer(&admin)).await.body, before);
        let id = pending(&app, &admin).await[0]["id"].as_str().unwrap().to_owned();
        let rejected = app.post(&format!("/api/v1/admin/registrations/{id}/reject"), &json!({ "reason": "不认识" }), bearer(&admin)).await;
        assert_eq!(rejected.status, StatusCode::NO_CONTENT, "{}", rejected.text);
        assert_eq!(app.get(&path, bearer(&admin)).await.body, before);

        // Too long an address is refused by name, and changes nothing.
        let own = access_of(&wx_login(&app, "own").await);
        let long = register_with(&app, &own, VICTIM_MOBILE, located(&"路".repeat(201))).await;
        long.problem(422, "validation-failed");
        assert_eq!(long.error_fields(), ["device_location.address"]);
        assert_eq!(app.get(&path, bearer(&admin)).await.body, before);

        // The account's contact registers at once: the location is written, versioned, audited.
        let joined = register_with(&app, &own, VICTIM_MOBILE, located("二号车间")).await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.text);
        let after = app.get(&path, bearer(&admin)).await.body;
        assert_eq!(after["install_address"], "二号车间");
        assert_eq!(after["latitude"], 22.5);
        assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
        let log = app.get(&format!("/api/v1/admin/audit-log?object_id={device}&action=device.update_location"), bearer(&admin)).await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "{}", log.text);
    }

    async fn a_waiting_or_rejected_user_sees_nothing_with_guests_off(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", true, "exact").await;
        app.post("/api/v1/admin/devices", &json!({ "name": "公共设备", "brand": "甲", "category": "泵", "model": "P",
            "visibility": "public" }), bearer(&admin)).await;
        let token = access_of(&wx_login(&app, "waiter").await);
        let waiting = register(&app, &token, "某公司", "等", "13900000099").await;
        assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.text);
        assert_eq!(waiting.body["data_scope"], "none");
        app.get("/api/v1/devices", bearer(&token)).await.problem(403, "registration-required");
        let id = pending(&app, &admin).await[0]["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/admin/registrations/{id}/reject"), &json!({ "reason": "否" }), bearer(&admin)).await;
        assert_eq!(me(&app, &token).await["data_scope"], "none");
        app.get("/api/v1/devices", bearer(&token)).await.problem(403, "registration-required");
    }

    async fn an_admins_disable_wins_over_a_decision(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", true, "exact").await;
        let end_customer = role_id(&app, &admin, "end_customer").await;
        let token = access_of(&wx_login(&app, "d1").await);
        register(&app, &token, "一公司", "甲", "13900000011").await;
        let token2 = access_of(&wx_login(&app, "d2").await);
        register(&app, &token2, "二公司", "乙", "13900000012").await;
        let users = app.get("/api/v1/admin/terminal-users?status=awaiting_approval", bearer(&admin)).await;
        assert_eq!(users.status, StatusCode::OK, "{}", users.text);
        for user in users.body["items"].as_array().unwrap() {
            let id = user["id"].as_str().unwrap();
            let off = app.patch(&format!("/api/v1/admin/terminal-users/{id}"), &json!({ "disabled": true }), bearer(&admin)).await;
            assert_eq!(off.status, StatusCode::OK, "{}", off.text);
        }
        let queue = pending(&app, &admin).await;
        let approve = app.post(&format!("/api/v1/admin/registrations/{}/approve", queue[0]["id"].as_str().unwrap()), &json!({ "role_ids": [end_customer] }), bearer(&admin)).await;
        approve.problem(409, "conflict");
        let reject = app.post(&format!("/api/v1/admin/registrations/{}/reject", queue[1]["id"].as_str().unwrap()), &json!({ "reason": "否" }), bearer(&admin)).await;
        assert_eq!(reject.status, StatusCode::NO_CONTENT, "{}", reject.text);
        let users = app.get("/api/v1/admin/terminal-users", bearer(&admin)).await;
        let statuses: Vec<&str> = users.body["items"].as_array().unwrap().iter().filter(|u| u["is_guest"] != true).map(|u| u["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["disabled", "disabled"], "{}", users.text);
        assert_eq!(app.count_rows("accounts"), 0, "the refused approval created nothing");
    }
}

/// Eight staff decide one registration at the same moment (four approve, four reject):
/// exactly one decision holds, and one audit entry records it.
#[actix_web::test]
async fn concurrent_decisions_of_one_registration_on_postgres() {
    let app = TestApp::spawn(baoxiu_store::Backend::Postgres).await;
    let admin = tenant_with_app(&app).await.access;
    add_method(&app, &admin, "require_registration", true, "exact").await;
    let end_customer = role_id(&app, &admin, "end_customer").await;
    let token = access_of(&wx_login(&app, "race").await);
    let waiting = register(&app, &token, "竞速公司", "快", "13900000021").await;
    assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.text);
    let id = pending(&app, &admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approve = json!({ "role_ids": [end_customer] });
    let reject = json!({ "reason": "否" });
    let calls = (0..8).map(|i| {
        let (app, admin, id) = (&app, &admin, &id);
        let (verb, body) = if i % 2 == 0 {
            ("approve", &approve)
        } else {
            ("reject", &reject)
        };
        async move {
            app.post(
                &format!("/api/v1/admin/registrations/{id}/{verb}"),
                body,
                bearer(admin),
            )
            .await
            .status
            .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(calls).await;
    let won = statuses.iter().filter(|s| **s == 200 || **s == 204).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 204, 409].contains(s)),
        "{statuses:?}"
    );
    let decided = app
        .get("/api/v1/admin/audit-log?limit=100", bearer(&admin))
        .await;
    let decisions = decided.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "terminal_user.register" || e["action"] == "registration.reject")
        .count();
    assert_eq!(decisions, 1, "{}", decided.text);
    assert!(app.count_rows("accounts") <= 1);
}
