//! Devices: staff manage them; terminal users see their account's and public ones; a
//! serial number registers a user into its device's account.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, put_policy, register, role_id, tenant_with_app,
    wx_login,
};

/// Creates a device as staff; answers its id.
pub async fn add_device(app: &TestApp, admin: &str, device: serde_json::Value) -> String {
    let created = app
        .post("/api/v1/admin/devices", &device, bearer(admin))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["id"].as_str().unwrap().to_owned()
}

/// The ids of a page of devices, sorted.
fn ids_of(page: &Answer) -> Vec<String> {
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let mut ids: Vec<String> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

backend_tests! {
    async fn staff_manage_devices(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let (account, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139100")).await;
        let created = app
            .post(
                "/api/v1/admin/devices",
                &json!({ "name": "1号空压机", "account_id": account, "brand": "阿特拉斯", "category": "空压机", "model": "GA37",
                         "serial_no": "sn-0001-a", "machine_no": "M 100", "warranty_status": "in_warranty", "warranty_ends_on": "2027-06-30" }),
                bearer(&admin),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert_eq!(created.body["visibility"], "private");
        assert_eq!(created.body["status"], "running");
        let id = created.body["id"].as_str().unwrap().to_owned();
        // The same serial, typed differently, is taken.
        let dup = app.post("/api/v1/admin/devices", &json!({ "name": "copy", "serial_no": "ＳＮ 0001 A" }), bearer(&admin)).await;
        dup.problem(422, "validation-failed");
        assert_eq!(dup.body["errors"][0]["code"], "taken");
        let bad = app
            .post("/api/v1/admin/devices", &json!({ "name": "", "latitude": 200.0, "account_id": "nope", "status": "exploded" }), bearer(&admin))
            .await;
        bad.problem(422, "validation-failed");
        let changed = app
            .patch(&format!("/api/v1/admin/devices/{id}"), &json!({ "status": "fault", "visibility": "public", "latitude": 22.5, "longitude": 114.0 }), bearer(&admin))
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        assert_eq!(changed.body["status"], "fault");
        assert_eq!(changed.body["serial_no"], "sn-0001-a");
        let filtered = app.get("/api/v1/admin/devices?status=fault&q=sn0001", bearer(&admin)).await;
        assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);
        let none = app.get("/api/v1/admin/devices?status=retired", bearer(&admin)).await;
        assert_eq!(none.body["items"].as_array().unwrap().len(), 0);
        // Another tenant sees nothing of it.
        let other = app.sign_up("other", "13900139000").await;
        app.get(&format!("/api/v1/admin/devices/{id}"), bearer(&other.access)).await.problem(404, "not-found");
        app.delete(&format!("/api/v1/admin/devices/{id}"), bearer(&other.access)).await.problem(404, "not-found");
        assert_eq!(app.delete(&format!("/api/v1/admin/devices/{id}"), bearer(&admin)).await.status, StatusCode::NO_CONTENT);
        app.get(&format!("/api/v1/admin/devices/{id}"), bearer(&admin)).await.problem(404, "not-found");
    }

    async fn terminal_users_see_their_account_and_public_devices(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let (mine, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139101")).await;
        let (theirs, _) = account_with_contact(&app, &admin, "乙公司", Some("13900139102")).await;
        let device = |name: &'static str, account: &str, visibility: &'static str, serial: &'static str| {
            let app = &app;
            let admin = admin.clone();
            let account = account.to_owned();
            async move {
                let created = app
                    .post("/api/v1/admin/devices", &json!({ "name": name, "account_id": account, "visibility": visibility, "serial_no": serial }), bearer(&admin))
                    .await;
                created.body["id"].as_str().unwrap().to_owned()
            }
        };
        let my_private = device("我的设备", &mine, "private", "A-1").await;
        let their_private = device("别人的设备", &theirs, "private", "B-1").await;
        let their_public = device("公共设备", &theirs, "public", "B-2").await;

        let token = access_of(&wx_login(&app, "mia").await);
        let joined = register(&app, &token, "甲公司", "米娅", "13900139101").await;
        assert_eq!(joined.body["account_id"], mine.as_str());
        let list = app.get("/api/v1/devices", bearer(&token)).await;
        let mut names: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["公共设备", "我的设备"]);
        assert_eq!(app.get(&format!("/api/v1/devices/{my_private}"), bearer(&token)).await.status, StatusCode::OK);
        app.get(&format!("/api/v1/devices/{their_private}"), bearer(&token)).await.problem(404, "not-found");
        let looked = app.get("/api/v1/devices/lookup?serial=a1", bearer(&token)).await;
        assert_eq!(looked.body[0]["id"], my_private.as_str());
        let hidden = app.get("/api/v1/devices/lookup?serial=B-1", bearer(&token)).await;
        assert_eq!(hidden.body, json!([]));

        // The guest: public ones only.
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;
        let guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        let seen = app.get("/api/v1/devices", bearer(&guest)).await;
        let ids: Vec<&str> = seen.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [their_public.as_str()]);
        app.get(&format!("/api/v1/devices/{my_private}"), bearer(&guest)).await.problem(404, "not-found");
        // Staff tokens use the admin routes.
        app.get("/api/v1/devices", bearer(&admin)).await.problem(403, "forbidden");
    }

    async fn registration_first_blocks_data_and_a_serial_registers(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", false, "fuzzy").await;
        let (owner, _) = account_with_contact(&app, &admin, "某某医院", Some("13900139110")).await;
        let created = app
            .post("/api/v1/admin/devices", &json!({ "name": "CT 机", "account_id": owner, "serial_no": "CT-2024-001" }), bearer(&admin))
            .await;
        let device_id = created.body["id"].as_str().unwrap().to_owned();

        let token = access_of(&wx_login(&app, "nina").await);
        // Scenario 3: before registering, every data endpoint answers registration-required.
        app.get("/api/v1/devices", bearer(&token)).await.problem(403, "registration-required");
        app.get("/api/v1/devices/lookup?serial=CT-2024-001", bearer(&token)).await.problem(403, "registration-required");
        app.get(&format!("/api/v1/devices/{device_id}"), bearer(&token)).await.problem(403, "registration-required");

        app.post("/api/v1/auth/sms-code", &json!({ "mobile": "13900139111" }), tenant("acme")).await;
        let code = app.last_code("13900139111").await;
        // An unknown serial names nobody: the registration waits for staff (as one with a
        // known serial and no proof would), so the answer tells nothing about serials.
        let unknown = app
            .post("/api/v1/me/registration", &json!({ "device_serial": "NOPE", "contact_name": "护士长", "mobile": "13900139111", "mobile_code": code }), bearer(&token))
            .await;
        assert_eq!(unknown.status, StatusCode::ACCEPTED, "{}", unknown.text);
        assert_eq!(unknown.body["registration"]["approval_reason"], "unverified_claim");
        // The owner account's contact registers by the serial at once.
        let token = access_of(&wx_login(&app, "nina-colleague").await);
        app.clock.advance(chrono::Duration::seconds(61));
        app.post("/api/v1/auth/sms-code", &json!({ "mobile": "13900139110" }), tenant("acme")).await;
        let code = app.last_code("13900139110").await;
        let registered = app
            .post(
                "/api/v1/me/registration",
                &json!({ "device_serial": "ct 2024 001", "contact_name": "护士长", "mobile": "13900139110", "mobile_code": code,
                         "device_location": { "latitude": 23.1, "longitude": 113.3, "address": "放射科 2 楼" } }),
                bearer(&token),
            )
            .await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        assert_eq!(registered.body["account_id"], owner.as_str());
        let device = app.get(&format!("/api/v1/devices/{device_id}"), bearer(&token)).await;
        assert_eq!(device.status, StatusCode::OK, "{}", device.text);
        assert_eq!(device.body["latitude"], 23.1);
        assert_eq!(device.body["install_address"], "放射科 2 楼");
        let contacts = app.get(&format!("/api/v1/admin/accounts/{owner}/contacts"), bearer(&admin)).await;
        assert_eq!(contacts.body["items"].as_array().unwrap().len(), 1, "the contact was matched, not added");
    }
}

