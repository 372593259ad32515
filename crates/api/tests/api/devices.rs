//! Devices: staff manage them; terminal users see their account's and public ones; a
//! serial number registers a user into its device's account.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, put_policy, register, tenant_with_app, wx_login,
};

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
        // An unknown serial names nobody.
        let unknown = app
            .post("/api/v1/me/registration", &json!({ "device_serial": "NOPE", "contact_name": "护士长", "mobile": "13900139111", "mobile_code": code }), bearer(&token))
            .await;
        unknown.problem(422, "validation-failed");
        assert_eq!(unknown.error_fields(), ["device_serial"]);
        let registered = app
            .post(
                "/api/v1/me/registration",
                &json!({ "device_serial": "ct 2024 001", "contact_name": "护士长", "mobile": "13900139111", "mobile_code": code,
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
        assert_eq!(contacts.body.as_array().unwrap().len(), 2);
    }
}
