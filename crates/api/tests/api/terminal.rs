//! Terminal identity end to end: the five scenarios of seed 001, the approval queue,
//! seats, duplicate rules and the read-only guest role. WeChat is the development fake
//! here (the code names the user); `wechat_fake.rs` runs the real client.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;

pub const MINI_APP: &str = "wxacme0mini00001";

/// A tenant with a bound Mini Program; answers its admin.
pub async fn tenant_with_app(app: &TestApp) -> Provider {
    let provider = app.sign_up("acme", "13800138000").await;
    let bound = app
        .post(
            "/api/v1/admin/wechat-apps",
            &json!({ "app_id": MINI_APP, "kind": "mini_program", "name": "Acme 报修", "secret": "acme-mini-secret" }),
            bearer(&provider.access),
        )
        .await;
    assert_eq!(bound.status, StatusCode::CREATED, "{}", bound.text);
    provider
}

pub async fn role_id(app: &TestApp, admin: &str, key: &str) -> String {
    let roles = app.get("/api/v1/admin/roles", bearer(admin)).await;
    roles.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates a self-registration method.
pub async fn add_method(
    app: &TestApp,
    admin: &str,
    mode: &str,
    approval: bool,
    duplicate_check: &str,
) -> String {
    let end_customer = role_id(app, admin, "end_customer").await;
    let created = app
        .post(
            "/api/v1/admin/registration-methods",
            &json!({
                "name": format!("{mode} method"),
                "enabled": true,
                "settings": {
                    "channels": ["mini_program", "official_account", "h5"],
                    "mode": mode,
                    "requires_approval": approval,
                    "account": {
                        "record_type": "customer",
                        "fields": [{ "key": "industry", "label": "行业", "required": false }],
                        "show_only_required": false,
                        "owner": { "kind": "none" },
                        "duplicate_check": duplicate_check,
                        "new_account_rule": "user_defined"
                    },
                    "contact": { "record_type": "default", "fields": [], "show_only_required": false },
                    "role_ids": [end_customer]
                }
            }),
            bearer(admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["id"].as_str().unwrap().to_owned()
}

pub async fn put_policy(app: &TestApp, admin: &str, policy: Value) {
    let mut body = json!({
        "guest_enabled": false, "guest_account_id": null, "guest_contact_id": null,
        "require_account_on_work_orders": false, "invitation_required": false
    });
    for (k, v) in policy.as_object().unwrap() {
        body[k] = v.clone();
    }
    let saved = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/registration-policy",
            Some(&body),
            bearer(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
}

/// A platform operator sets a tenant's seats.
pub async fn set_seats(app: &TestApp, tenant_id: &str, seats: i64) {
    let operator = platform_token(app);
    let saved = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/platform/tenants/{tenant_id}/seats"),
            Some(&json!({ "seats": seats })),
            bearer(&operator),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.body["seats"], seats);
}

pub async fn wx_login(app: &TestApp, code: &str) -> Answer {
    app.post(
        "/api/v1/auth/wechat/mini-program",
        &json!({ "app_id": MINI_APP, "code": code }),
        Opts::default(),
    )
    .await
}

pub fn access_of(login: &Answer) -> String {
    login.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {}", login.text))
        .to_owned()
}

pub async fn me(app: &TestApp, token: &str) -> Value {
    let me = app.get("/api/v1/me", bearer(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    me.body["terminal"].clone()
}

/// Registers the caller with a fresh SMS code for `mobile`.
pub async fn register(
    app: &TestApp,
    token: &str,
    account: &str,
    name: &str,
    mobile: &str,
) -> Answer {
    register_with(
        app,
        token,
        mobile,
        json!({ "account_name": account, "contact_name": name }),
    )
    .await
}

/// Registers the caller with a fresh SMS code for `mobile` and the other request fields
/// in `fields` (names, form fields, an invitation code).
pub async fn register_with(app: &TestApp, token: &str, mobile: &str, fields: Value) -> Answer {
    let sent = app
        .post(
            "/api/v1/auth/sms-code",
            &json!({ "mobile": mobile }),
            tenant("acme"),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    let code = app.last_code(mobile).await;
    app.clock.advance(chrono::Duration::seconds(61));
    let mut body = fields;
    body["mobile"] = json!(mobile);
    body["mobile_code"] = json!(code);
    app.post("/api/v1/me/registration", &body, bearer(token))
        .await
}

/// Changes the settings of a registration method as `change` says.
pub async fn change_method(
    app: &TestApp,
    admin: &str,
    method: &str,
    change: impl FnOnce(&mut Value),
) -> Answer {
    let path = format!("/api/v1/admin/registration-methods/{method}");
    let current = app.get(&path, bearer(admin)).await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.text);
    let mut settings = current.body["settings"].clone();
    change(&mut settings);
    app.patch(&path, &json!({ "settings": settings }), bearer(admin))
        .await
}

pub async fn account_with_contact(
    app: &TestApp,
    admin: &str,
    name: &str,
    mobile: Option<&str>,
) -> (String, String) {
    let account = app
        .post(
            "/api/v1/admin/accounts",
            &json!({ "name": name }),
            bearer(admin),
        )
        .await;
    assert_eq!(account.status, StatusCode::CREATED, "{}", account.text);
    let id = account.body["id"].as_str().unwrap().to_owned();
    let contact = app
        .post(
            &format!("/api/v1/admin/accounts/{id}/contacts"),
            &json!({ "name": "张三", "mobile": mobile }),
            bearer(admin),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.text);
    (id, contact.body["id"].as_str().unwrap().to_owned())
}

backend_tests! {
    async fn scenario_1_openid_auto_with_optional_account(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "fuzzy").await;

        let alice = wx_login(&app, "alice").await;
        assert_eq!(alice.status, StatusCode::OK, "{}", alice.text);
        let alice_me = &alice.body["me"];
        assert_eq!(alice_me["registration_state"], "unregistered");
        assert_eq!(alice_me["data_scope"], "own");
        assert_eq!(alice_me["may_submit"], true);
        assert_eq!(alice_me["roles"], json!(["end_customer"]));
        // The login made Alice an external enterprise of her own, as it did Bob.
        assert_eq!(alice_me["enterprise"]["name"], "微信用户");
        assert_eq!(alice_me["enterprise"]["account_id"], Value::Null);
        let bob = wx_login(&app, "bob").await;
        assert_ne!(bob.body["me"]["user_id"], alice_me["user_id"]);
        assert_ne!(bob.body["me"]["enterprise"]["id"], alice_me["enterprise"]["id"]);
        // The same WeChat user again is the same terminal user.
        let again = wx_login(&app, "alice").await;
        assert_eq!(again.body["me"]["user_id"], alice_me["user_id"]);
        // Each sees only themselves; neither reaches staff routes.
        let alice_token = access_of(&alice);
        assert_eq!(me(&app, &alice_token).await["user_id"], alice_me["user_id"]);
        assert_eq!(me(&app, &access_of(&bob)).await["user_id"], bob.body["me"]["user_id"]);
        app.get("/api/v1/admin/accounts", bearer(&alice_token)).await.problem(403, "forbidden");
        app.get("/api/v1/admin/terminal-users", bearer(&alice_token)).await.problem(403, "forbidden");
        // The terminal token names the WeChat identity it was issued for.
        let claims = alice_token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&base64_url(claims)).unwrap();
        assert_eq!(claims["kind"], "terminal");
        assert_eq!(claims["wx"]["app_id"], MINI_APP);
        assert_eq!(claims["wx"]["openid"], format!("dev_{MINI_APP}_alice"));
        // Refresh keeps the terminal session going.
        let refresh = alice.body["refresh_token"].as_str().unwrap();
        let renewed = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }), Opts::default()).await;
        assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
        // ... and the new access token still names the OpenID it came from, rotation after rotation.
        let claims_of = |answer: &Answer| -> Value {
            let token = answer.body["access_token"].as_str().unwrap();
            serde_json::from_slice(&base64_url(token.split('.').nth(1).unwrap())).unwrap()
        };
        assert_eq!(claims_of(&renewed)["wx"]["openid"], format!("dev_{MINI_APP}_alice"));
        let next = renewed.body["refresh_token"].as_str().unwrap();
        let again = app.post("/api/v1/auth/refresh", &json!({ "refresh_token": next }), Opts::default()).await;
        assert_eq!(claims_of(&again)["wx"]["app_id"], MINI_APP);
        assert_eq!(claims_of(&again)["sub"], alice_me["user_id"]);
    }

    async fn scenario_2_openid_auto_with_mandatory_account(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "fuzzy").await;
        put_policy(&app, &admin, json!({ "require_account_on_work_orders": true })).await;

        let login = wx_login(&app, "carol").await;
        assert_eq!(login.status, StatusCode::OK);
        let token = access_of(&login);
        let before = me(&app, &token).await;
        assert_eq!(before["data_scope"], "own");
        assert_eq!(before["may_submit"], false);
        assert_eq!(before["submit_denied"], "registration-required");
        assert_eq!(before["may_register"], true);
        let own_enterprise = before["enterprise"]["id"].clone();
        assert!(own_enterprise.is_string());
        let form = app.get("/api/v1/registration/form", bearer(&token)).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        assert_eq!(form.body["account_fields"][0]["key"], "industry");

        let registered = register(&app, &token, "广州某某设备有限公司", "李四", "13900139001").await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        assert_eq!(registered.body["registration_state"], "registered");
        assert_eq!(registered.body["may_submit"], true);
        let account_id = registered.body["account_id"].as_str().unwrap().to_owned();
        let account = app.get(&format!("/api/v1/admin/accounts/{account_id}"), bearer(&admin)).await;
        assert_eq!(account.body["name"], "广州某某设备有限公司");
        assert_eq!(account.body["source"], "registration");
        let contacts = app.get(&format!("/api/v1/admin/accounts/{account_id}/contacts"), bearer(&admin)).await;
        assert_eq!(contacts.body["items"][0]["mobile"], "13900139001");
        // Carol's enterprise is now the account's, under its name.
        assert_eq!(registered.body["enterprise"]["id"], own_enterprise);
        assert_eq!(registered.body["enterprise"]["name"], "广州某某设备有限公司");
        assert_eq!(registered.body["enterprise"]["account_id"], account_id.as_str());
        // A colleague registering with the same company joins that enterprise; the one
        // their login made is gone.
        let dave = access_of(&wx_login(&app, "dave").await);
        assert_eq!(app.count_rows("external_enterprises"), 2);
        // (Naming the company proves nothing: an invitation code issued for its account does.)
        let invitation = app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 1, "account_id": account_id }), bearer(&admin)).await;
        let invitation = invitation.body["code"].as_str().unwrap().to_owned();
        let joined = register_with(&app, &dave, "13900139002", json!({ "account_name": "广州某某设备", "contact_name": "王五", "invitation_code": invitation })).await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.text);
        assert_eq!(joined.body["account_id"], account_id.as_str());
        assert_eq!(joined.body["enterprise"]["id"], own_enterprise);
        assert_eq!(app.count_rows("external_enterprises"), 1);
        let users = app.get(&format!("/api/v1/admin/terminal-users?account_id={account_id}"), bearer(&admin)).await;
        assert!(users.body["items"].as_array().unwrap().iter().all(|u| u["enterprise"]["id"] == own_enterprise), "{}", users.text);
        // The WeChat identity stays bound to the registered user.
        let again = wx_login(&app, "carol").await;
        assert_eq!(again.body["me"]["registration_state"], "registered");
        assert_eq!(again.body["me"]["account_id"], account_id.as_str());
        // Registering twice is refused.
        register(&app, &token, "Other", "李四", "13900139001").await.problem(409, "conflict");
    }

    async fn scenario_3_registration_first_guest_off(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", false, "fuzzy").await;
        let (existing_account, existing_contact) =
            account_with_contact(&app, &admin, "深圳市某某科技有限公司", Some("13900139002")).await;

        let login = wx_login(&app, "dave").await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        let token = access_of(&login);
        let before = me(&app, &token).await;
        assert_eq!(before["registration_state"], "unregistered");
        assert_eq!(before["data_scope"], "none");
        assert_eq!(before["may_submit"], false);
        assert_eq!(before["submit_denied"], "registration-required");

        // Fuzzy match of the account name, and the contact by mobile.
        let registered = register(&app, &token, "深圳某某科技", "王五", "13900139002").await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        assert_eq!(registered.body["account_id"], existing_account.as_str());
        assert_eq!(registered.body["contact_id"], existing_contact.as_str());
        assert_eq!(registered.body["data_scope"], "own");
        let accounts = app.get("/api/v1/admin/accounts", bearer(&admin)).await;
        assert_eq!(accounts.body["items"].as_array().unwrap().len(), 1, "no second account");
    }

    async fn scenario_4_registration_first_guest_on(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", false, "fuzzy").await;
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;

        let login = wx_login(&app, "erin").await;
        let visitor = &login.body["me"];
        assert_eq!(visitor["registration_state"], "unregistered");
        assert_eq!(visitor["data_scope"], "public_only");
        assert_eq!(visitor["may_register"], true);
        // The guest itself: shared, public data only, cannot register.
        let guest = app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await;
        assert_eq!(guest.status, StatusCode::OK, "{}", guest.text);
        assert_eq!(guest.body["me"]["registration_state"], "guest");
        assert_eq!(guest.body["me"]["data_scope"], "public_only");
        let other_guest = app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await;
        assert_eq!(other_guest.body["me"]["user_id"], guest.body["me"]["user_id"]);
        let guest_token = access_of(&guest);
        app.get("/api/v1/registration/form", bearer(&guest_token)).await.problem(403, "forbidden");
        let me_guest = app.get("/api/v1/me", bearer(&guest_token)).await;
        assert_eq!(me_guest.body["kind"], "guest");
        // Registering turns the visitor into a customer.
        let registered = register(&app, &access_of(&login), "某某医院", "赵六", "13900139003").await;
        assert_eq!(registered.body["data_scope"], "own");
        // With guests off, the guest login is refused.
        put_policy(&app, &admin, json!({ "guest_enabled": false })).await;
        app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await.problem(403, "guest-disabled");
    }

    async fn scenario_5_manual_activation_only(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        wx_login(&app, "frank").await.problem(403, "not-activated");
        let (account, _) = account_with_contact(&app, &admin, "某某制造厂", Some("13900139004")).await;
        let (no_mobile, _) = account_with_contact(&app, &admin, "无手机公司", None).await;
        let vip = app.post("/api/v1/admin/roles", &json!({ "key": "vip", "name": "VIP", "permissions": ["submit_work_order", "view_enterprise_work_orders"] }), bearer(&admin)).await;
        let vip_id = vip.body["id"].as_str().unwrap().to_owned();

        // An account without a contact mobile refuses the whole activation.
        let refused = app
            .post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [account, no_mobile], "role_ids": [vip_id] }), bearer(&admin))
            .await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["account_ids.1"]);
        assert_eq!(app.count_rows("terminal_users"), 0);

        let activated = app
            .post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [account], "role_ids": [vip_id] }), bearer(&admin))
            .await;
        assert_eq!(activated.status, StatusCode::CREATED, "{}", activated.text);
        assert_eq!(activated.body.as_array().unwrap().len(), 1);

        // The contact logs in by SMS code.
        app.post("/api/v1/auth/sms-code", &json!({ "mobile": "13900139004" }), tenant("acme")).await;
        let code = app.last_code("13900139004").await;
        let login = app.post("/api/v1/auth/sms-login", &json!({ "mobile": "13900139004", "code": code }), tenant("acme")).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        assert_eq!(login.body["me"]["registration_state"], "registered");
        assert_eq!(login.body["me"]["data_scope"], "enterprise");
        assert_eq!(login.body["me"]["roles"], json!(["vip"]));
        // Their first WeChat login (with the SMS session's token) binds the OpenID...
        let sms_token = access_of(&login);
        let bound = app
            .post("/api/v1/auth/wechat/mini-program", &json!({ "app_id": MINI_APP, "code": "frank" }), bearer(&sms_token))
            .await;
        assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
        assert_eq!(bound.body["me"]["user_id"], login.body["me"]["user_id"]);
        // ...so later WeChat logins find them.
        let later = wx_login(&app, "frank").await;
        assert_eq!(later.body["me"]["user_id"], login.body["me"]["user_id"]);
        // Anyone else is refused.
        wx_login(&app, "stranger").await.problem(403, "not-activated");
        app.post("/api/v1/auth/sms-code", &json!({ "mobile": "13700137000" }), tenant("acme")).await;
        let code = app.last_code("13700137000").await;
        app.post("/api/v1/auth/sms-login", &json!({ "mobile": "13700137000", "code": code }), tenant("acme"))
            .await
            .problem(403, "not-activated");
        // Disabling a user ends their session and their logins.
        let user_id = login.body["me"]["user_id"].as_str().unwrap();
        let disabled = app.patch(&format!("/api/v1/admin/terminal-users/{user_id}"), &json!({ "disabled": true }), bearer(&admin)).await;
        assert_eq!(disabled.body["status"], "disabled");
        app.get("/api/v1/me", bearer(&sms_token)).await.problem(401, "unauthenticated");
        wx_login(&app, "frank").await.problem(403, "not-activated");
    }

    async fn seats_are_enforced_all_or_nothing(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access;
        set_seats(&app, &provider.tenant_id, 1).await;
        let (a, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139005")).await;
        let (b, _) = account_with_contact(&app, &admin, "乙公司", Some("13900139006")).await;
        let refused = app.post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [a, b] }), bearer(&admin)).await;
        refused.problem(409, "seats-exhausted");
        assert_eq!(app.count_rows("terminal_users"), 0);
        let one = app.post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [a] }), bearer(&admin)).await;
        assert_eq!(one.status, StatusCode::CREATED);
        // openid_auto logins need a seat too.
        add_method(&app, &admin, "openid_auto", false, "fuzzy").await;
        wx_login(&app, "gina").await.problem(409, "seats-exhausted");

        // Disabling frees the seat; a second account takes it; re-enabling the first user
        // would need another one and is refused, leaving them disabled.
        let first = one.body[0]["id"].as_str().unwrap().to_owned();
        let disabled = app.patch(&format!("/api/v1/admin/terminal-users/{first}"), &json!({ "disabled": true }), bearer(&admin)).await;
        assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
        let second = app.post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [b] }), bearer(&admin)).await;
        assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
        app.patch(&format!("/api/v1/admin/terminal-users/{first}"), &json!({ "disabled": false }), bearer(&admin))
            .await
            .problem(409, "seats-exhausted");
        let users = app.get("/api/v1/admin/terminal-users", bearer(&admin)).await;
        let first_now = users.body["items"].as_array().unwrap().iter().find(|u| u["id"] == first.as_str()).unwrap().clone();
        assert_eq!(first_now["status"], "disabled", "{first_now}");
    }

    async fn approval_queue(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "require_registration", true, "exact").await;
        let vip = app.post("/api/v1/admin/roles", &json!({ "key": "vip", "name": "VIP", "permissions": ["submit_work_order"] }), bearer(&admin)).await;
        let vip_id = vip.body["id"].as_str().unwrap().to_owned();
        let login = wx_login(&app, "hank").await;
        let token = access_of(&login);

        let waiting = register(&app, &token, "某某物业", "孙七", "13900139007").await;
        assert_eq!(waiting.status, StatusCode::ACCEPTED, "{}", waiting.text);
        assert_eq!(waiting.body["registration_state"], "awaiting_approval");
        assert_eq!(waiting.body["may_submit"], false);
        assert_eq!(waiting.body["data_scope"], "none", "with guests off, nothing at all");
        assert_eq!(app.count_rows("accounts"), 0, "nothing created before approval");

        let queue = app.get("/api/v1/admin/registrations", bearer(&admin)).await;
        let items = queue.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["account_name"], "某某物业");
        let first = items[0]["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/admin/registrations/{first}/reject"), &json!({ "reason": "请填写营业执照上的全称" }), bearer(&admin))
            .await;
        let rejected = me(&app, &token).await;
        assert_eq!(rejected["registration_state"], "rejected");
        assert_eq!(rejected["registration"]["reason"], "请填写营业执照上的全称");
        app.post(&format!("/api/v1/admin/registrations/{first}/approve"), &json!({ "role_ids": [vip_id] }), bearer(&admin))
            .await
            .problem(409, "conflict");

        let again = register(&app, &token, "某某物业管理有限公司", "孙七", "13900139007").await;
        assert_eq!(again.status, StatusCode::ACCEPTED);
        let queue = app.get("/api/v1/admin/registrations", bearer(&admin)).await;
        let second = queue.body["items"][0]["id"].as_str().unwrap().to_owned();
        let approved = app
            .post(&format!("/api/v1/admin/registrations/{second}/approve"), &json!({ "role_ids": [vip_id] }), bearer(&admin))
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        let after = me(&app, &token).await;
        assert_eq!(after["registration_state"], "registered");
        assert_eq!(after["roles"], json!(["vip"]));
        assert_eq!(after["may_submit"], true);
    }

    async fn duplicate_rules_exact_and_fuzzy(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        account_with_contact(&app, &admin, "深圳市某某科技有限公司", Some("13900139010")).await;
        account_with_contact(&app, &admin, "ＡＢＣ科技有限公司", Some("13900139011")).await;
        // Exact: width and case fold, but 深圳某某科技 is another company.
        let one = register(&app, &access_of(&wx_login(&app, "u1").await), "abc科技有限公司", "甲", "13900139012").await;
        let two = register(&app, &access_of(&wx_login(&app, "u2").await), "深圳某某科技", "乙", "13900139013").await;
        let accounts = app.get("/api/v1/admin/accounts?limit=100", bearer(&admin)).await;
        let names: Vec<&str> = accounts.body["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["深圳市某某科技有限公司", "ＡＢＣ科技有限公司", "深圳某某科技"]);
        assert_ne!(one.body["account_id"], two.body["account_id"]);
        // Fuzzy: 深圳某某科技 and full-width letters match the existing accounts.
        let settings = app.get(&format!("/api/v1/admin/registration-methods/{method}"), bearer(&admin)).await;
        let mut new_settings = settings.body["settings"].clone();
        new_settings["account"]["duplicate_check"] = json!("fuzzy");
        let changed = app
            .patch(&format!("/api/v1/admin/registration-methods/{method}"), &json!({ "settings": new_settings }), bearer(&admin))
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let three = register(&app, &access_of(&wx_login(&app, "u3").await), "ＡＢＣ科技", "丙", "13900139014").await;
        assert_eq!(three.body["account_id"], one.body["account_id"]);
        assert_eq!(app.get("/api/v1/admin/accounts?limit=100", bearer(&admin)).await.body["items"].as_array().unwrap().len(), 3);
    }

    async fn roles_guest_is_read_only(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let guest = role_id(&app, &admin, "guest").await;
        let end_customer = role_id(&app, &admin, "end_customer").await;
        app.patch(&format!("/api/v1/admin/roles/{guest}"), &json!({ "permissions": ["view_devices"] }), bearer(&admin))
            .await
            .problem(409, "conflict");
        app.delete(&format!("/api/v1/admin/roles/{guest}"), bearer(&admin)).await.problem(409, "conflict");
        app.delete(&format!("/api/v1/admin/roles/{end_customer}"), bearer(&admin)).await.problem(409, "conflict");
        let changed = app
            .patch(&format!("/api/v1/admin/roles/{end_customer}"), &json!({ "permissions": ["submit_work_order", "register_blank_code"] }), bearer(&admin))
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        app.post("/api/v1/admin/roles", &json!({ "key": "Bad Key", "name": "x", "permissions": ["fly"] }), bearer(&admin))
            .await
            .problem(422, "validation-failed");
    }

    async fn another_tenants_identity_objects_answer_404(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let (account, contact) = account_with_contact(&app, &admin, "甲公司", Some("13900139020")).await;
        let other = app.sign_up("other", "13900139000").await;
        app.get(&format!("/api/v1/admin/accounts/{account}"), bearer(&other.access)).await.problem(404, "not-found");
        app.patch(&format!("/api/v1/admin/contacts/{contact}"), &json!({ "name": "x" }), bearer(&other.access))
            .await
            .problem(404, "not-found");
        app.post("/api/v1/admin/terminal-users/activations", &json!({ "account_ids": [account] }), bearer(&other.access))
            .await
            .problem(422, "validation-failed");
        // One app id belongs to one tenant.
        app.post(
            "/api/v1/admin/wechat-apps",
            &json!({ "app_id": MINI_APP, "kind": "mini_program", "name": "stolen", "secret": "x" }),
            bearer(&other.access),
        )
        .await
        .problem(422, "validation-failed");
        let apps = app.get("/api/v1/admin/wechat-apps", bearer(&admin)).await;
        assert!(!apps.text.contains("acme-mini-secret"), "secrets are write-only");
        assert_eq!(apps.body["items"][0]["app_id"], MINI_APP);
    }
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

backend_tests! {
    async fn invitation_codes_and_round_robin_owners(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = provider.access.clone();
        let (engineer, _) = app.add_staff(&admin, "acme", "13900139040", "engineer").await;
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        let current = app.get(&format!("/api/v1/admin/registration-methods/{method}"), bearer(&admin)).await;
        let mut settings = current.body["settings"].clone();
        settings["account"]["owner"] = json!({ "kind": "round_robin", "staff_ids": [provider.admin_id, engineer] });
        let changed = app.patch(&format!("/api/v1/admin/registration-methods/{method}"), &json!({ "settings": settings }), bearer(&admin)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        put_policy(&app, &admin, json!({ "invitation_required": true })).await;
        let code = app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 2 }), bearer(&admin)).await;
        assert_eq!(code.status, StatusCode::CREATED, "{}", code.text);
        let code = code.body["code"].as_str().unwrap().to_owned();

        let register_with = |user: &'static str, company: &'static str, mobile: &'static str, invitation: Option<String>| {
            let app = &app;
            async move {
                let token = access_of(&wx_login(app, user).await);
                app.post("/api/v1/auth/sms-code", &json!({ "mobile": mobile }), tenant("acme")).await;
                let sms = app.last_code(mobile).await;
                app.post(
                    "/api/v1/me/registration",
                    &json!({ "account_name": company, "contact_name": "联系人", "mobile": mobile, "mobile_code": sms, "invitation_code": invitation }),
                    bearer(&token),
                )
                .await
            }
        };
        let missing = register_with("i0", "零公司", "13900139050", None).await;
        missing.problem(422, "validation-failed");
        assert_eq!(missing.error_fields(), ["invitation_code"]);
        let first = register_with("i1", "一公司", "13900139051", Some(code.to_lowercase())).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let second = register_with("i2", "二公司", "13900139052", Some(code.clone())).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.text);
        // Used up.
        register_with("i3", "三公司", "13900139053", Some(code.clone())).await.problem(422, "validation-failed");
        let codes = app.get("/api/v1/admin/invitation-codes", bearer(&admin)).await;
        assert_eq!(codes.body["items"][0]["uses"], 2);
        // Owners in turn.
        let owner = |id: &Value| {
            let app = &app;
            let admin = admin.clone();
            let id = id.as_str().unwrap().to_owned();
            async move { app.get(&format!("/api/v1/admin/accounts/{id}"), bearer(&admin)).await.body["owner_staff_id"].clone() }
        };
        assert_eq!(owner(&first.body["account_id"]).await, provider.admin_id.as_str());
        assert_eq!(owner(&second.body["account_id"]).await, engineer.as_str());
    }
}

