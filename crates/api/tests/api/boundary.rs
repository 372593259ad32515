//! The boundary: control characters (U+0000 above all, which PostgreSQL cannot store) are
//! refused in bodies, queries, paths and CSV files on every route, logged in or not; and
//! JSON that parses but does not fit the types answers 422 naming the field, in words.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::matrix::{ACCESS, Access};
use crate::support::*;
use crate::terminal::{MINI_APP, access_of, add_method, tenant_with_app, wx_login};

/// Rows of the tables a request could write, to prove it wrote nothing.
const TABLES: &[&str] = &[
    "tenants",
    "staff_users",
    "refresh_tokens",
    "sms_codes",
    "tenant_domains",
    "devices",
    "accounts",
    "contacts",
    "terminal_users",
    "terminal_roles",
    "registration_methods",
    "registrations",
    "invitation_codes",
    "qr_codes",
    "wechat_apps",
    "audit_log",
    "jobs",
];

fn counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    TABLES.iter().map(|t| (*t, app.count_rows(t))).collect()
}

/// The first field error's (field, code, message).
#[track_caller]
fn first_error(answer: &Answer) -> (String, String, String) {
    answer.problem(422, "validation-failed");
    let error = &answer.body["errors"][0];
    (
        error["field"].as_str().unwrap_or_default().to_owned(),
        error["code"].as_str().unwrap_or_default().to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

backend_tests! {
    async fn control_characters_are_refused_in_bodies_queries_paths_and_files(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        let admin = bearer(&provider.access);
        add_method(&app, &provider.access, "openid_auto", false, "exact").await;
        let customer = access_of(&wx_login(&app, "boundary-customer").await);
        let device = app.post("/api/v1/admin/devices", &json!({ "name": "甲", "serial_no": "SN-1" }), admin.clone()).await;
        assert_eq!(device.status, StatusCode::CREATED, "{}", device.text);
        let before = counts(&app);

        // Unauthenticated routes: bodies.
        for (path, body, field) in [
            ("/api/v1/auth/wechat/mini-program", json!({ "app_id": "wx\u{0}", "code": "c" }), "app_id"),
            ("/api/v1/auth/wechat/mini-program", json!({ "app_id": MINI_APP, "code": "a\u{0}b" }), "code"),
            ("/api/v1/auth/staff/login", json!({ "mobile": "1380013800\u{0}", "password": PASSWORD }), "mobile"),
            ("/api/v1/auth/sms-code", json!({ "mobile": "13800138000\u{1b}" }), "mobile"),
            ("/api/v1/providers/sms-code", json!({ "mobile": "\u{0}" }), "mobile"),
            ("/api/v1/auth/refresh", json!({ "refresh_token": "x\u{0}" }), "refresh_token"),
        ] {
            let answer = app.post(path, &body, tenant("acme")).await;
            let (got, code, _) = first_error(&answer);
            assert_eq!((got.as_str(), code.as_str()), (field, "control_character"), "{path}: {}", answer.text);
        }
        // Logged-in bodies, nested fields and keys included; tab and line breaks are
        // refused in single-line fields.
        for (method, path, body, field) in [
            (Method::POST, "/api/v1/admin/staff", json!({ "mobile": "13900139000", "name": "E\u{0}", "role": "engineer" }), "name"),
            (Method::POST, "/api/v1/admin/staff", json!({ "mobile": "13900139000", "name": "E\nF", "role": "engineer" }), "name"),
            (Method::POST, "/api/v1/admin/devices", json!({ "name": "x\u{7f}" }), "name"),
            (Method::POST, "/api/v1/admin/accounts", json!({ "name": "A", "fields": { "industry": "\u{0}" } }), "fields.industry"),
            (Method::POST, "/api/v1/admin/accounts", json!({ "name": "A", "fields": { "in\u{0}dustry": "x" } }), "fields.in\u{0}dustry"),
            (Method::POST, "/api/v1/admin/qr-codes/export", json!({ "codes": ["A\u{85}"] }), "codes.0"),
            (Method::PATCH, "/api/v1/admin/profile", json!({ "display_name": "甲\t乙" }), "display_name"),
            (Method::PATCH, "/api/v1/admin/profile", json!({ "about": "第一行\u{0}" }), "about"),
        ] {
            let answer = app.call(method.clone(), path, Some(&body), admin.clone()).await;
            let (got, code, message) = first_error(&answer);
            assert_eq!((got.as_str(), code.as_str()), (field, "control_character"), "{method} {path}: {}", answer.text);
            assert!(message.contains("control characters"), "{message}");
        }
        // A terminal user's body too (the registration form).
        let registration = app
            .post("/api/v1/me/registration", &json!({ "account_name": "乙\u{0}", "contact_name": "张三", "mobile": "13900139001", "mobile_code": "000000" }), bearer(&customer))
            .await;
        assert_eq!(first_error(&registration).0, "account_name", "{}", registration.text);

        // Queries: 422 naming the parameter, logged in or not.
        for (path, opts, field) in [
            ("/q/SOMECODE?t=ac%00me", Opts::default(), "t"),
            ("/api/v1/admin/devices?q=%00", admin.clone(), "q"),
            ("/api/v1/admin/accounts?q=a%0Ab", admin.clone(), "q"),
            ("/api/v1/admin/audit-log?action=x%00", admin.clone(), "action"),
            ("/api/v1/devices/lookup?serial=SN%00", bearer(&customer), "serial"),
        ] {
            let answer = app.get(path, opts).await;
            let (got, code, _) = first_error(&answer);
            assert_eq!((got.as_str(), code.as_str()), (field, "control_character"), "{path}: {}", answer.text);
        }

        // Paths: 404, logged in or not.
        let device_id = device.body["id"].as_str().unwrap();
        for (method, path, opts) in [
            (Method::GET, "/q/DM%00".to_owned(), Opts::default()),
            (Method::GET, "/api/v1/scan/DM%00".to_owned(), bearer(&customer)),
            (Method::GET, format!("/api/v1/admin/devices/{device_id}%00"), admin.clone()),
            (Method::DELETE, format!("/api/v1/admin/devices/{device_id}%00"), admin.clone()),
            (Method::GET, "/api/v1/admin/staff/%01".to_owned(), admin.clone()),
            (Method::DELETE, "/api/v1/admin/roles/x%00".to_owned(), admin.clone()),
            (Method::POST, "/api/v1/platform/domains/%00/approve".to_owned(), Opts::default()),
        ] {
            let body = (method == Method::POST).then(|| json!({}));
            let answer = app.call(method.clone(), &path, body.as_ref(), opts).await;
            answer.problem(404, "not-found");
        }

        // A CSV file with a NUL: refused whole (tab and line breaks are CSV's own).
        let csv = b"name,serial_no\n\xe4\xb9\x99,SN-\x002\n".to_vec();
        let import = app.post_raw("/api/v1/admin/devices/import?partial=true", "text/csv", csv, admin.clone()).await;
        let (field, code, message) = first_error(&import);
        assert_eq!((field.as_str(), code.as_str()), ("file", "control_character"), "{}", import.text);
        assert!(message.starts_with("line 2"), "{message}");

        assert_eq!(counts(&app), before, "nothing changed");

        // Line breaks and tabs are free text's own in multi-line fields.
        let profile = app.patch("/api/v1/admin/profile", &json!({ "about": "第一行\r\n第二行\twith a tab" }), admin.clone()).await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.text);
        assert_eq!(profile.body["about"], "第一行\r\n第二行\twith a tab");
    }

    async fn json_of_the_wrong_type_names_the_field_in_words(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = bearer(&provider.access);
        let before = counts(&app);
        // An enum of the wrong JSON type: 422 naming it and its values (was 400, no field).
        for role in [Value::Null, json!(5), json!({}), json!({ "admin": 1 }), json!(["admin"]), json!(true)] {
            let answer = app.post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "name": "E", "role": role }), admin.clone()).await;
            let (field, code, message) = first_error(&answer);
            assert_eq!((field.as_str(), code.as_str()), ("role", "invalid"), "{role}: {}", answer.text);
            assert!(message.contains("`admin`, `dispatcher`, `engineer`"), "{role}: {message}");
        }
        // No Rust type names: the body of the wrong type, an integer out of range, a date.
        let array = app.post("/api/v1/admin/accounts", &json!([]), admin.clone()).await;
        assert_eq!(first_error(&array), ("body".into(), "invalid".into(), "must be an object, not an array".into()));
        let seats = app
            .call(Method::PUT, &format!("/api/v1/platform/tenants/{}/seats", provider.tenant_id), Some(&json!({ "seats": "ten" })), bearer(&platform_token(&app)))
            .await;
        let (field, _, message) = first_error(&seats);
        assert_eq!(field, "seats");
        assert!(message.starts_with("must be a whole number"), "{message}");
        let expires = app.post("/api/v1/admin/invitation-codes", &json!({ "expires_at": "tomorrow" }), admin.clone()).await;
        let (field, _, message) = first_error(&expires);
        assert_eq!(field, "expires_at");
        assert!(message.contains("RFC 3339"), "{message}");
        // A query parameter: its own name, not `query`, and no framework words.
        let limit = app.get("/api/v1/admin/staff?limit=abc", admin.clone()).await;
        assert_eq!(first_error(&limit), ("limit".into(), "invalid".into(), "must be a whole number".into()));
        let bound = app.get("/api/v1/admin/qr-codes?bound=maybe", admin.clone()).await;
        assert_eq!(first_error(&bound).0, "bound");
        let status = app.get("/api/v1/admin/devices?status=broken", admin.clone()).await;
        let (field, _, message) = first_error(&status);
        assert_eq!(field, "status");
        assert!(message.starts_with("must be one of"), "{message}");
        // Inside a tagged union: the field, not `.`.
        for (body, field) in [
            (json!({ "kind": "subdomain", "label": 5 }), "label"),
            (json!({ "kind": 5, "label": "x" }), "kind"),
            (json!({ "kind": "sub", "label": "x" }), "kind"),
            (json!({ "kind": "custom" }), "host"),
        ] {
            let answer = app.post("/api/v1/admin/domains", &body, admin.clone()).await;
            assert_eq!(first_error(&answer).0, field, "{body}: {}", answer.text);
        }
        // Deeper paths: the array index is part of the name.
        let nested = app
            .post("/api/v1/admin/registration-methods", &json!({ "name": "m", "enabled": true, "settings": { "channels": ["h5", 5] } }), admin.clone())
            .await;
        assert_eq!(first_error(&nested).0, "settings.channels.1", "{}", nested.text);
        // The export's columns are named as columns, not rows.
        let columns = app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["X"], "columns": 11 }), admin.clone()).await;
        assert_eq!(columns.error_fields(), ["columns"], "{}", columns.text);
        let both = app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["X"], "rows": 0, "columns": 11 }), admin.clone()).await;
        assert_eq!(both.error_fields(), ["rows", "columns"], "{}", both.text);
        // What is not JSON stays 400.
        for bad in [&b"{\"role\": "[..], b"{\"a\": 1} x", b"nul", b"{'a': 1}"] {
            let answer = app.post_raw("/api/v1/admin/staff", "application/json", bad.to_vec(), admin.clone()).await;
            answer.problem(400, "malformed-request");
        }
        assert_eq!(counts(&app), before, "nothing changed");
    }

    async fn every_body_field_of_the_wrong_type_answers_422_naming_it(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        add_method(&app, &provider.access, "openid_auto", false, "exact").await;
        let customer = access_of(&wx_login(&app, "typed-customer").await);
        let platform = platform_token(&app);
        let document = app.get("/api/v1/openapi.json", Opts::default()).await.body;
        let before = counts(&app);
        let mut wrong = Vec::new();
        let (mut operations, mut fields) = (0, 0);
        for (template, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(schema) = operation["requestBody"]["content"]["application/json"].get("schema") else {
                    continue;
                };
                let schema = resolve(&document, schema);
                let Some(properties) = schema["properties"].as_object() else {
                    continue;
                };
                let id = operation["operationId"].as_str().unwrap();
                let access = ACCESS.iter().find(|(name, _)| *name == id).map(|(_, a)| *a).unwrap();
                let token = match access {
                    Access::Public => None,
                    Access::Terminal | Access::Registrant => Some(customer.as_str()),
                    Access::Platform => Some(platform.as_str()),
                    _ => Some(provider.access.as_str()),
                };
                let path = template.replace("{id}", "0190f0e0-0000-7000-8000-000000000000").replace("{code}", "NOCODE");
                let method: Method = method.to_uppercase().parse().unwrap();
                operations += 1;
                for (name, property) in properties {
                    for value in wrong_values(&document, property) {
                        fields += 1;
                        let body = json!({ name: value });
                        let answer = app
                            .call(method.clone(), &path, Some(&body), Opts { token, tenant: Some("acme"), ..Opts::default() })
                            .await;
                        let error = &answer.body["errors"][0];
                        let message = error["message"].as_str().unwrap_or_default();
                        let fine = answer.status == StatusCode::UNPROCESSABLE_ENTITY
                            && answer.header("content-type") == Some("application/problem+json")
                            && error["field"].as_str().is_some_and(|f| f == name || f.starts_with(&format!("{name}.")))
                            && !message.is_empty()
                            && !message.contains("expected")
                            && !message.contains("struct")
                            && !message.contains("variant");
                        if !fine {
                            wrong.push(format!("{method} {path} ({id}) {body}: {} {}", answer.status, answer.text));
                        }
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
        assert!(operations >= 35, "only {operations} operations probed");
        assert!(fields >= 150, "only {fields} fields probed");
        assert_eq!(counts(&app), before, "nothing changed");
    }
}

backend_tests! {
    async fn the_limits_the_schema_states_are_the_servers(app: TestApp) {
        // The changes whose every field is optional: a body of one field is valid but for
        // that field. At each stated limit the server accepts; one past it, 422 naming it.
        let provider = tenant_with_app(&app).await;
        let admin = || bearer(&provider.access);
        let document = app.get("/api/v1/openapi.json", Opts::default()).await.body;
        let mut wrong = Vec::new();
        let mut limits = 0;
        for (path, method) in [("/api/v1/admin/profile", "patch"), ("/api/v1/admin/settings", "patch")] {
            let operation = &document["paths"][path][method];
            let schema = resolve(&document, &operation["requestBody"]["content"]["application/json"]["schema"]);
            assert!(schema.get("required").is_none(), "{path}: every field optional");
            for (name, property) in schema["properties"].as_object().unwrap() {
                let property = resolve(&document, property);
                let mut probes: Vec<(Value, bool)> = Vec::new();
                if let Some(max) = property["maxLength"].as_u64() {
                    let max = usize::try_from(max).unwrap();
                    if property.get("pattern").is_none() {
                        probes.push((json!("x".repeat(max)), true));
                    }
                    probes.push((json!("X".repeat(max + 1)), false));
                }
                if let Some(min) = property["minLength"].as_u64().filter(|m| *m > 0) {
                    probes.push((json!("x".repeat(usize::try_from(min).unwrap() - 1)), false));
                }
                if let Some(max) = property["maximum"].as_i64() {
                    probes.push((json!(max), true));
                    probes.push((json!(max + 1), false));
                }
                if let Some(min) = property["minimum"].as_i64() {
                    probes.push((json!(min), true));
                    probes.push((json!(min - 1), false));
                }
                for (value, allowed) in probes {
                    limits += 1;
                    let body = json!({ name: value });
                    let answer = app.call(Method::PATCH, path, Some(&body), admin()).await;
                    let names_it = answer.body["errors"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|e| e["field"] == name.as_str()));
                    let fine = if allowed {
                        answer.status == StatusCode::OK
                    } else {
                        answer.status == StatusCode::UNPROCESSABLE_ENTITY && names_it
                    };
                    if !fine {
                        wrong.push(format!("PATCH {path} {body}: {} {}", answer.status, answer.text));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} answers differ from the schema:\n{}", wrong.len(), wrong.join("\n"));
        assert!(limits >= 20, "only {limits} limits probed");
    }
}

/// A schema with `$ref`s followed; for `Option<T>` (`oneOf` with null, or a type list), T.
pub fn resolve<'d>(document: &'d Value, schema: &'d Value) -> &'d Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return resolve(document, &document["components"]["schemas"][name]);
    }
    if let Some(options) = schema["oneOf"].as_array()
        && options.len() == 2
        && let Some(other) = options.iter().find(|o| o["type"] != "null")
        && options.iter().any(|o| o["type"] == "null")
    {
        return resolve(document, other);
    }
    schema
}

/// JSON of a type the property does not take (none for a property of any type).
fn wrong_values(document: &Value, property: &Value) -> Vec<Value> {
    let schema = resolve(document, property);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let nullable = types.contains(&"null")
        || property["oneOf"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["type"] == "null"));
    if schema.get("enum").is_some() {
        let mut values = vec![json!(5), json!({ "x": 1 })];
        if !nullable {
            values.push(Value::Null);
        }
        return values;
    }
    if schema.get("oneOf").is_some() || types.contains(&"object") {
        return vec![json!(5)];
    }
    match types.iter().find(|t| **t != "null") {
        Some(&"string") => vec![json!(12345), json!(["a"])],
        Some(&"integer") | Some(&"number") => vec![json!("text")],
        Some(&"boolean") => vec![json!("yes")],
        Some(&"array") => vec![json!("text")],
        _ => Vec::new(),
    }
}

/// Whether a 422 names `field` with code `code` (any code for `None`).
fn names(answer: &Answer, field: &str, code: Option<&str>) -> bool {
    answer.status == StatusCode::UNPROCESSABLE_ENTITY
        && answer.body["errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["field"] == field && code.is_none_or(|c| e["code"] == c))
        })
}

