//! Work orders end to end: submit → accept → assign → check-in → complete → rate, with the
//! timeline and the outbox; tracking links; the duplicate guard; numbers under concurrent
//! submissions; Idempotency-Key; bad input and other people's orders.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::attachments::{phone_jpeg, uploaded};
use crate::backend_tests;
use crate::devices::add_device;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, put_policy, register, tenant_with_app, wx_login,
};

/// A tenant with an openid_auto method, and a customer registered into account 甲公司 by
/// the WeChat code `code` and `mobile`. Answers (admin, the customer's token, account).
pub async fn customer(app: &TestApp, code: &str, mobile: &str) -> (String, String, String) {
    let provider = tenant_with_app(app).await;
    let admin = provider.access.clone();
    add_method(app, &admin, "openid_auto", false, "exact").await;
    let (account, _) = account_with_contact(app, &admin, "甲公司", Some(mobile)).await;
    let token = another_customer(app, code, "甲公司", mobile).await;
    (admin, token, account)
}

/// One more customer of the tenant, registered into `company` (which must exist).
pub async fn another_customer(app: &TestApp, code: &str, company: &str, mobile: &str) -> String {
    let token = access_of(&wx_login(app, code).await);
    let registered = register(app, &token, company, "客户", mobile).await;
    assert!(registered.status.is_success(), "{}", registered.text);
    // A fresh token: the registration changed the roles the first one carried.
    access_of(&wx_login(app, code).await)
}

/// Submits as `token`; asserts 201 and answers the body.
pub async fn submit(app: &TestApp, token: &str, body: Value) -> Value {
    let answer = app.post("/api/v1/work-orders", &body, bearer(token)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body
}

pub fn without_device() -> Value {
    json!({ "brand": "格力", "category": "空调", "model": "KFR-35", "fault_description": "不制冷", "contact_phone": "13900139999" })
}

async fn transition(app: &TestApp, admin: &str, id: &str, body: Value) -> Answer {
    app.post(
        &format!("/api/v1/admin/work-orders/{id}/transitions"),
        &body,
        bearer(admin),
    )
    .await
}

#[track_caller]
fn ok(answer: &Answer) -> &Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    &answer.body
}

