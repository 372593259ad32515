//! References between a tenant's objects are relations: deleting what something still
//! refers to answers 409 naming the referrer, and logins through what remains keep working.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{access_of, add_method, me, role_id, tenant_with_app, wx_login};

backend_tests! {
    /// Defect 1 of issue 11: the role's id lived in the method's settings JSON, so deleting
    /// the role answered 204 and the next WeChat login through the method answered 500.
    async fn a_role_a_method_gives_cannot_be_deleted(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let vip = app
            .post("/api/v1/admin/roles", &json!({ "key": "vip", "name": "VIP", "permissions": ["submit_work_order"] }), bearer(&admin))
            .await;
        assert_eq!(vip.status, StatusCode::CREATED, "{}", vip.text);
        let vip = vip.body["id"].as_str().unwrap().to_owned();
        let method = add_method(&app, &admin, "openid_auto", false, "fuzzy").await;
        let path = format!("/api/v1/admin/registration-methods/{method}");
        let mut settings = app.get(&path, bearer(&admin)).await.body["settings"].clone();
        settings["role_ids"] = json!([vip]);
        let changed = app.patch(&path, &json!({ "settings": settings }), bearer(&admin)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        assert_eq!(changed.body["settings"]["role_ids"], json!([vip]));

        let refused = app.delete(&format!("/api/v1/admin/roles/{vip}"), bearer(&admin)).await;
        let problem = refused.problem(409, "conflict");
        assert_eq!(problem["code"], "in-use", "{}", refused.text);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("openid_auto method"), "names the method: {detail}");

        // The role and the method's reference to it are still there, and logins work.
        let roles = app.get("/api/v1/admin/roles", bearer(&admin)).await;
        assert!(roles.body["items"].as_array().unwrap().iter().any(|r| r["id"] == vip.as_str()));
        let kept = app.get(&path, bearer(&admin)).await;
        assert_eq!(kept.body["settings"]["role_ids"], json!([vip]));
        let login = wx_login(&app, "ann").await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        let me = me(&app, &access_of(&login)).await;
        assert!(me.to_string().contains("vip"), "{me}");

        // Once the method no longer gives it, the role goes; a user holding it loses it.
        settings["role_ids"] = json!([role_id(&app, &admin, "end_customer").await]);
        let changed = app.patch(&path, &json!({ "settings": settings }), bearer(&admin)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let deleted = app.delete(&format!("/api/v1/admin/roles/{vip}"), bearer(&admin)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        let users = app.get("/api/v1/admin/terminal-users", bearer(&admin)).await;
        assert!(!users.text.contains(&vip), "{}", users.text);
        let again = wx_login(&app, "ann").await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);

        // The method a user came through stays (disabled, if need be), naming why.
        let refused = app.delete(&path, bearer(&admin)).await;
        assert_eq!(refused.problem(409, "conflict")["code"], "in-use", "{}", refused.text);
        let detail = refused.body["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("openid_auto method") && detail.contains("disable"), "{detail}");
        assert_eq!(app.get(&path, bearer(&admin)).await.status, StatusCode::OK);
    }
}

backend_tests! {
    /// A device QR codes are bound to is retired, not deleted: its codes keep pointing at it,
    /// terminals no longer see it (404), staff find it with `?retired=true`. A device
    /// nothing refers to is deleted.
    async fn a_device_codes_refer_to_is_retired(app: TestApp) {
        use crate::devices::add_device;
        use crate::terminal::{account_with_contact, put_policy};

        let admin = tenant_with_app(&app).await.access;
        let settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        let mut body = settings.body.clone();
        body["enabled"] = json!(true);
        body["rule"] = json!({ "kind": "sequence", "prefix": "RT", "digits": 4 });
        let saved = app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), bearer(&admin)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;
        let guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);

        let bound = add_device(&app, &admin, json!({ "name": "大堂饮水机", "visibility": "public", "serial_no": "WD-1" })).await;
        let loose = add_device(&app, &admin, json!({ "name": "备用泵", "visibility": "public" })).await;
        let made = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [bound] }), bearer(&admin)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let code = made.body[0]["code"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/api/v1/scan/{code}"), bearer(&guest)).await.status, StatusCode::OK);

        let deleted = app.delete(&format!("/api/v1/admin/devices/{bound}"), bearer(&admin)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        // Staff still read it, retired; lists hide it unless asked.
        let kept = app.get(&format!("/api/v1/admin/devices/{bound}"), bearer(&admin)).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
        assert!(kept.body["retired_at"].is_string(), "{}", kept.text);
        let listed = app.get("/api/v1/admin/devices", bearer(&admin)).await;
        assert!(!listed.text.contains(&bound), "{}", listed.text);
        let retired = app.get("/api/v1/admin/devices?retired=true", bearer(&admin)).await;
        let ids: Vec<&str> = retired.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [bound.as_str()]);
        // Terminals: gone everywhere.
        app.get(&format!("/api/v1/devices/{bound}"), bearer(&guest)).await.problem(404, "not-found");
        app.get(&format!("/api/v1/scan/{code}"), bearer(&guest)).await.problem(404, "not-found");
        let seen = app.get("/api/v1/devices?retired=true", bearer(&guest)).await;
        assert!(!seen.text.contains(&bound), "{}", seen.text);
        let looked_up = app.get("/api/v1/devices/lookup?serial=WD-1", bearer(&guest)).await;
        assert!(!looked_up.text.contains(&bound), "{}", looked_up.text);
        // No new codes for it; its code stays bound to it.
        app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [bound] }), bearer(&admin))
            .await
            .problem(422, "validation-failed");
        let codes = app.get("/api/v1/admin/qr-codes", bearer(&admin)).await;
        assert!(codes.text.contains(&bound), "{}", codes.text);
        // Deleting it again changes nothing.
        let again = app.delete(&format!("/api/v1/admin/devices/{bound}"), bearer(&admin)).await;
        assert_eq!(again.status, StatusCode::NO_CONTENT, "{}", again.text);
        assert_eq!(app.get(&format!("/api/v1/admin/devices/{bound}"), bearer(&admin)).await.status, StatusCode::OK);

        // Nothing refers to the other one: it is gone.
        let deleted = app.delete(&format!("/api/v1/admin/devices/{loose}"), bearer(&admin)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        app.get(&format!("/api/v1/admin/devices/{loose}"), bearer(&admin)).await.problem(404, "not-found");
    }
}