backend_tests! {
    async fn the_query_limits_the_schema_states_are_the_servers(app: TestApp) {
        // Every string query parameter with a `maxLength` or a `uuid` format, on every
        // operation, called as a caller it admits: at the limit no length error; one past
        // it, 422 naming it; a non-UUID id, 422 naming it.
        let provider = tenant_with_app(&app).await;
        add_method(&app, &provider.access, "openid_auto", false, "exact").await;
        let customer = access_of(&wx_login(&app, "query-customer").await);
        let platform = platform_token(&app);
        let document = app.get("/api/v1/openapi.json", Opts::default()).await.body;
        let mut wrong = Vec::new();
        let (mut lengths, mut ids) = (0, 0);
        for (template, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                let access = ACCESS.iter().find(|(name, _)| *name == id).map(|(_, a)| *a).unwrap();
                let token = match access {
                    Access::Public => None,
                    Access::Terminal | Access::Registrant => Some(customer.as_str()),
                    Access::Platform => Some(platform.as_str()),
                    _ => Some(provider.access.as_str()),
                };
                let path = template.replace("{id}", "0190f0e0-0000-7000-8000-000000000000").replace("{code}", "NOCODE");
                let method: Method = method.to_uppercase().parse().unwrap();
                let body = operation.get("requestBody").map(|_| json!({}));
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    if parameter["in"] != "query" || parameter["schema"]["type"] != "string" {
                        continue;
                    }
                    let name = parameter["name"].as_str().unwrap();
                    let mut probes: Vec<(String, Option<&str>, bool)> = Vec::new();
                    if let Some(max) = parameter["schema"]["maxLength"].as_u64() {
                        let max = usize::try_from(max).unwrap();
                        lengths += 1;
                        probes.push(("x".repeat(max), Some("too_long"), false));
                        probes.push(("x".repeat(max + 1), None, true));
                    }
                    if parameter["schema"]["format"] == "uuid" {
                        ids += 1;
                        probes.push(("0190f0e0-0000-7000-8000-00000000000f".into(), None, false));
                        probes.push(("not-an-id".into(), None, true));
                    }
                    for (value, code, refused) in probes {
                        let url = format!("{path}?{name}={value}");
                        let answer = app
                            .call(method.clone(), &url, body.as_ref(), Opts { token, tenant: Some("acme"), ..Opts::default() })
                            .await;
                        if names(&answer, name, code) != refused {
                            wrong.push(format!("{method} {template}?{name}={value} ({id}): {} {}", answer.status, answer.text));
                        }
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} answers differ from the schema:\n{}", wrong.len(), wrong.join("\n"));
        assert!(lengths >= 25, "only {lengths} lengths probed");
        assert!(ids >= 8, "only {ids} ids probed");
    }

    async fn the_login_limits_the_schema_states_are_the_servers(app: TestApp) {
        // The login bodies: one past each stated length answers 422 naming the field (before
        // any credential is checked); at it, no length error.
        let provider = tenant_with_app(&app).await;
        let document = app.get("/api/v1/openapi.json", Opts::default()).await.body;
        let mut wrong = Vec::new();
        let mut limits = 0;
        for (id, base) in [
            ("login_staff", json!({ "mobile": "13800138000", "password": PASSWORD })),
            ("login_staff", json!({ "mobile": "13800138000", "code": "123456" })),
            ("login_terminal_sms", json!({ "mobile": "13800138000", "code": "123456" })),
            ("login_wechat_mini_program", json!({ "app_id": MINI_APP, "code": "c" })),
            ("login_wechat_official_account", json!({ "app_id": MINI_APP, "code": "c" })),
            ("refresh_tokens", json!({ "refresh_token": "x" })),
            ("logout_session", json!({ "refresh_token": "x" })),
        ] {
            let (path, method, operation) = document["paths"]
                .as_object()
                .unwrap()
                .iter()
                .flat_map(|(p, item)| item.as_object().unwrap().iter().map(move |(m, o)| (p, m, o)))
                .find(|(_, _, o)| o["operationId"] == id)
                .unwrap();
            let schema = resolve(&document, &operation["requestBody"]["content"]["application/json"]["schema"]);
            let method: Method = method.to_uppercase().parse().unwrap();
            for name in base.as_object().unwrap().keys() {
                let Some(max) = resolve(&document, &schema["properties"][name])["maxLength"].as_u64() else {
                    wrong.push(format!("{id}: {name} states no maxLength"));
                    continue;
                };
                let max = usize::try_from(max).unwrap();
                for (length, refused) in [(max, false), (max + 1, true)] {
                    limits += 1;
                    let mut body = base.clone();
                    body[name] = json!("1".repeat(length));
                    let answer = app.call(method.clone(), path, Some(&body), tenant("acme")).await;
                    if names(&answer, name, Some("too_long")) != refused {
                        wrong.push(format!("{id} {body}: {} {}", answer.status, answer.text));
                    }
                }
            }
        }
        // A submission's contact phone, among its other bad fields.
        add_method(&app, &provider.access, "openid_auto", false, "exact").await;
        let customer = access_of(&wx_login(&app, "limits-customer").await);
        for (length, refused) in [(32, false), (33, true)] {
            let answer = app.post("/api/v1/work-orders", &json!({ "contact_phone": "1".repeat(length) }), bearer(&customer)).await;
            if names(&answer, "contact_phone", Some("too_long")) != refused {
                wrong.push(format!("submit_work_order contact_phone of {length}: {} {}", answer.status, answer.text));
            }
        }
        assert!(wrong.is_empty(), "{} answers differ from the schema:\n{}", wrong.len(), wrong.join("\n"));
        assert!(limits >= 20, "only {limits} limits probed");
    }
}