/// Turns the QR codes on, generates one blank code and binds it to `device`; answers it.
pub async fn bind_a_code(app: &TestApp, admin: &str, device: &str) -> String {
    let settings = app.get("/api/v1/admin/qr-settings", bearer(admin)).await;
    let mut body = settings.body.clone();
    body["enabled"] = json!(true);
    body["rule"] = json!({ "kind": "sequence", "prefix": "WO", "digits": 5 });
    let saved = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/qr-settings",
            Some(&body),
            bearer(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let generated = app
        .post(
            "/api/v1/admin/qr-codes",
            &json!({ "count": 1 }),
            bearer(admin),
        )
        .await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
    let bound = app
        .post(
            "/api/v1/scan/WO00001/bind",
            &json!({ "device_id": device }),
            bearer(admin),
        )
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
    "WO00001".to_owned()
}

fn number_shape(number: &str) -> bool {
    let parts: Vec<&str> = number.split('-').collect();
    parts.len() == 3
        && parts[0] == "BX"
        && parts[1].len() == 8
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && parts[2].len() >= 5
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

backend_tests! {
    async fn an_order_runs_from_a_scanned_code_to_rating_with_its_timeline_and_outbox(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-flow", "13900139501").await;
        let device = add_device(&app, &admin, json!({ "name": "1号空调", "account_id": account, "serial_no": "WO-FLOW-1",
            "warranty_status": "out_of_warranty", "warranty_ends_on": "2099-12-31", "install_address": "深圳南山" })).await;
        let code = bind_a_code(&app, &admin, &device).await;
        // The customer scans the code: the device, and "report a fault".
        let scanned = app.get(&format!("/api/v1/scan/{code}"), bearer(&token)).await;
        assert_eq!(ok(&scanned)["kind"], "device");
        assert_eq!(scanned.body["device"]["id"], device.as_str());
        assert!(scanned.body["actions"].as_array().unwrap().contains(&json!("report_fault")), "{}", scanned.text);
        // Two photos, then the submission naming the code and the photos.
        let photos = [uploaded(&app, &token, &phone_jpeg(64, 48)).await, uploaded(&app, &token, &phone_jpeg(48, 64)).await];
        let submitted = submit(&app, &token, json!({ "qr_code": code, "fault_description": "不制冷", "service_type": "repair",
            "attachment_ids": photos })).await;
        let order = &submitted["work_order"];
        let id = order["id"].as_str().unwrap().to_owned();
        assert!(number_shape(order["number"].as_str().unwrap()), "{order}");
        assert_eq!(order["status"], "pending");
        assert_eq!(order["device_id"], device.as_str());
        // The warranty comes from the device's end date, not from what it says.
        assert_eq!(order["warranty_status"], "in_warranty");
        assert_eq!(order["address"], "深圳南山");
        assert_eq!(order["contact_phone"], "13900139501", "the login mobile");
        assert!(order["response_due_at"].is_string() && order["resolution_due_at"].is_string());
        assert!(order.get("account_id").is_none(), "customers do not see internal ids: {order}");
        assert_eq!(submitted["tracking_token"].as_str().unwrap().len(), 43);
        assert_eq!(submitted["attachments"].as_array().unwrap().len(), 2);

        let (engineer_id, engineer) = app.add_staff(&admin, "acme", "13700137501", "engineer").await;
        assert_eq!(ok(&transition(&app, &admin, &id, json!({ "action": "accept" })).await)["status"], "accepted");
        let assigned = transition(&app, &admin, &id, json!({ "action": "assign", "engineer_id": engineer_id })).await;
        assert_eq!(ok(&assigned)["status"], "assigned");
        assert_eq!(assigned.body["engineer_id"], engineer_id.as_str());
        let mine = app.get("/api/v1/engineer/work-orders", bearer(&engineer)).await;
        assert_eq!(ok(&mine)["items"][0]["id"], id.as_str());
        let checked_in = app.post(&format!("/api/v1/engineer/work-orders/{id}/check-in"), &json!({ "latitude": 22.54, "longitude": 113.93 }), bearer(&engineer)).await;
        assert_eq!(ok(&checked_in)["status"], "in_progress");
        assert_eq!(checked_in.body["check_in"]["latitude"], 22.54);
        let checked_out = app.post(&format!("/api/v1/engineer/work-orders/{id}/check-out"), &json!({ "latitude": 22.54, "longitude": 113.93, "note": "换了压缩机" }), bearer(&engineer)).await;
        assert_eq!(ok(&checked_out)["status"], "completed");

        let rated = app.post(&format!("/api/v1/work-orders/{id}/rating"), &json!({ "stars": 5, "tags": ["响应及时", "技术专业"] }), bearer(&token)).await;
        assert_eq!(ok(&rated)["rating"]["stars"], 5);
        let again = app.post(&format!("/api/v1/work-orders/{id}/rating"), &json!({ "stars": 4 }), bearer(&token)).await;
        assert_eq!(again.problem(409, "conflict")["code"], "already-rated");

        // The customer's timeline: each step, by whom (kind), when, in order.
        let detail = app.get(&format!("/api/v1/work-orders/{id}"), bearer(&token)).await;
        let steps: Vec<(String, String)> = ok(&detail)["timeline"].as_array().unwrap().iter()
            .map(|e| {
                assert!(e.get("actor_id").is_none(), "customers do not see whose id: {e}");
                (e["action"].as_str().unwrap().to_owned(), e["actor_kind"].as_str().unwrap().to_owned())
            })
            .collect();
        let expected: Vec<(String, String)> = [("submit", "terminal"), ("accept", "staff"), ("assign", "staff"), ("check_in", "staff"), ("check_out", "staff"), ("rate", "terminal")]
            .iter().map(|(a, k)| ((*a).to_owned(), (*k).to_owned())).collect();
        assert_eq!(steps, expected);
        let times: Vec<chrono::DateTime<chrono::Utc>> = detail.body["timeline"].as_array().unwrap().iter()
            .map(|e| e["at"].as_str().unwrap().parse().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert_eq!(detail.body["timeline"][4]["from_status"], "in_progress");
        assert_eq!(detail.body["timeline"][4]["to_status"], "completed");
        assert_eq!(detail.body["timeline"][4]["note"], "换了压缩机");
        let listed: Vec<&str> = detail.body["attachments"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(listed, photos);
        // Staff see who did each step.
        let staff_view = app.get(&format!("/api/v1/admin/work-orders/{id}"), bearer(&admin)).await;
        let actors: Vec<&str> = ok(&staff_view)["timeline"].as_array().unwrap().iter().map(|e| e["actor_id"].as_str().unwrap()).collect();
        let user_id = staff_view.body["work_order"]["terminal_user_id"].as_str().unwrap();
        assert_eq!([actors[0], actors[5]], [user_id, user_id]);
        assert_eq!(actors[1], actors[2], "the admin accepted and assigned");
        assert_ne!(actors[1], engineer_id.as_str());
        assert_eq!([actors[3], actors[4]], [engineer_id.as_str(), engineer_id.as_str()]);
        assert_eq!(staff_view.body["work_order"]["account_id"], account.as_str());
        // Exactly one outbox event per change, in the change's transaction, none delivered yet.
        for kind in ["submit", "accept", "assign", "check_in", "check_out", "rate"] {
            assert_eq!(app.count_rows(&format!("outbox_events WHERE subject_id = '{id}' AND kind = 'work_order.{kind}' AND delivered_at IS NULL")), 1, "{kind}");
        }
        assert_eq!(app.count_rows("outbox_events"), 6, "the refused second rating wrote none");
        assert_eq!(app.count_rows(&format!("work_order_events WHERE work_order_id = '{id}'")), 6);
        // Staff steps are audited.
        assert_eq!(app.count_rows(&format!("audit_log WHERE object_id = '{id}'")), 2);
        // The customer confirms: closed.
        let confirmed = app.post(&format!("/api/v1/work-orders/{id}/confirm"), &json!({}), bearer(&token)).await;
        assert_eq!(ok(&confirmed)["status"], "closed");
        assert_eq!(app.count_rows("outbox_events"), 7);
    }

    async fn a_guest_follows_and_rates_an_order_by_its_tracking_link_alone(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;
        let guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        let first = submit(&app, &guest, without_device()).await;
        let token = first["tracking_token"].as_str().unwrap().to_owned();
        let id = first["work_order"]["id"].as_str().unwrap().to_owned();
        let other_guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        let second = submit(&app, &other_guest, json!({ "brand": "美的", "category": "冰箱", "model": "BCD", "fault_description": "异响", "contact_phone": "13900139998" })).await;
        let second_token = second["tracking_token"].as_str().unwrap().to_owned();
        // Guests see none of each other's orders, theirs by id neither.
        for token in [&guest, &other_guest] {
            let list = app.get("/api/v1/work-orders", bearer(token)).await;
            assert_eq!(ok(&list)["items"], json!([]));
            app.get(&format!("/api/v1/work-orders/{id}"), bearer(token)).await.problem(404, "not-found");
        }
        // The order belongs to the guest account.
        let staff_view = app.get(&format!("/api/v1/admin/work-orders/{id}"), bearer(&admin)).await;
        assert_eq!(ok(&staff_view)["work_order"]["account_id"], guest_account.as_str());
        assert_eq!(staff_view.body["work_order"]["created_by_kind"], "guest");

        let tracked = app.get(&format!("/api/v1/track/{token}"), tenant("acme")).await;
        assert_eq!(ok(&tracked)["number"], first["work_order"]["number"]);
        assert_eq!(tracked.body["status"], "pending");
        assert!(tracked.body.get("contact_phone").is_none(), "{}", tracked.text);
        assert_eq!(tracked.body["may_rate"], false);
        // The other guest's link shows the other order, never this one; wrong tokens: 404.
        let theirs = app.get(&format!("/api/v1/track/{second_token}"), tenant("acme")).await;
        assert_eq!(ok(&theirs)["number"], second["work_order"]["number"]);
        let wrong = format!("{}A", &token[..42]);
        let wrong = if wrong == token { format!("{}B", &token[..42]) } else { wrong };
        app.get(&format!("/api/v1/track/{wrong}"), tenant("acme")).await.problem(404, "not-found");
        app.get("/api/v1/track/short", tenant("acme")).await.problem(404, "not-found");
        app.sign_up("other", "13800138777").await;
        app.get(&format!("/api/v1/track/{token}"), tenant("other")).await.problem(404, "not-found");
        // Not rated before completion.
        let early = app.post(&format!("/api/v1/track/{token}/rating"), &json!({ "stars": 5 }), tenant("acme")).await;
        assert_eq!(early.problem(409, "conflict")["code"], "not-completed");

        let (engineer_id, _) = app.add_staff(&admin, "acme", "13700137502", "engineer").await;
        for step in [json!({ "action": "accept" }), json!({ "action": "assign", "engineer_id": engineer_id }), json!({ "action": "start" }), json!({ "action": "complete" })] {
            ok(&transition(&app, &admin, &id, step).await);
        }
        // A low rating must say why.
        let why = app.post(&format!("/api/v1/track/{token}/rating"), &json!({ "stars": 1, "tags": ["响应慢"] }), tenant("acme")).await;
        why.problem(422, "validation-failed");
        assert_eq!(why.error_fields(), ["comment"]);
        let rated = app.post(&format!("/api/v1/track/{token}/rating"), &json!({ "stars": 1, "tags": ["响应慢"], "comment": "等了三天" }), tenant("acme")).await;
        assert_eq!(ok(&rated)["rating"]["stars"], 1);
        let steps: Vec<&str> = rated.body["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(steps, ["submit", "accept", "assign", "start", "complete", "rate"]);
        let twice = app.post(&format!("/api/v1/track/{token}/rating"), &json!({ "stars": 5 }), tenant("acme")).await;
        assert_eq!(twice.problem(409, "conflict")["code"], "already-rated");
    }

    async fn a_device_with_an_open_order_answers_that_order_until_confirmed(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-dup", "13900139502").await;
        let device = add_device(&app, &admin, json!({ "name": "2号空调", "account_id": account, "serial_no": "WO-DUP-1" })).await;
        let first = submit(&app, &token, json!({ "serial": "wo dup 1", "fault_description": "漏水" })).await;
        let first_id = first["work_order"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["work_order"]["device_id"], device.as_str());
        let again = app.post("/api/v1/work-orders", &json!({ "device_id": device, "fault_description": "还是漏水" }), bearer(&token)).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["code"], "open-order-exists");
        assert_eq!(again.body["duplicate_of"]["id"], first_id.as_str());
        assert_eq!(again.body["duplicate_of"]["number"], first["work_order"]["number"]);
        assert_eq!(app.count_rows("work_orders"), 1, "nothing created");
        let confirmed = app.post("/api/v1/work-orders", &json!({ "device_id": device, "fault_description": "还是漏水", "confirm_duplicate": true }), bearer(&token)).await;
        assert_eq!(confirmed.status, StatusCode::CREATED, "{}", confirmed.text);
        assert_eq!(app.count_rows("work_orders"), 2);
        // Once the first is closed or cancelled, nothing stands in the way.
        ok(&app.post(&format!("/api/v1/work-orders/{first_id}/cancel"), &json!({ "reason": "重复" }), bearer(&token)).await);
        let second_id = confirmed.body["work_order"]["id"].as_str().unwrap().to_owned();
        ok(&app.post(&format!("/api/v1/work-orders/{second_id}/cancel"), &json!({}), bearer(&token)).await);
        submit(&app, &token, json!({ "device_id": device, "fault_description": "第三次" })).await;
    }

    async fn two_hundred_concurrent_submissions_get_two_hundred_numbers(app: TestApp) {
        let (_, token, _) = customer(&app, "wo-race", "13900139503").await;
        let sends = (0..200).map(|i| {
            let app = &app;
            let token = token.clone();
            async move {
                let mut body = without_device();
                body["fault_description"] = json!(format!("故障 {i}"));
                app.post("/api/v1/work-orders", &body, bearer(&token)).await
            }
        });
        let answers = futures_util::future::join_all(sends).await;
        let mut numbers = BTreeSet::new();
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
            numbers.insert(answer.body["work_order"]["number"].as_str().unwrap().to_owned());
        }
        assert_eq!(numbers.len(), 200);
        assert_eq!(app.count_rows("work_orders"), 200);
        let last = numbers.iter().next_back().unwrap();
        assert!(last.ends_with("-00200"), "{last}");
    }

    async fn a_submission_retried_with_its_key_creates_one(app: TestApp) {
        let (_, token, _) = customer(&app, "wo-key", "13900139504").await;
        let send = |body: Value| {
            let app = &app;
            let token = token.clone();
            async move {
                let answer = app.client.post(format!("{}/api/v1/work-orders", app.base))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", "submit-1")
                    .json(&body)
                    .send().await.unwrap();
                let status = answer.status();
                let body: Value = answer.json().await.unwrap();
                (status, body)
            }
        };
        let (first, first_body) = send(without_device()).await;
        assert_eq!(first, StatusCode::CREATED, "{first_body}");
        let (retry, retry_body) = send(without_device()).await;
        assert_eq!(retry, StatusCode::CREATED);
        assert_eq!(retry_body["work_order"]["id"], first_body["work_order"]["id"]);
        assert_eq!(app.count_rows("work_orders"), 1);
        let mut other = without_device();
        other["fault_description"] = json!("别的故障");
        let (refused, refused_body) = send(other).await;
        assert_eq!(refused, StatusCode::UNPROCESSABLE_ENTITY, "{refused_body}");
        assert_eq!(refused_body["errors"][0]["field"], "Idempotency-Key");
        assert_eq!(app.count_rows("work_orders"), 1);
        assert_eq!(app.count_rows("outbox_events"), 1);
    }

    /// The submission judges the tenant's subscription on the principal's own statement:
    /// once the trial is over it is `tenant-inactive`, with a key or without, and nothing is
    /// created or kept.
    async fn an_expired_tenant_takes_no_submission(app: TestApp) {
        let (_, token, _) = customer(&app, "wo-expired", "13900139530").await;
        submit(&app, &token, without_device()).await;
        app.clock.advance(chrono::Duration::days(16));
        let token = access_of(&wx_login(&app, "wo-expired").await);
        app.post("/api/v1/work-orders", &without_device(), bearer(&token)).await.problem(403, "tenant-inactive");
        let keyed = app.client.post(format!("{}/api/v1/work-orders", app.base))
            .bearer_auth(&token)
            .header("Idempotency-Key", "expired-1")
            .json(&without_device())
            .send().await.unwrap();
        assert_eq!(keyed.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.count_rows("work_orders"), 1);
        assert_eq!(app.count_rows("outbox_events"), 1);
    }

    async fn two_guests_sending_one_idempotency_key_each_get_their_own_answer(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;
        let send = |token: String, key: &'static str| {
            let app = &app;
            async move {
                let answer = app.client.post(format!("{}/api/v1/work-orders", app.base))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", key)
                    .json(&without_device())
                    .send().await.unwrap();
                let status = answer.status();
                let replayed = answer.headers().contains_key("idempotent-replayed");
                let body: Value = answer.json().await.unwrap();
                (status, replayed, body)
            }
        };
        let first = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        let second = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        // The same key and body from two guest sessions: two orders, two tracking links.
        let (status_a, replayed_a, a) = send(first.clone(), "guest-key-1").await;
        let (status_b, replayed_b, b) = send(second.clone(), "guest-key-1").await;
        assert_eq!((status_a, replayed_a), (StatusCode::CREATED, false), "{a}");
        assert_eq!((status_b, replayed_b), (StatusCode::CREATED, false), "the other guest's answer is not replayed: {b}");
        assert_ne!(a["work_order"]["id"], b["work_order"]["id"]);
        assert_ne!(a["tracking_token"], b["tracking_token"]);
        assert_eq!(app.count_rows("work_orders"), 2);
        // Each session's own retry still replays its own answer.
        let (status, replayed, again) = send(first, "guest-key-1").await;
        assert_eq!((status, replayed), (StatusCode::CREATED, true));
        assert_eq!(again["tracking_token"], a["tracking_token"]);
        assert_eq!(app.count_rows("work_orders"), 2);
    }

    async fn bad_input_and_other_peoples_orders_change_nothing(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-bad", "13900139505").await;
        // Every bad field at once.
        let bad = app.post("/api/v1/work-orders", &json!({ "brand": "", "fault_description": " ", "latitude": 100.0, "longitude": 1.0,
            "custom_fields": { "Bad Key": 1 }, "appointment_at": "2000-01-01T00:00:00Z" }), bearer(&token)).await;
        bad.problem(422, "validation-failed");
        let mut fields = bad.error_fields();
        fields.sort();
        fields.dedup();
        assert_eq!(fields, ["appointment_at", "brand", "category", "custom_fields.Bad Key", "fault_description", "latitude", "model"], "{}", bad.text);
        let unknown = app.post("/api/v1/work-orders", &json!({ "device_id": "nope", "fault_description": "坏了" }), bearer(&token)).await;
        assert_eq!(unknown.problem(422, "validation-failed")["errors"][0]["field"], "device_id");
        let phone = app.post("/api/v1/work-orders", &json!({ "fault_description": "坏了", "brand": "a", "category": "b", "model": "c", "channel": "phone" }), bearer(&token)).await;
        phone.problem(422, "validation-failed");
        assert_eq!(app.count_rows("work_orders"), 0);

        let order = submit(&app, &token, without_device()).await;
        let id = order["work_order"]["id"].as_str().unwrap().to_owned();
        // A rating before completion, a transition not allowed from pending.
        let early = app.post(&format!("/api/v1/work-orders/{id}/rating"), &json!({ "stars": 5 }), bearer(&token)).await;
        assert_eq!(early.problem(409, "conflict")["code"], "not-completed");
        let skip = transition(&app, &admin, &id, json!({ "action": "complete" })).await;
        assert_eq!(skip.problem(409, "conflict")["code"], "invalid-transition");
        let no_reason = transition(&app, &admin, &id, json!({ "action": "reject" })).await;
        assert_eq!(no_reason.problem(422, "validation-failed")["errors"][0]["field"], "reason");
        let no_engineer = transition(&app, &admin, &id, json!({ "action": "assign", "engineer_id": "nobody" })).await;
        assert_eq!(no_engineer.problem(422, "validation-failed")["errors"][0]["field"], "engineer_id");

        // Another customer of the same account (a contact of it): each sees only their own.
        let contact = app.post(&format!("/api/v1/admin/accounts/{account}/contacts"), &json!({ "name": "李四", "mobile": "13900139506" }), bearer(&admin)).await;
        assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.text);
        let other = another_customer(&app, "wo-bad-b", "甲公司", "13900139506").await;
        app.get(&format!("/api/v1/work-orders/{id}"), bearer(&other)).await.problem(404, "not-found");
        app.post(&format!("/api/v1/work-orders/{id}/cancel"), &json!({}), bearer(&other)).await.problem(404, "not-found");
        app.post(&format!("/api/v1/work-orders/{id}/rating"), &json!({ "stars": 5 }), bearer(&other)).await.problem(404, "not-found");
        assert_eq!(ok(&app.get("/api/v1/work-orders", bearer(&other)).await)["items"], json!([]));
        // Another tenant's staff: 404.
        let tenant_b = app.sign_up("other", "13800138666").await;
        app.get(&format!("/api/v1/admin/work-orders/{id}"), bearer(&tenant_b.access)).await.problem(404, "not-found");
        transition(&app, &tenant_b.access, &id, json!({ "action": "accept" })).await.problem(404, "not-found");
        // An engineer it is not assigned to: 404.
        let (engineer_id, engineer) = app.add_staff(&admin, "acme", "13700137503", "engineer").await;
        let (_, stranger) = app.add_staff(&admin, "acme", "13700137504", "engineer").await;
        ok(&transition(&app, &admin, &id, json!({ "action": "assign", "engineer_id": engineer_id })).await);
        app.post(&format!("/api/v1/engineer/work-orders/{id}/check-in"), &json!({ "latitude": 1.0, "longitude": 1.0 }), bearer(&stranger)).await.problem(404, "not-found");
        // Engineers do not run the staff list.
        app.get("/api/v1/admin/work-orders", bearer(&engineer)).await.problem(403, "forbidden");
        // A cancel after assignment.
        let late = app.post(&format!("/api/v1/work-orders/{id}/cancel"), &json!({}), bearer(&token)).await;
        assert_eq!(late.problem(409, "conflict")["code"], "invalid-transition");
        // A tag not in the list.
        ok(&app.post(&format!("/api/v1/engineer/work-orders/{id}/check-in"), &json!({ "latitude": 1.0, "longitude": 1.0 }), bearer(&engineer)).await);
        ok(&app.post(&format!("/api/v1/engineer/work-orders/{id}/check-out"), &json!({ "latitude": 1.0, "longitude": 1.0 }), bearer(&engineer)).await);
        let tag = app.post(&format!("/api/v1/work-orders/{id}/rating"), &json!({ "stars": 5, "tags": ["态度好", "便宜"] }), bearer(&token)).await;
        tag.problem(422, "validation-failed");
        assert_eq!(tag.error_fields(), ["tags.1"]);
        // Ratings off: refused.
        let off = app.patch("/api/v1/admin/settings", &json!({ "ratings_enabled": false }), bearer(&admin)).await;
        ok(&off);
        let refused = app.post(&format!("/api/v1/work-orders/{id}/rating"), &json!({ "stars": 5 }), bearer(&token)).await;
        assert_eq!(refused.problem(409, "conflict")["code"], "ratings-off");
        // Nothing of it changed the order: four changes so far, four events.
        assert_eq!(app.count_rows(&format!("work_order_events WHERE work_order_id = '{id}'")), 4);
        assert_eq!(app.count_rows(&format!("outbox_events WHERE subject_id = '{id}'")), 4);
    }

    async fn custom_fields_are_checked_against_the_form_template_that_applies(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-form", "13900139509").await;
        let made = app.post("/api/v1/admin/form-templates", &json!({ "name": "空调报修", "is_default": true, "fields": [
            { "key": "fault_description", "label": "故障描述", "kind": "textarea", "required": true },
            { "key": "room", "label": "房间号", "kind": "text", "required": true },
            { "key": "urgency", "label": "紧急程度", "kind": "select", "options": ["一般", "紧急"], "required": true },
            { "key": "units", "label": "台数", "kind": "number", "min": 1, "max": 20 },
            { "key": "internal", "label": "内部", "kind": "text", "visible": false },
        ]}), bearer(&admin)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let with = |custom: Value| {
            let mut body = without_device();
            body["custom_fields"] = custom;
            body
        };
        let refused = |body: Value| {
            let app = &app;
            let token = token.clone();
            async move {
                let answer = app.post("/api/v1/work-orders", &body, bearer(&token)).await;
                answer.problem(422, "validation-failed");
                answer.error_fields()
            }
        };
        assert_eq!(refused(with(json!({ "urgency": "一般" }))).await, ["custom_fields.room"], "a required field missing");
        assert_eq!(refused(with(json!({ "room": "301", "urgency": "很急" }))).await, ["custom_fields.urgency"], "not an option");
        assert_eq!(refused(with(json!({ "urgency": "很急" }))).await, ["custom_fields.room", "custom_fields.urgency"], "both at once");
        assert_eq!(refused(with(json!({ "room": "301", "urgency": "一般", "units": "many", "internal": "x" }))).await,
            ["custom_fields.units", "custom_fields.internal"], "a wrong kind and a hidden field");
        // With the standard fields' own errors, all in one answer.
        let mut both = with(json!({ "urgency": "很急" }));
        both["fault_description"] = json!("");
        let mut fields = refused(both).await;
        fields.sort();
        assert_eq!(fields, ["custom_fields.room", "custom_fields.urgency", "fault_description"]);
        // Staff phone intake goes through the same check, naming the fields as sent.
        let intake = app.post("/api/v1/admin/work-orders", &json!({ "account_id": account, "order": with(json!({ "urgency": "很急" })) }), bearer(&admin)).await;
        intake.problem(422, "validation-failed");
        assert_eq!(intake.error_fields(), ["order.custom_fields.room", "order.custom_fields.urgency"]);
        assert_eq!(app.count_rows("work_orders"), 0, "nothing created");
        assert_eq!(app.count_rows("outbox_events"), 0);

        // The form that applies shows the same template: shown fields only, in order.
        let form = app.get("/api/v1/forms/work-order", bearer(&token)).await;
        assert_eq!(ok(&form)["template_id"], made.body["id"]);
        assert_eq!(form.body["name"], "空调报修");
        assert_eq!(form.body["max_photos"], 9);
        let keys: Vec<&str> = form.body["fields"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["fault_description", "room", "urgency", "units"]);
        assert_eq!(form.body["fields"][0]["standard"], true);
        assert_eq!(form.body["fields"][2], json!({ "key": "urgency", "label": "紧急程度", "kind": "select", "required": true, "standard": false,
            "options": ["一般", "紧急"], "max_length": null, "min": null, "max": null }));
        assert_eq!((form.body["fields"][3]["min"].clone(), form.body["fields"][3]["max"].clone()), (json!(1.0), json!(20.0)));
        // Staff have their own routes.
        app.get("/api/v1/forms/work-order", bearer(&admin)).await.problem(403, "forbidden");

        // Good values are stored normalised.
        let done = submit(&app, &token, with(json!({ "room": " 301 ", "urgency": "紧急", "units": "2" }))).await;
        assert_eq!(done["work_order"]["custom_fields"], json!({ "room": "301", "urgency": "紧急", "units": 2.0 }));
        let taken = app.post("/api/v1/admin/work-orders", &json!({ "account_id": account, "order": with(json!({ "room": "302", "urgency": "一般" })) }), bearer(&admin)).await;
        assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
        assert_eq!(taken.body["work_order"]["custom_fields"]["room"], "302");
    }

    async fn a_submission_claims_the_callers_own_photos_and_the_detail_lists_them(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-photos", "13900139510").await;
        let photos = [uploaded(&app, &token, &phone_jpeg(64, 48)).await, uploaded(&app, &token, &phone_jpeg(48, 64)).await];
        let mut body = without_device();
        body["attachment_ids"] = json!(photos);
        let done = submit(&app, &token, body).await;
        let claimed: Vec<&str> = done["attachments"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(claimed, photos);
        assert_eq!(done["attachments"][0]["work_order_id"], done["work_order"]["id"]);
        let id = done["work_order"]["id"].as_str().unwrap().to_owned();
        for (path, who) in [(format!("/api/v1/work-orders/{id}"), &token), (format!("/api/v1/admin/work-orders/{id}"), &admin)] {
            let detail = app.get(&path, bearer(who)).await;
            let listed: Vec<&str> = ok(&detail)["attachments"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
            assert_eq!(listed, photos, "{path}");
            assert_eq!(detail.body["attachments"][1]["url"], format!("/api/v1/attachments/{}", photos[1]));
        }
        let orders = app.count_rows("work_orders");

        // A photo claimed already, someone else's, an unknown id: nothing is created.
        let mut again = without_device();
        again["attachment_ids"] = json!([photos[0]]);
        let claimed_again = app.post("/api/v1/work-orders", &again, bearer(&token)).await;
        assert_eq!(claimed_again.problem(409, "conflict")["code"], "attachment-claimed");
        let contact = app.post(&format!("/api/v1/admin/accounts/{account}/contacts"), &json!({ "name": "李四", "mobile": "13900139511" }), bearer(&admin)).await;
        assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.text);
        let other = another_customer(&app, "wo-photos-b", "甲公司", "13900139511").await;
        let theirs = uploaded(&app, &other, &phone_jpeg(32, 32)).await;
        for ids in [json!([theirs]), json!(["0190f0e0-0000-7000-8000-000000000000"])] {
            let mut body = without_device();
            body["attachment_ids"] = ids;
            let refused = app.post("/api/v1/work-orders", &body, bearer(&token)).await;
            refused.problem(422, "validation-failed");
            assert_eq!(refused.error_fields(), ["attachment_ids"]);
            assert!(!refused.text.contains("李四"), "{}", refused.text);
        }
        // Ten photos: 422 before anything is written, the photos stay unclaimed.
        let mut ten = Vec::new();
        for i in 0..10 {
            ten.push(uploaded(&app, &token, &phone_jpeg(16 + i, 16)).await);
        }
        let mut body = without_device();
        body["attachment_ids"] = json!(ten);
        let too_many = app.post("/api/v1/work-orders", &body, bearer(&token)).await;
        too_many.problem(422, "validation-failed");
        assert_eq!(too_many.error_fields(), ["attachment_ids"]);
        assert_eq!(app.count_rows("work_orders"), orders, "nothing created");
        assert_eq!(app.count_rows("attachments WHERE work_order_id IS NOT NULL"), 2);
        // Nine fit.
        body["attachment_ids"] = json!(ten[..9]);
        assert_eq!(submit(&app, &token, body).await["attachments"].as_array().unwrap().len(), 9);

        // Phone intake claims the dispatcher's own photos, not a customer's.
        let mine = uploaded(&app, &admin, &phone_jpeg(20, 20)).await;
        let intake = |ids: Value| {
            let mut order = without_device();
            order["attachment_ids"] = ids;
            json!({ "account_id": account, "order": order })
        };
        let refused = app.post("/api/v1/admin/work-orders", &intake(json!([ten[9]])), bearer(&admin)).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["order.attachment_ids"]);
        let taken = app.post("/api/v1/admin/work-orders", &intake(json!([mine])), bearer(&admin)).await;
        assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
        assert_eq!(taken.body["attachments"][0]["id"], mine.as_str());
    }

    async fn a_claimed_photo_is_seen_by_whoever_may_see_its_order(app: TestApp) {
        let (admin, alice, account) = customer(&app, "wo-see-a", "13900139512").await;
        let contact = app.post(&format!("/api/v1/admin/accounts/{account}/contacts"), &json!({ "name": "李四", "mobile": "13900139513" }), bearer(&admin)).await;
        assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.text);
        let bob = another_customer(&app, "wo-see-b", "甲公司", "13900139513").await;
        let photo = uploaded(&app, &alice, &phone_jpeg(30, 30)).await;
        let mut body = without_device();
        body["attachment_ids"] = json!([photo]);
        let id = submit(&app, &alice, body).await["work_order"]["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/attachments/{photo}");
        let fetch = |token: String| {
            let app = &app;
            let path = path.clone();
            async move { app.get(&format!("{path}?size=thumb"), bearer(&token)).await.status.as_u16() }
        };
        let (_, dispatcher) = app.add_staff(&admin, "acme", "13700137512", "dispatcher").await;
        let (engineer_id, engineer) = app.add_staff(&admin, "acme", "13700137513", "engineer").await;
        let (_, stranger) = app.add_staff(&admin, "acme", "13700137514", "engineer").await;
        let tenant_b = app.sign_up("other", "13800138555").await;
        for (who, token, status) in [("the submitter", &alice, 200), ("an admin", &admin, 200), ("a dispatcher", &dispatcher, 200),
            ("another user of the account", &bob, 404), ("an engineer not assigned", &engineer, 404), ("another tenant's admin", &tenant_b.access, 404)] {
            assert_eq!(fetch(token.clone()).await, status, "{who}");
        }
        app.get(&path, bearer(&bob)).await.problem(404, "not-found");
        // Once assigned, the engineer sees it; another engineer still does not.
        ok(&transition(&app, &admin, &id, json!({ "action": "assign", "engineer_id": engineer_id })).await);
        assert_eq!(fetch(engineer.clone()).await, 200);
        assert_eq!(fetch(stranger.clone()).await, 404);
        // Scenario 1: each user of the account sees only their own orders.
        let bobs = submit(&app, &bob, without_device()).await["work_order"]["id"].as_str().unwrap().to_owned();
        for (token, own) in [(&alice, &id), (&bob, &bobs)] {
            let listed = app.get("/api/v1/work-orders", bearer(token)).await;
            let ids: Vec<&str> = ok(&listed)["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
            assert_eq!(ids, [own.as_str()]);
        }
        // With the enterprise permission, the account's other users see the order and its photo.
        let roles = app.get("/api/v1/admin/roles", bearer(&admin)).await;
        let role = roles.body["items"].as_array().unwrap().iter().find(|r| r["key"] == "end_customer").unwrap().clone();
        let mut permissions = role["permissions"].as_array().unwrap().clone();
        permissions.push(json!("view_enterprise_work_orders"));
        let changed = app.patch(&format!("/api/v1/admin/roles/{}", role["id"].as_str().unwrap()), &json!({ "permissions": permissions }), bearer(&admin)).await;
        ok(&changed);
        let bob = access_of(&wx_login(&app, "wo-see-b").await);
        let listed = app.get("/api/v1/work-orders", bearer(&bob)).await;
        let ids: Vec<&str> = ok(&listed)["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [bobs.as_str(), id.as_str()], "the enterprise's orders, newest first");
        assert_eq!(fetch(bob.clone()).await, 200);
    }

    async fn staff_take_phone_orders_and_filter_the_list(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-staff", "13900139507").await;
        let device = add_device(&app, &admin, json!({ "name": "3号空调", "account_id": account, "serial_no": "WO-STAFF-1" })).await;
        let taken = app.post("/api/v1/admin/work-orders", &json!({ "account_id": account, "order": { "device_id": device, "fault_description": "电话报修", "contact_phone": "020-1234567" } }), bearer(&admin)).await;
        assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
        assert_eq!(taken.body["work_order"]["channel"], "phone");
        let number = taken.body["work_order"]["number"].as_str().unwrap().to_owned();
        let by = |query: &'static str| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let answer = app.get(&format!("/api/v1/admin/work-orders?{query}"), bearer(&admin)).await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
                answer.body["items"].as_array().unwrap().len()
            }
        };
        assert_eq!(by("about_to_breach=true").await, 0, "4 hours to respond");
        // A one-hour response target: the next order is about to breach at once.
        let targets = app.patch("/api/v1/admin/settings", &json!({ "service_targets": { "repair": { "response_minutes": 60, "resolution_minutes": 600 } } }), bearer(&admin)).await;
        assert_eq!(ok(&targets)["service_targets"]["repair"]["response_minutes"], 60);
        let breaching = submit(&app, &token, without_device()).await;
        assert_eq!(by("about_to_breach=true").await, 1);
        let flagged = app.get("/api/v1/admin/work-orders?about_to_breach=true", bearer(&admin)).await;
        assert_eq!(flagged.body["items"][0]["id"], breaching["work_order"]["id"]);
        assert_eq!(flagged.body["items"][0]["about_to_breach"], true);
        let all = app.get("/api/v1/admin/work-orders", bearer(&admin)).await;
        assert_eq!(ok(&all)["items"].as_array().unwrap().len(), 2);
        assert_eq!(all.body["items"][1]["number"], number.as_str(), "newest first");
        assert_eq!(by("channel=phone").await, 1);
        assert_eq!(by("serial=wo-staff-1").await, 1);
        assert_eq!(by(Box::leak(format!("number={}", number.to_lowercase()).into_boxed_str())).await, 1);
        assert_eq!(by(Box::leak(format!("device_id={device}").into_boxed_str())).await, 1);
        assert_eq!(by("q=不制冷").await, 1);
        assert_eq!(by("status=accepted").await, 0);
        let page = app.get("/api/v1/admin/work-orders?limit=1", bearer(&admin)).await;
        let cursor = ok(&page)["next_cursor"].as_str().unwrap().to_owned();
        let next = app.get(&format!("/api/v1/admin/work-orders?limit=1&cursor={cursor}"), bearer(&admin)).await;
        assert_eq!(ok(&next)["items"][0]["number"], number.as_str());
        // Phone intake is audited.
        assert_eq!(app.count_rows("audit_log WHERE action = 'work_order.create'"), 1);
    }

    async fn a_completed_order_nobody_confirms_closes_after_the_tenants_days(app: TestApp) {
        let (admin, token, _) = customer(&app, "wo-close", "13900139508").await;
        let id = submit(&app, &token, without_device()).await["work_order"]["id"].as_str().unwrap().to_owned();
        let (engineer_id, _) = app.add_staff(&admin, "acme", "13700137508", "engineer").await;
        for step in [json!({ "action": "accept" }), json!({ "action": "assign", "engineer_id": engineer_id }), json!({ "action": "start" }), json!({ "action": "complete" })] {
            ok(&transition(&app, &admin, &id, step).await);
        }
        let status_is = |status: &'static str| app.count_rows(&format!("work_orders WHERE id = '{id}' AND status = '{status}'"));
        app.advance_clock(chrono::Duration::days(6));
        app.periodic_jobs_done().await;
        assert_eq!(status_is("completed"), 1, "7 days by default");
        app.advance_clock(chrono::Duration::days(2));
        app.periodic_jobs_done().await;
        assert_eq!(status_is("closed"), 1);
        assert_eq!(app.count_rows(&format!("work_order_events WHERE work_order_id = '{id}' AND action = 'auto_close' AND actor_kind = 'system' AND to_status = 'closed'")), 1);
        assert_eq!(app.count_rows(&format!("outbox_events WHERE subject_id = '{id}' AND kind = 'work_order.auto_close'")), 1);
    }
}