backend_tests! {
    async fn terminal_users_look_devices_up_by_machine_number(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let (mine, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139120")).await;
        let (theirs, _) = account_with_contact(&app, &admin, "乙公司", Some("13900139121")).await;
        let my_device = add_device(&app, &admin, json!({ "name": "我的设备", "account_id": mine, "machine_no": "M-100" })).await;
        add_device(&app, &admin, json!({ "name": "别人的设备", "account_id": theirs, "machine_no": "M-200" })).await;
        let public = add_device(&app, &admin, json!({ "name": "公共设备", "account_id": theirs, "machine_no": "M-300", "visibility": "public" })).await;

        let token = access_of(&wx_login(&app, "lu").await);
        // The account's contact's own mobile: proof that the user belongs there.
        let joined = register(&app, &token, "甲公司", "陆", "13900139120").await;
        assert_eq!(joined.body["account_id"], mine.as_str(), "{}", joined.text);
        // Typed with another case, spaces or dashes, the number still finds the device.
        let found = app.get("/api/v1/devices/lookup?machine_no=m%20100", bearer(&token)).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.text);
        assert_eq!(found.body.as_array().unwrap().len(), 1, "{}", found.text);
        assert_eq!(found.body[0]["id"], my_device.as_str());
        assert_eq!(found.body[0]["machine_no"], "M-100");
        // Another account's private device is not found; its public one is.
        let hidden = app.get("/api/v1/devices/lookup?machine_no=M-200", bearer(&token)).await;
        assert_eq!(hidden.status, StatusCode::OK, "{}", hidden.text);
        assert_eq!(hidden.body, json!([]));
        let shared = app.get("/api/v1/devices/lookup?machine_no=m300", bearer(&token)).await;
        assert_eq!(shared.body[0]["id"], public.as_str(), "{}", shared.text);
        // Neither a serial nor a machine number: nothing to look up.
        let nothing = app.get("/api/v1/devices/lookup", bearer(&token)).await;
        nothing.problem(422, "validation-failed");
        assert_eq!(nothing.error_fields(), ["serial"]);
    }

    async fn scenario_1_each_user_sees_only_their_own_accounts_devices(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let ann = access_of(&wx_login(&app, "ann").await);
        let ben = access_of(&wx_login(&app, "ben").await);
        let ann_account = register(&app, &ann, "安公司", "安", "13900139130").await.body["account_id"].as_str().unwrap().to_owned();
        let ben_account = register(&app, &ben, "本公司", "本", "13900139131").await.body["account_id"].as_str().unwrap().to_owned();
        assert_ne!(ann_account, ben_account);
        let ann_device = add_device(&app, &admin, json!({ "name": "安的设备", "account_id": ann_account, "serial_no": "ANN-1" })).await;
        let ben_device = add_device(&app, &admin, json!({ "name": "本的设备", "account_id": ben_account, "serial_no": "BEN-1" })).await;
        let public = add_device(&app, &admin, json!({ "name": "公共设备", "visibility": "public" })).await;

        assert_eq!(ids_of(&app.get("/api/v1/devices", bearer(&ann)).await), sorted(vec![ann_device.clone(), public.clone()]));
        assert_eq!(ids_of(&app.get("/api/v1/devices", bearer(&ben)).await), sorted(vec![ben_device.clone(), public.clone()]));
        assert_eq!(app.get(&format!("/api/v1/devices/{ann_device}"), bearer(&ann)).await.status, StatusCode::OK);
        app.get(&format!("/api/v1/devices/{ben_device}"), bearer(&ann)).await.problem(404, "not-found");
        app.get(&format!("/api/v1/devices/{ann_device}"), bearer(&ben)).await.problem(404, "not-found");
        assert_eq!(app.get("/api/v1/devices/lookup?serial=BEN-1", bearer(&ann)).await.body, json!([]));
        // A filter naming the other's account changes nothing.
        let filtered = app.get(&format!("/api/v1/devices?account_id={ben_account}"), bearer(&ann)).await;
        assert!(!ids_of(&filtered).contains(&ben_device), "{}", filtered.text);
    }

    async fn a_registration_awaiting_approval_sees_public_devices_only(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", true, "exact").await;
        let (account, _) = account_with_contact(&app, &admin, "某某物业", Some("13900139140")).await;
        let private = add_device(&app, &admin, json!({ "name": "电梯", "account_id": account, "serial_no": "PM-1" })).await;
        let public = add_device(&app, &admin, json!({ "name": "大堂饮水机", "visibility": "public" })).await;

        // (With guests on: with guests off a waiting user sees nothing at all.)
        let (guests, guest) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guests, "guest_contact_id": guest })).await;
        let token = access_of(&wx_login(&app, "wendy").await);
        let waiting = register(&app, &token, "某某物业", "温蒂", "13900139141").await;
        assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.text);
        // While waiting: public devices only, as a guest, though the account it named has more.
        assert_eq!(ids_of(&app.get("/api/v1/devices", bearer(&token)).await), [public.as_str()]);
        app.get(&format!("/api/v1/devices/{private}"), bearer(&token)).await.problem(404, "not-found");
        assert_eq!(app.get(&format!("/api/v1/devices/{public}"), bearer(&token)).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/v1/devices/lookup?serial=PM-1", bearer(&token)).await.body, json!([]));

        // Once approved, the account's devices show.
        let queue = app.get("/api/v1/admin/registrations", bearer(&admin)).await;
        let id = queue.body["items"][0]["id"].as_str().unwrap().to_owned();
        let end_customer = role_id(&app, &admin, "end_customer").await;
        let approved = app.post(&format!("/api/v1/admin/registrations/{id}/approve"), &json!({ "role_ids": [end_customer] }), bearer(&admin)).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(ids_of(&app.get("/api/v1/devices", bearer(&token)).await), sorted(vec![private.clone(), public.clone()]));
        assert_eq!(app.get(&format!("/api/v1/devices/{private}"), bearer(&token)).await.status, StatusCode::OK);
    }
}

