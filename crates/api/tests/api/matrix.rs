//! The authorisation matrix (OWASP API1 and API5): every operation of the OpenAPI document,
//! called as every kind of caller — no token, guest, end customer, engineer, admin, and
//! another tenant's admin holding this tenant's ids. An operation without a row in `ACCESS`
//! fails the test, so a new route cannot ship without saying who may call it.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{
    MINI_APP, access_of, account_with_contact, add_method, change_method, put_policy, register,
    role_id, wx_login,
};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Access {
    /// Anyone, without a token (logins, sign-up, health, the printed QR URL). What a
    /// token adds there is the tenant, whose settings may refuse (guest access off: 403).
    Public,
    /// Staff with the admin role.
    Admin,
    /// Any staff member (admin, dispatcher, engineer).
    Staff,
    /// Terminal users and the guest.
    Terminal,
    /// Terminal users, not the guest (registration is theirs).
    Registrant,
    /// Terminal users, the guest, and staff.
    Anyone,
    /// Staff, and terminal roles given `register_blank_code` (the end customer is not).
    BindBlankCode,
    /// The platform operator only.
    Platform,
}

pub(crate) const ACCESS: &[(&str, Access)] = &[
    ("activate_terminal_users", Access::Admin),
    ("approve_domain", Access::Platform),
    ("reject_domain", Access::Platform),
    ("set_tenant_seats", Access::Platform),
    ("approve_registration", Access::Admin),
    ("bind_qr_code", Access::BindBlankCode),
    ("bind_wechat_app", Access::Admin),
    ("complete_registration", Access::Registrant),
    ("create_account", Access::Staff),
    ("create_contact", Access::Staff),
    ("create_device", Access::Staff),
    ("create_domain", Access::Admin),
    ("create_form_template", Access::Admin),
    ("create_invitation_code", Access::Admin),
    ("create_provider", Access::Public),
    ("create_registration_method", Access::Admin),
    ("create_role", Access::Admin),
    ("create_staff", Access::Admin),
    ("delete_device", Access::Staff),
    ("delete_registration_method", Access::Admin),
    ("delete_role", Access::Admin),
    ("delete_staff", Access::Admin),
    ("export_devices", Access::Staff),
    ("export_qr_codes", Access::Staff),
    ("generate_qr_codes", Access::Staff),
    ("get_account", Access::Staff),
    ("get_attachment", Access::Anyone),
    ("get_admin_device", Access::Staff),
    ("get_device", Access::Terminal),
    ("get_liveness", Access::Public),
    ("get_me", Access::Anyone),
    ("get_profile", Access::Admin),
    ("get_provider", Access::Public),
    ("get_qr_code_image", Access::Staff),
    ("get_qr_settings", Access::Admin),
    ("get_readiness", Access::Public),
    ("get_registration_form", Access::Registrant),
    ("get_work_order_form", Access::Terminal),
    ("get_registration_method", Access::Admin),
    ("get_registration_policy", Access::Admin),
    ("get_settings", Access::Admin),
    ("get_staff", Access::Admin),
    ("import_devices", Access::Staff),
    ("list_accounts", Access::Staff),
    ("list_admin_devices", Access::Staff),
    ("list_audit_log", Access::Admin),
    ("list_contacts", Access::Staff),
    ("list_devices", Access::Terminal),
    ("list_domains", Access::Admin),
    ("list_form_templates", Access::Admin),
    ("list_invitation_codes", Access::Admin),
    ("list_jobs", Access::Admin),
    ("list_qr_codes", Access::Staff),
    ("list_registration_methods", Access::Admin),
    ("list_registrations", Access::Staff),
    ("list_roles", Access::Admin),
    ("list_staff", Access::Admin),
    ("list_terminal_users", Access::Staff),
    ("list_wechat_apps", Access::Admin),
    ("login_guest", Access::Public),
    ("login_staff", Access::Public),
    ("login_terminal_sms", Access::Public),
    ("login_wechat_mini_program", Access::Public),
    ("login_wechat_official_account", Access::Public),
    ("logout_session", Access::Public),
    ("lookup_devices", Access::Terminal),
    ("open_qr_code", Access::Public),
    ("put_qr_settings", Access::Admin),
    ("put_registration_policy", Access::Admin),
    ("refresh_tokens", Access::Public),
    ("reject_registration", Access::Admin),
    ("scan_qr_code", Access::Anyone),
    ("send_provider_sms_code", Access::Public),
    ("send_staff_sms_code", Access::Public),
    ("send_terminal_sms_code", Access::Public),
    ("unbind_wechat_app", Access::Admin),
    ("update_account", Access::Staff),
    ("update_contact", Access::Staff),
    ("update_device", Access::Staff),
    ("update_form_template", Access::Admin),
    ("update_profile", Access::Admin),
    ("update_registration_method", Access::Admin),
    ("update_role", Access::Admin),
    ("update_settings", Access::Admin),
    ("update_staff", Access::Admin),
    ("update_terminal_user", Access::Admin),
    ("upload_attachment", Access::Anyone),
    // Work orders. The staff routes admit admins and dispatchers (engineers get 403).
    ("submit_work_order", Access::Terminal),
    ("list_work_orders", Access::Terminal),
    ("get_work_order", Access::Terminal),
    ("cancel_work_order", Access::Terminal),
    ("confirm_work_order", Access::Terminal),
    ("rate_work_order", Access::Terminal),
    ("get_tracked_work_order", Access::Public),
    ("rate_tracked_work_order", Access::Public),
    ("list_admin_work_orders", Access::Admin),
    ("create_work_order", Access::Admin),
    ("export_work_orders", Access::Admin),
    ("get_admin_work_order", Access::Admin),
    ("transition_work_order", Access::Admin),
    ("list_engineer_work_orders", Access::Staff),
    ("check_in_work_order", Access::Staff),
    ("check_out_work_order", Access::Staff),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    NoToken,
    Guest,
    Customer,
    OtherTenantAdmin,
    Engineer,
    Admin,
}