/// The keys of a form's fields, in order.
fn keys_of(fields: &Value) -> Vec<&str> {
    fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect()
}

backend_tests! {
    async fn a_fixed_owner_owns_every_registered_account(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let (engineer, _) = app.add_staff(&admin, "acme", "13900139060", "engineer").await;
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        // An owner who is not a staff user of the tenant is refused.
        let bad = change_method(&app, &admin, &method, |s| s["account"]["owner"] = json!({ "kind": "fixed", "staff_id": "nobody" })).await;
        bad.problem(422, "validation-failed");
        assert_eq!(bad.error_fields(), ["settings.account.owner.staff_id"]);
        let fixed = change_method(&app, &admin, &method, |s| s["account"]["owner"] = json!({ "kind": "fixed", "staff_id": engineer })).await;
        assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);

        for (user, company, mobile) in [("o1", "一公司", "13900139061"), ("o2", "二公司", "13900139062")] {
            let token = access_of(&wx_login(&app, user).await);
            let registered = register(&app, &token, company, "联系人", mobile).await;
            assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
            let id = registered.body["account_id"].as_str().unwrap();
            let account = app.get(&format!("/api/v1/admin/accounts/{id}"), bearer(&admin)).await;
            assert_eq!(account.body["name"], company);
            assert_eq!(account.body["owner_staff_id"], engineer.as_str(), "{}", account.text);
        }

        // A departed owner owns nothing new: the account waits for one instead.
        let gone = app.delete(&format!("/api/v1/admin/staff/{engineer}"), bearer(&admin)).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        let token = access_of(&wx_login(&app, "o3").await);
        let registered = register(&app, &token, "三公司", "联系人", "13900139063").await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        let id = registered.body["account_id"].as_str().unwrap();
        let account = app.get(&format!("/api/v1/admin/accounts/{id}"), bearer(&admin)).await;
        assert_eq!(account.body["owner_staff_id"], serde_json::Value::Null, "{}", account.text);
    }

    async fn existing_only_matches_known_accounts_and_refuses_new_names(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let method = add_method(&app, &admin, "openid_auto", false, "fuzzy").await;
        let changed = change_method(&app, &admin, &method, |s| s["account"]["new_account_rule"] = json!("existing_only")).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let (existing, _) = account_with_contact(&app, &admin, "深圳市某某科技有限公司", Some("13900139070")).await;

        let token = access_of(&wx_login(&app, "x1").await);
        let form = app.get("/api/v1/registration/form", bearer(&token)).await;
        assert_eq!(form.body["new_account_rule"], "existing_only", "{}", form.text);
        let refused = register(&app, &token, "某某不存在有限公司", "甲", "13900139071").await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["account_name"]);
        assert_eq!(refused.body["errors"][0]["code"], "not_found");
        assert_eq!(app.count_rows("accounts"), 1, "no account created");
        assert_eq!(me(&app, &token).await["registration_state"], "unregistered");
        // The duplicate rule (fuzzy here) decides what "existing" means; a mobile that is
        // none of the account's contacts' proves nothing, so that registration waits...
        let unproven = register(&app, &token, "深圳某某科技", "甲", "13900139071").await;
        assert_eq!(unproven.status, StatusCode::ACCEPTED, "{}", unproven.text);
        assert_eq!(unproven.body["registration"]["approval_reason"], "unverified_claim");
        // ...while the account's own contact joins at once.
        let token = access_of(&wx_login(&app, "x2").await);
        let matched = register(&app, &token, "深圳某某科技", "甲", "13900139070").await;
        assert_eq!(matched.status, StatusCode::OK, "{}", matched.text);
        assert_eq!(matched.body["account_id"], existing.as_str());
        assert_eq!(matched.body["registration_state"], "registered");
        assert_eq!(app.count_rows("accounts"), 1);
    }

    async fn required_fields_are_named_at_once_and_show_only_required_hides_the_rest(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        let changed = change_method(&app, &admin, &method, |s| {
            s["account"]["fields"] = json!([{ "key": "industry", "label": "行业", "required": true }, { "key": "size", "label": "规模", "required": false }]);
            s["contact"]["fields"] = json!([{ "key": "title", "label": "职务", "required": true }, { "key": "wechat", "label": "微信号", "required": false }]);
        })
        .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);

        let token = access_of(&wx_login(&app, "r1").await);
        let form = app.get("/api/v1/registration/form", bearer(&token)).await;
        assert_eq!(keys_of(&form.body["account_fields"]), ["industry", "size"]);
        assert_eq!(keys_of(&form.body["contact_fields"]), ["title", "wechat"]);
        assert_eq!(form.body["account_fields"][0]["required"], true);
        assert_eq!(form.body["account_fields"][1]["required"], false);
        // Every missing required field is named in one answer; nothing is created.
        let missing = register_with(
            &app,
            &token,
            "13900139080",
            json!({ "account_name": " ", "contact_name": "", "account_fields": { "size": "50 人" }, "contact_fields": { "title": "  " } }),
        )
        .await;
        missing.problem(422, "validation-failed");
        let mut fields = missing.error_fields();
        fields.sort();
        assert_eq!(fields, ["account_fields.industry", "account_name", "contact_fields.title", "contact_name"]);
        assert_eq!(app.count_rows("accounts"), 0);
        let complete = register_with(
            &app,
            &token,
            "13900139080",
            json!({ "account_name": "某某制造", "contact_name": "王经理", "account_fields": { "industry": "制造", "size": "50 人" }, "contact_fields": { "title": "经理" } }),
        )
        .await;
        assert_eq!(complete.status, StatusCode::OK, "{}", complete.text);
        let account_id = complete.body["account_id"].as_str().unwrap();
        let account = app.get(&format!("/api/v1/admin/accounts/{account_id}"), bearer(&admin)).await;
        assert_eq!(account.body["fields"], json!({ "industry": "制造", "size": "50 人" }));

        // Only the required account fields show; the contact form still shows all of its.
        let changed = change_method(&app, &admin, &method, |s| s["account"]["show_only_required"] = json!(true)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let other = access_of(&wx_login(&app, "r2").await);
        let form = app.get("/api/v1/registration/form", bearer(&other)).await;
        assert_eq!(keys_of(&form.body["account_fields"]), ["industry"]);
        assert_eq!(keys_of(&form.body["contact_fields"]), ["title", "wechat"]);
        // A field the form does not show is not accepted either.
        let hidden = register_with(
            &app,
            &other,
            "13900139081",
            json!({ "account_name": "某某贸易", "contact_name": "赵", "account_fields": { "industry": "贸易", "size": "10 人" }, "contact_fields": { "title": "采购" } }),
        )
        .await;
        hidden.problem(422, "validation-failed");
        assert_eq!(hidden.error_fields(), ["account_fields.size"]);
    }

    async fn invitation_codes_single_use_and_expiring(app: TestApp) {
        use baoxiu_core::Clock;
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        put_policy(&app, &admin, json!({ "invitation_required": true })).await;
        let created = app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 1 }), bearer(&admin)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let once = created.body["code"].as_str().unwrap().to_owned();
        let with_code = |company: &str, code: &str| json!({ "account_name": company, "contact_name": "联系人", "invitation_code": code });

        // With invitations required, an openid_auto login is not in by itself: the code
        // comes with the registration form.
        let v1 = access_of(&wx_login(&app, "v1").await);
        let before = me(&app, &v1).await;
        assert_eq!(before["registration_state"], "unregistered");
        assert_eq!(before["data_scope"], "none");
        assert_eq!(before["may_register"], true);
        app.get("/api/v1/devices", bearer(&v1)).await.problem(403, "registration-required");
        let no_code = register_with(&app, &v1, "13900139090", json!({ "account_name": "一公司", "contact_name": "联系人" })).await;
        no_code.problem(422, "validation-failed");
        assert_eq!(no_code.error_fields(), ["invitation_code"]);

        // A single-use code works once.
        let first = register_with(&app, &v1, "13900139090", with_code("一公司", &once)).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let v2 = access_of(&wx_login(&app, "v2").await);
        let used = register_with(&app, &v2, "13900139091", with_code("二公司", &once)).await;
        used.problem(422, "validation-failed");
        assert_eq!(used.error_fields(), ["invitation_code"]);
        assert_eq!(me(&app, &v2).await["registration_state"], "unregistered");
        assert_eq!(app.count_rows("accounts"), 1);

        // An expiring code works until it expires, then no more.
        let now = app.clock.now();
        let created = app
            .post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 10, "expires_at": (now + chrono::Duration::hours(1)).to_rfc3339() }), bearer(&admin))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let expiring = created.body["code"].as_str().unwrap().to_owned();
        let in_time = register_with(&app, &v2, "13900139091", with_code("二公司", &expiring)).await;
        assert_eq!(in_time.status, StatusCode::OK, "{}", in_time.text);
        app.clock.advance(chrono::Duration::hours(2));
        let v3 = access_of(&wx_login(&app, "v3").await);
        let late = register_with(&app, &v3, "13900139092", with_code("三公司", &expiring)).await;
        late.problem(422, "validation-failed");
        assert_eq!(late.error_fields(), ["invitation_code"]);
        assert_eq!(me(&app, &v3).await["registration_state"], "unregistered");
        // (The admin's access token has expired meanwhile.)
        let admin = app.login("acme", "13800138000", PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
        let codes = app.get("/api/v1/admin/invitation-codes", bearer(&admin)).await;
        let uses: Vec<(&str, i64)> = codes.body["items"].as_array().unwrap().iter().map(|c| (c["code"].as_str().unwrap(), c["uses"].as_i64().unwrap())).collect();
        assert_eq!(uses, [(once.as_str(), 1), (expiring.as_str(), 1)]);
        // A code cannot be made expired already.
        let past = app
            .post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 1, "expires_at": (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339() }), bearer(&admin))
            .await;
        past.problem(422, "validation-failed");
        assert_eq!(past.error_fields(), ["expires_at"]);
    }
}