/// The fields only staff see of a device.
const STAFF_ONLY: [&str; 4] = ["account_id", "version", "created_at", "updated_at"];

#[track_caller]
fn assert_customer_view(device: &serde_json::Value) {
    assert!(device["id"].is_string(), "{device}");
    for field in STAFF_ONLY {
        assert!(device.get(field).is_none(), "{field} in {device}");
    }
}

backend_tests! {
    async fn terminal_users_get_the_customer_view_of_a_device(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let (mine, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139150")).await;
        let (theirs, _) = account_with_contact(&app, &admin, "乙公司", Some("13900139151")).await;
        let here = json!({ "latitude": 22.5, "longitude": 114.0, "install_address": "一楼" });
        let my_device = add_device(&app, &admin, json!({ "name": "我的设备", "account_id": mine, "serial_no": "CV-1", "latitude": 22.5, "longitude": 114.0 })).await;
        let their_public = add_device(&app, &admin, json!({ "name": "他们的公共设备", "account_id": theirs, "serial_no": "CV-2", "visibility": "public",
                                                            "latitude": here["latitude"], "longitude": here["longitude"], "install_address": here["install_address"] })).await;
        let token = access_of(&wx_login(&app, "cora").await);
        register(&app, &token, "甲公司", "科拉", "13900139150").await;

        // The list: no owner account, no version; coordinates of the caller's own devices only.
        let list = app.get("/api/v1/devices", bearer(&token)).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}", list.text);
        for item in items {
            assert_customer_view(item);
        }
        let by_id = |id: &str| items.iter().find(|d| d["id"] == id).unwrap().clone();
        let own = by_id(&my_device);
        assert_eq!(own["mine"], true);
        assert_eq!(own["latitude"], 22.5);
        assert_eq!(own["serial_no"], "CV-1");
        let other = by_id(&their_public);
        assert_eq!(other["mine"], false);
        assert_eq!(other["latitude"], serde_json::Value::Null, "{other}");
        assert_eq!(other["longitude"], serde_json::Value::Null, "{other}");
        assert_eq!(other["name"], "他们的公共设备");
        // One device, a lookup and a scan answer the same view.
        let one = app.get(&format!("/api/v1/devices/{their_public}"), bearer(&token)).await;
        assert_customer_view(&one.body);
        assert_eq!(one.body["latitude"], serde_json::Value::Null);
        let looked = app.get("/api/v1/devices/lookup?serial=CV-2", bearer(&token)).await;
        assert_customer_view(&looked.body[0]);
        assert_eq!(looked.body[0]["longitude"], serde_json::Value::Null);
        let settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        let mut body = settings.body.clone();
        body["enabled"] = json!(true);
        app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), bearer(&admin)).await;
        app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [their_public] }), bearer(&admin)).await;
        let scanned = app.get("/api/v1/scan/BX000001", bearer(&token)).await;
        assert_eq!(scanned.status, StatusCode::OK, "{}", scanned.text);
        assert_customer_view(&scanned.body["device"]);
        assert_eq!(scanned.body["device"]["latitude"], serde_json::Value::Null);
        // A guest: the same.
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;
        let guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        let seen = app.get(&format!("/api/v1/devices/{their_public}"), bearer(&guest)).await;
        assert_customer_view(&seen.body);
        assert_eq!(seen.body["mine"], false);
        assert_eq!(seen.body["latitude"], serde_json::Value::Null);

        // Staff get the whole device, from the scan too.
        let staff_scan = app.get("/api/v1/scan/BX000001", bearer(&admin)).await;
        assert_eq!(staff_scan.body["device"]["account_id"], theirs.as_str(), "{}", staff_scan.text);
        assert_eq!(staff_scan.body["device"]["version"], 1);
        assert_eq!(staff_scan.body["device"]["latitude"], 22.5);
    }
}