impl Access {
    /// Whether `caller` may call it (answers other than 401/403 expected).
    fn admits(self, caller: Caller) -> bool {
        use Caller::*;
        match self {
            Access::Public => true,
            Access::Admin => matches!(caller, Admin | OtherTenantAdmin),
            Access::Staff | Access::BindBlankCode => {
                matches!(caller, Admin | OtherTenantAdmin | Engineer)
            }
            Access::Terminal => matches!(caller, Guest | Customer),
            Access::Registrant => caller == Customer,
            Access::Anyone => caller != NoToken,
            Access::Platform => false,
        }
    }
}

struct Operation {
    method: Method,
    template: String,
    id: String,
    access: Access,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    let mut ids = BTreeSet::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            let access = ACCESS
                .iter()
                .find(|(name, _)| *name == id)
                .unwrap_or_else(|| panic!("{id} has no row in the authorisation matrix"))
                .1;
            ids.insert(id.clone());
            found.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                template: template.clone(),
                id,
                access,
            });
        }
    }
    let stale: Vec<_> = ACCESS
        .iter()
        .filter(|(name, _)| !ids.contains(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for operations that do not exist: {stale:?}"
    );
    found
}

/// Tenant A's real objects, so another tenant's admin is tested against ids that exist.
struct Ids {
    account: String,
    contact: String,
    device: String,
    method: String,
    role: String,
    staff: String,
    terminal_user: String,
    wechat_app: String,
    code: String,
    registration: String,
    form_template: String,
}

/// What a caller's own tenant holds that a valid body names.
struct Own {
    role: String,
    device: String,
}

/// A body the operation accepts, naming objects of the caller's own tenant, so that the
/// call gets past validation to the object of the path: another tenant's admin then meets
/// tenant A's object itself (404), not a 422 about the body.
fn valid_body(operation: &str, own: &Own, a: &Ids) -> Value {
    match operation {
        "create_contact" => json!({ "name": "矩阵联系人" }),
        "approve_registration" => json!({ "role_ids": [own.role] }),
        "reject_registration" | "reject_domain" => json!({ "reason": "矩阵" }),
        "bind_qr_code" => json!({ "device_id": own.device }),
        // Tenant A's account, whoever asks: for anyone else it is another tenant's.
        "activate_terminal_users" => json!({ "account_ids": [a.account], "role_ids": [own.role] }),
        "set_tenant_seats" => json!({ "seats": 10 }),
        "create_form_template" => json!({ "name": "矩阵表单", "fields": [
            { "key": "fault_description", "label": "故障描述", "kind": "textarea", "required": true }
        ] }),
        "check_in_work_order" | "check_out_work_order" => {
            json!({ "latitude": 1.0, "longitude": 1.0 })
        }
        "transition_work_order" => json!({ "action": "accept" }),
        "rate_work_order" | "rate_tracked_work_order" => json!({ "stars": 5 }),
        _ => json!({}),
    }
}

