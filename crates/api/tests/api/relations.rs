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
        let problem = refused.problem(409, "in-use");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("openid_auto method"), "names the method: {detail}");

        // The role and the method's reference to it are still there, and logins work.
        let roles = app.get("/api/v1/admin/roles", bearer(&admin)).await;
        assert!(roles.body.as_array().unwrap().iter().any(|r| r["id"] == vip.as_str()));
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
        let detail = refused.problem(409, "in-use")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("openid_auto method") && detail.contains("disable"), "{detail}");
        assert_eq!(app.get(&path, bearer(&admin)).await.status, StatusCode::OK);
    }
}
