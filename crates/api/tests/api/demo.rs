//! The demo tenant that `make run` seeds: usable at once, and seeded only once.

use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_api::config::Config;
use baoxiu_api::demo::{
    self, DEMO_ADMIN_MOBILE, DEMO_CUSTOMER_MOBILE, DEMO_ENGINEER_MOBILE, DEMO_MINI_PROGRAM,
    DEMO_PASSWORD, DEMO_SLUG,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::access_of;

backend_tests! {
    async fn the_demo_tenant_is_ready_to_use(app: TestApp) {
        let key = SecretsKey::from_hex(&Config::default().secrets_key).unwrap();
        let db = baoxiu_store::Db::open(&app.db.url, 1).unwrap();
        let now = chrono::Utc::now().naive_utc();
        let seeded = db.write(|conn| demo::seed(conn, &key, now)).unwrap();
        assert!(seeded.unwrap().contains("DM00003"));
        assert!(db.write(|conn| demo::seed(conn, &key, now)).unwrap().is_none(), "seeded once");

        // Swagger UI's pre-filled staff login examples are valid requests: the password one
        // logs the demo admin in, the SMS one is refused only for its made-up code.
        let document = baoxiu_api::openapi::document();
        let document = serde_json::to_value(&document).unwrap();
        let operation = &document["paths"]["/api/v1/auth/staff/login"]["post"];
        let examples = &operation["requestBody"]["content"]["application/json"]["examples"];
        let tenant_example = operation["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "X-Tenant").unwrap()["example"].as_str().unwrap().to_owned();
        assert_eq!(tenant_example, DEMO_SLUG);
        let by_password = app.post("/api/v1/auth/staff/login", &examples["password"]["value"], tenant(&tenant_example)).await;
        assert_eq!(by_password.status, StatusCode::OK, "{}", by_password.text);
        app.post("/api/v1/auth/staff/login", &examples["sms_code"]["value"], tenant(&tenant_example))
            .await
            .problem(401, "invalid-credentials");

        let admin = app.login(DEMO_SLUG, DEMO_ADMIN_MOBILE, DEMO_PASSWORD).await;
        assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
        let admin = admin.body["access_token"].as_str().unwrap().to_owned();
        let engineer = app.login(DEMO_SLUG, DEMO_ENGINEER_MOBILE, DEMO_PASSWORD).await;
        assert_eq!(engineer.status, StatusCode::OK, "{}", engineer.text);
        let engineer = engineer.body["access_token"].as_str().unwrap().to_owned();

        let devices = app.get("/api/v1/admin/devices", bearer(&admin)).await;
        assert_eq!(devices.body["items"].as_array().unwrap().len(), 2, "{}", devices.text);
        let bound = app.get("/api/v1/scan/DM00001", bearer(&engineer)).await;
        assert_eq!(bound.body["device"]["serial_no"], "DEMO-0001", "{}", bound.text);
        let blank = app.get("/api/v1/scan/DM00003", bearer(&engineer)).await;
        assert_eq!(blank.body["kind"], "blank");
        assert_eq!(blank.body["may_bind"], true);

        // A WeChat user gets in through the development fake with any code.
        let wx = app
            .post("/api/v1/auth/wechat/mini-program", &json!({ "app_id": DEMO_MINI_PROGRAM, "code": "newcomer" }), Opts::default())
            .await;
        let token = access_of(&wx);
        let public = app.get("/api/v1/scan/DM00002", bearer(&token)).await;
        assert_eq!(public.body["device"]["name"], "大堂饮水机", "{}", public.text);

        // Three orders of the demo customer: pending, assigned to the engineer, completed.
        let orders = app.get("/api/v1/admin/work-orders", bearer(&admin)).await;
        let statuses: Vec<&str> = orders.body["items"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["completed", "assigned", "pending"], "{}", orders.text);
        let assigned = app.get("/api/v1/engineer/work-orders", bearer(&engineer)).await;
        let assigned_statuses: Vec<&str> = assigned.body["items"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(assigned_statuses, ["completed", "assigned"], "{}", assigned.text);
        // The customer logs in by SMS, sees all three and rates the completed one.
        app.post("/api/v1/auth/sms-code", &json!({ "mobile": DEMO_CUSTOMER_MOBILE }), tenant(DEMO_SLUG)).await;
        let code = app.last_code(DEMO_CUSTOMER_MOBILE).await;
        let customer = access_of(&app.post("/api/v1/auth/sms-login", &json!({ "mobile": DEMO_CUSTOMER_MOBILE, "code": code }), tenant(DEMO_SLUG)).await);
        let mine = app.get("/api/v1/work-orders", bearer(&customer)).await;
        assert_eq!(mine.body["items"].as_array().unwrap().len(), 3, "{}", mine.text);
        let completed = mine.body["items"][0]["id"].as_str().unwrap();
        let rated = app.post(&format!("/api/v1/work-orders/{completed}/rating"), &json!({ "stars": 5 }), bearer(&customer)).await;
        assert_eq!(rated.status, StatusCode::OK, "{}", rated.text);
        // Seeding again adds no order.
        assert!(db.write(|conn| demo::seed(conn, &key, now)).unwrap().is_none());
        assert_eq!(app.count_rows("work_orders"), 3);
    }
}