/// Rows of tenant A in the tables a request could change, and its audit entries (every
/// change writes one): equal before and after another tenant's calls.
fn tenant_rows(app: &TestApp, tenant_id: &str) -> Vec<(&'static str, i64)> {
    [
        "staff_users",
        "accounts",
        "contacts",
        "devices",
        "terminal_users",
        "terminal_roles",
        "registration_methods",
        "registrations",
        "invitation_codes",
        "qr_codes",
        "wechat_apps",
        "form_templates",
        "audit_log",
    ]
    .into_iter()
    .map(|table| {
        (
            table,
            app.count_rows(&format!("{table} WHERE tenant_id = '{tenant_id}'")),
        )
    })
    .collect()
}

impl Ids {
    fn fill(&self, template: &str) -> String {
        let unknown = "0190f0e0-0000-7000-8000-000000000000";
        let id = [
            ("/accounts/", &self.account),
            ("/contacts/", &self.contact),
            ("/devices/", &self.device),
            ("/registration-methods/", &self.method),
            ("/roles/", &self.role),
            ("/staff/", &self.staff),
            ("/terminal-users/", &self.terminal_user),
            ("/registrations/", &self.registration),
            ("/wechat-apps/", &self.wechat_app),
            ("/form-templates/", &self.form_template),
        ]
        .iter()
        .find(|(segment, _)| template.contains(segment))
        .map_or(unknown, |(_, id)| id.as_str());
        template.replace("{id}", id).replace("{code}", &self.code)
    }
}

backend_tests! {
    async fn every_operation_answers_every_caller_as_its_access_says(app: TestApp) {
        // Tenant A (acme): a Mini Program, a guest, an end customer, an engineer, objects.
        let a = crate::terminal::tenant_with_app(&app).await;
        let admin = a.access.clone();
        let (engineer_id, engineer) = app.add_staff(&admin, "acme", "13700137001", "engineer").await;
        let (account, contact) = account_with_contact(&app, &admin, "甲公司", Some("13900139001")).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": account, "guest_contact_id": contact })).await;
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        let customer_login = wx_login(&app, "matrix-customer").await;
        let customer = access_of(&customer_login);
        let terminal_user = customer_login.body["me"]["user_id"].as_str().unwrap().to_owned();
        let guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        // A registration awaiting approval, for approving and rejecting across tenants; the
        // method then goes back to what the customer logged in with.
        let approval = |mode: &'static str, approve: bool| move |settings: &mut Value| {
            settings["mode"] = json!(mode);
            settings["requires_approval"] = json!(approve);
        };
        let changed = change_method(&app, &admin, &method, approval("require_registration", true)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let registrant = access_of(&wx_login(&app, "matrix-registrant").await);
        let pending = register(&app, &registrant, "乙公司", "李四", "13900139002").await;
        assert_eq!(pending.status, StatusCode::ACCEPTED, "{}", pending.text);
        let changed = change_method(&app, &admin, &method, approval("openid_auto", false)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        let queue = app.get("/api/v1/admin/registrations", bearer(&admin)).await;
        let registration = queue.body["items"][0]["id"].as_str().unwrap().to_owned();
        let device = app
            .post("/api/v1/admin/devices", &json!({ "name": "矩阵", "serial_no": "MATRIX-1", "visibility": "public" }), bearer(&admin))
            .await;
        assert_eq!(device.status, StatusCode::CREATED, "{}", device.text);
        let mut settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await.body;
        settings["enabled"] = json!(true);
        let saved = app.call(Method::PUT, "/api/v1/admin/qr-settings", Some(&settings), bearer(&admin)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        let codes = app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(&admin)).await;
        assert_eq!(codes.status, StatusCode::CREATED, "{}", codes.text);
        let apps = app.get("/api/v1/admin/wechat-apps", bearer(&admin)).await;
        let wechat_app = apps.body["items"].as_array().unwrap().iter().find(|w| w["app_id"] == MINI_APP).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let ids = Ids {
            account,
            contact,
            device: device.body["id"].as_str().unwrap().to_owned(),
            method,
            role: role_id(&app, &admin, "end_customer").await,
            staff: engineer_id,
            terminal_user,
            wechat_app,
            code: codes.body[0]["code"].as_str().unwrap().to_owned(),
            registration,
            form_template: app.get("/api/v1/admin/form-templates", bearer(&admin)).await.body["items"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        let own_a = Own { role: ids.role.clone(), device: ids.device.clone() };
        // Tenant B: its admin holds a valid token, for the wrong tenant, and its own objects.
        let b = app.sign_up("other", "13800138999").await;
        let other = b.access.clone();
        let b_device = app
            .post("/api/v1/admin/devices", &json!({ "name": "乙的设备", "serial_no": "MATRIX-B" }), bearer(&other))
            .await;
        assert_eq!(b_device.status, StatusCode::CREATED, "{}", b_device.text);
        let own_b = Own {
            role: role_id(&app, &other, "end_customer").await,
            device: b_device.body["id"].as_str().unwrap().to_owned(),
        };

        let document = app.get("/api/v1/openapi.json", Opts::default()).await.body;
        let operations = operations(&document);
        // Callers in this order: the admin's deletes come last.
        let callers = [
            (Caller::NoToken, None),
            (Caller::Guest, Some(guest.as_str())),
            (Caller::Customer, Some(customer.as_str())),
            (Caller::OtherTenantAdmin, Some(other.as_str())),
            (Caller::Engineer, Some(engineer.as_str())),
            (Caller::Admin, Some(admin.as_str())),
        ];
        let mut wrong = Vec::new();
        let mut tenant_a_before = Vec::new();
        for (caller, token) in callers {
            let own = if caller == Caller::OtherTenantAdmin { &own_b } else { &own_a };
            if caller == Caller::OtherTenantAdmin {
                tenant_a_before = tenant_rows(&app, &a.tenant_id);
            }
            if caller == Caller::Engineer {
                // Another tenant's admin changed nothing of tenant A's.
                assert_eq!(tenant_rows(&app, &a.tenant_id), tenant_a_before, "tenant A changed");
                let queue = app.get("/api/v1/admin/registrations", bearer(&admin)).await;
                assert_eq!(queue.body["items"][0]["id"].as_str(), Some(ids.registration.as_str()), "still pending");
                let blank = app.get("/api/v1/admin/qr-codes?bound=false", bearer(&admin)).await;
                assert_eq!(blank.body["items"][0]["code"].as_str(), Some(ids.code.as_str()), "still blank");
            }
            for operation in &operations {
                let path = ids.fill(&operation.template);
                let body = (operation.method != Method::GET && operation.method != Method::DELETE).then(|| valid_body(&operation.id, own, &ids));
                let answer = app
                    .call(operation.method.clone(), &path, body.as_ref(), Opts { token, tenant: token.is_none().then_some("acme"), ..Opts::default() })
                    .await;
                let status = answer.status;
                let content_type = answer.header("content-type").unwrap_or_default().to_owned();
                let mut fault = None;
                // An `ETag` is sent exactly where the document says so.
                if caller == Caller::Admin && status.is_success() {
                    let documented = document["paths"][&operation.template][operation.method.as_str().to_lowercase()]["responses"][status.as_str()]["headers"]
                        .get("ETag")
                        .is_some();
                    if documented != answer.header("etag").is_some() {
                        wrong.push(format!("{} {path} ({}): {status}: ETag documented {documented}, sent {}", operation.method, operation.id, answer.header("etag").is_some()));
                    }
                }
                if status.is_server_error() {
                    fault = Some("a server error");
                } else if status.is_client_error() && !content_type.starts_with("application/problem+json") {
                    fault = Some("an error that is not problem+json");
                } else if operation.access == Access::Public {
                    // Open to all: only the two checks above apply.
                } else if operation.access.admits(caller) {
                    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                        fault = Some("refused a caller it admits");
                    } else if caller == Caller::OtherTenantAdmin
                        && operation.template.contains('{')
                        && status != StatusCode::NOT_FOUND
                    {
                        // Tenant A's object from tenant B, with a body valid in B: never
                        // served, never changed, never told apart from no object at all.
                        fault = Some("another tenant's object was not 404");
                    } else if caller == Caller::OtherTenantAdmin && operation.id == "activate_terminal_users" {
                        // Tenant A's account named in the body: the field is refused as an
                        // account that does not exist (422 `not_found`), nothing more.
                        let error = &answer.body["errors"][0];
                        if status != StatusCode::UNPROCESSABLE_ENTITY || error["field"] != "account_ids.0" || error["code"] != "not_found" {
                            fault = Some("another tenant's account in the body was not refused as unknown");
                        }
                    }
                } else if caller == Caller::NoToken {
                    if status != StatusCode::UNAUTHORIZED {
                        fault = Some("no token, yet not 401");
                    }
                } else if status != StatusCode::FORBIDDEN && status != StatusCode::NOT_FOUND {
                    fault = Some("a caller it does not admit was not refused");
                }
                if let Some(fault) = fault {
                    wrong.push(format!("{caller:?} {} {path} ({}): {status}: {fault}: {}", operation.method, operation.id, answer.text));
                }
            }
        }
        assert!(wrong.is_empty(), "{} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
    }
}
