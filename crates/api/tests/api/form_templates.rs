//! Work-order form templates: every tenant starts with the four presets (one default),
//! staff add their own with custom fields, a bad definition answers every bad field at
//! once, and the custom values of a submission are checked against the template.

use baoxiu_core::TenantId;
use baoxiu_workorders::templates;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{add_method, tenant_with_app};

const TEMPLATES: &str = "/api/v1/admin/form-templates";

fn fault() -> Value {
    json!({ "key": "fault_description", "label": "故障描述", "kind": "textarea", "required": true })
}

async fn list(app: &TestApp, admin: &str) -> Vec<Value> {
    let answer = app.get(TEMPLATES, bearer(admin)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["items"].as_array().unwrap().clone()
}

fn default_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter(|t| t["is_default"] == true)
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests! {
    async fn a_new_tenant_starts_with_the_four_presets_one_default(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let items = list(&app, &provider.access).await;
        let presets: Vec<&str> = items.iter().map(|t| t["preset"].as_str().unwrap()).collect();
        assert_eq!(presets, ["minimal", "simple", "complex", "special"]);
        assert_eq!(items[1]["name"], "简单报修单");
        let defaults = default_of(&items);
        assert_eq!(defaults, [items[1]["id"].as_str().unwrap()]);
        // The settings name the same default.
        let settings = app.get("/api/v1/admin/settings", bearer(&provider.access)).await;
        assert_eq!(settings.body["default_form_template_id"], defaults[0].as_str());
        // Every form asks what is wrong; the special one has custom fields.
        for template in &items {
            let fault = template["fields"].as_array().unwrap().iter().find(|f| f["key"] == "fault_description").unwrap();
            assert_eq!((fault["required"].clone(), fault["visible"].clone(), fault["standard"].clone()), (json!(true), json!(true), json!(true)));
        }
        let urgency = items[3]["fields"].as_array().unwrap().iter().find(|f| f["key"] == "urgency").unwrap();
        assert_eq!(urgency["kind"], "select");
        assert_eq!(urgency["standard"], false);
        assert_eq!(urgency["options"], json!(["一般", "紧急", "停机"]));

        // The domain reads the default in one statement.
        let tenant = TenantId(provider.tenant_id.clone());
        let default = app.state.db.read(|conn| templates::default_for(conn, &tenant)).unwrap();
        assert_eq!(default.id, defaults[0]);
    }

    async fn staff_create_custom_templates_and_move_the_default(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = provider.access.clone();
        let created = app
            .post(
                TEMPLATES,
                &json!({ "name": "空调报修", "fields": [
                    fault(),
                    { "key": "photos", "label": "照片", "kind": "attachments", "required": true },
                    { "key": "service_type", "label": "服务类别", "kind": "select", "visible": false },
                    { "key": "room", "label": "房间号", "kind": "text", "required": true, "max_length": 8 },
                    { "key": "units", "label": "台数", "kind": "number", "min": 1, "max": 20 },
                    { "key": "brand", "label": "品牌", "kind": "select", "options": ["格力", "美的"], "required": true },
                    { "key": "issues", "label": "现象", "kind": "multiselect", "options": ["不制冷", "漏水", "噪音"] },
                ]}),
                bearer(&admin),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert_eq!(created.header("etag"), Some("\"1\""));
        assert_eq!(created.body["preset"], Value::Null);
        assert_eq!(created.body["is_default"], false);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let audited = app.count_rows(&format!("audit_log WHERE action = 'form_template.create' AND object_id = '{id}'"));
        assert_eq!(audited, 1);

        // The same name twice.
        let again = app.post(TEMPLATES, &json!({ "name": "空调报修", "fields": [fault()] }), bearer(&admin)).await;
        again.problem(422, "validation-failed");
        assert_eq!(again.error_fields(), ["name"]);

        // Make it the default: the former default stops being it, in the same change.
        let former = default_of(&list(&app, &admin).await);
        let path = format!("{TEMPLATES}/{id}");
        let made = app
            .patch(&path, &json!({ "is_default": true }), Opts { token: Some(&admin), if_match: Some("\"1\""), ..Opts::default() })
            .await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.text);
        assert_eq!(made.body["is_default"], true);
        assert_eq!(made.header("etag"), Some("\"2\""));
        let items = list(&app, &admin).await;
        assert_eq!(default_of(&items), [id.as_str()]);
        let old = items.iter().find(|t| t["id"] == former[0].as_str()).unwrap();
        assert_eq!((old["is_default"].clone(), old["version"].clone()), (json!(false), json!(2)));
        let settings = app.get("/api/v1/admin/settings", bearer(&admin)).await;
        assert_eq!(settings.body["default_form_template_id"], id.as_str());

        // A default stops being it only when another becomes it.
        let unset = app.patch(&path, &json!({ "is_default": false }), bearer(&admin)).await;
        unset.problem(422, "validation-failed");
        assert_eq!(unset.error_fields(), ["is_default"]);

        // Through the settings too; an unknown id there names the field.
        let back = app.patch("/api/v1/admin/settings", &json!({ "default_form_template_id": former[0] }), bearer(&admin)).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.text);
        assert_eq!(default_of(&list(&app, &admin).await), former);
        let unknown = app
            .patch("/api/v1/admin/settings", &json!({ "default_form_template_id": "0190f0e0-0000-7000-8000-000000000000" }), bearer(&admin))
            .await;
        unknown.problem(422, "validation-failed");
        assert_eq!(unknown.error_fields(), ["default_form_template_id"]);
        let cleared = app.patch("/api/v1/admin/settings", &json!({ "default_form_template_id": null }), bearer(&admin)).await;
        cleared.problem(422, "validation-failed");
        assert_eq!(default_of(&list(&app, &admin).await), former);

        // Custom values of a submission, checked against the template: every bad field at once.
        let tenant = TenantId(provider.tenant_id.clone());
        let template = app.state.db.read(|conn| templates::get(conn, &tenant, &id)).unwrap();
        let bad = json!({ "units": 30, "brand": "海尔", "issues": ["漏水", "冒烟"], "fault_description": "x", "color": "red" });
        let errors = templates::validate_values(&template, bad.as_object().unwrap()).unwrap_err();
        let named: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            named,
            [
                ("custom_fields.room", "required"),
                ("custom_fields.units", "out_of_range"),
                ("custom_fields.brand", "not_an_option"),
                ("custom_fields.issues", "not_an_option"),
                // Keys not on the form, in key order.
                ("custom_fields.color", "unknown_field"),
                ("custom_fields.fault_description", "unknown_field"),
            ]
        );
        let good = json!({ "room": " 301 ", "units": "2", "brand": "格力", "issues": ["漏水", "漏水"] });
        let stored = templates::validate_values(&template, good.as_object().unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&stored).unwrap(), json!({ "v": 1, "values": { "room": "301", "units": 2.0, "brand": "格力", "issues": ["漏水"] } }));
        // And the standard fields: a required one missing, a hidden one given.
        let errors = template.check_standard(|key| key == "service_type");
        let named: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(named, [("fault_description", "required"), ("service_type", "unknown_field"), ("photos", "required")]);
    }

    async fn a_bad_definition_names_every_bad_field_and_changes_nothing(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = provider.access.clone();
        let before = app.count_rows("form_templates");
        let bad = app
            .post(
                TEMPLATES,
                &json!({ "name": " ", "fields": [
                    { "key": "fault_description", "label": "故障", "kind": "text", "required": false },
                    { "key": "Bad-Key", "label": "", "kind": "text" },
                    { "key": "pick", "label": "选择", "kind": "select" },
                    { "key": "note", "label": "说明", "kind": "text", "options": ["a"], "min": 1 },
                    { "key": "n", "label": "数量", "kind": "number", "min": 5, "max": 1 },
                    { "key": "hidden", "label": "隐藏", "kind": "text", "required": true, "visible": false },
                    { "key": "pick", "label": "再选", "kind": "mobile" },
                    { "key": "notes", "label": "备注", "kind": "textarea", "max_length": 5 },
                ]}),
                bearer(&admin),
            )
            .await;
        bad.problem(422, "validation-failed");
        let mut fields = bad.error_fields();
        fields.sort();
        assert_eq!(
            fields,
            [
                "fields.0.kind",
                "fields.0.required",
                "fields.1.key",
                "fields.1.label",
                "fields.2.options",
                "fields.3.limits.min",
                "fields.3.options",
                "fields.4.limits.max",
                "fields.5.required",
                "fields.6.key",
                "fields.7.options",
                "name",
            ],
            "{}",
            bad.text
        );
        // No fault description at all; an unknown kind or part is the body's own error.
        let without = app.post(TEMPLATES, &json!({ "name": "无故障", "fields": [{ "key": "x", "label": "X", "kind": "text" }] }), bearer(&admin)).await;
        without.problem(422, "validation-failed");
        assert_eq!(without.error_fields(), ["fields"]);
        let kind = app.post(TEMPLATES, &json!({ "name": "坏类型", "fields": [fault(), { "key": "x", "label": "X", "kind": "colour" }] }), bearer(&admin)).await;
        kind.problem(422, "validation-failed");
        let extra = app.post(TEMPLATES, &json!({ "name": "多余", "fields": [fault()], "tenant_id": "x" }), bearer(&admin)).await;
        extra.problem(422, "validation-failed");
        assert_eq!(app.count_rows("form_templates"), before);

        // The same checks on a change, which then changes nothing either.
        let items = list(&app, &admin).await;
        let id = items[0]["id"].as_str().unwrap();
        let changed = app
            .patch(&format!("{TEMPLATES}/{id}"), &json!({ "fields": [{ "key": "fault_description", "label": "故障描述", "kind": "textarea", "visible": false }, { "key": "x", "label": "", "kind": "date" }] }), bearer(&admin))
            .await;
        changed.problem(422, "validation-failed");
        assert_eq!(changed.error_fields(), ["fields.1.label", "fields.0.required"]);
        assert_eq!(list(&app, &admin).await, items);
    }

    async fn stale_versions_other_tenants_and_non_admins_are_refused(app: TestApp) {
        let a = app.sign_up("acme", "13800138000").await;
        let b = app.sign_up("bolt", "13800138001").await;
        let (_, engineer) = app.add_staff(&a.access, "acme", "13900139000", "engineer").await;
        let items = list(&app, &a.access).await;
        let id = items[2]["id"].as_str().unwrap().to_owned();
        let path = format!("{TEMPLATES}/{id}");

        // Staff who are not admins: 403, reading or writing.
        app.get(TEMPLATES, bearer(&engineer)).await.problem(403, "forbidden");
        app.post(TEMPLATES, &json!({ "name": "工程师", "fields": [fault()] }), bearer(&engineer)).await.problem(403, "forbidden");
        app.patch(&path, &json!({ "name": "改名" }), bearer(&engineer)).await.problem(403, "forbidden");

        // Another tenant's admin: tenant A's template does not exist for them.
        app.patch(&path, &json!({ "name": "改名" }), bearer(&b.access)).await.problem(404, "not-found");
        app.patch(&path, &json!({ "is_default": true }), bearer(&b.access)).await.problem(404, "not-found");
        assert!(list(&app, &b.access).await.iter().all(|t| t["id"] != id.as_str()));

        // Renamed with If-Match; the version read before is stale afterwards.
        let renamed = app
            .patch(&path, &json!({ "name": "复杂报修单（新）" }), Opts { token: Some(&a.access), if_match: Some("\"1\""), ..Opts::default() })
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
        assert_eq!(renamed.body["version"], 2);
        app.patch(&path, &json!({ "name": "再改" }), Opts { token: Some(&a.access), if_match: Some("\"1\""), ..Opts::default() })
            .await
            .problem(412, "precondition-failed");
        assert_eq!(list(&app, &a.access).await[2]["name"], "复杂报修单（新）");
        assert_eq!(app.count_rows(&format!("audit_log WHERE action = 'form_template.update' AND object_id = '{id}'")), 1);
        // Tenant B's own templates are untouched.
        assert_eq!(list(&app, &b.access).await[2]["name"], "复杂报修单");
    }

    async fn tenants_from_before_templates_get_the_presets_at_start(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let other = app.sign_up("bolt", "13800138001").await;
        let theirs = list(&app, &other.access).await;
        // As a tenant that signed up before the table existed: no templates.
        app.execute_sql(&format!("DELETE FROM form_templates WHERE tenant_id = '{}'", provider.tenant_id));
        assert_eq!(app.count_rows(&format!("form_templates WHERE tenant_id = '{}'", provider.tenant_id)), 0);
        // Another process starts over the same database: it fills them in, once.
        let config = baoxiu_api::config::Config {
            mode: baoxiu_api::config::Mode::Development,
            database_url: app.db.url.clone(),
            database_pool_size: 1,
            ..baoxiu_api::config::Config::default()
        };
        let started = baoxiu_api::app::build_state(config.clone(), std::sync::Arc::new(app.clock.clone()));
        assert!(started.is_ok());
        let items = list(&app, &provider.access).await;
        let presets: Vec<&str> = items.iter().map(|t| t["preset"].as_str().unwrap()).collect();
        assert_eq!(presets, ["minimal", "simple", "complex", "special"]);
        assert_eq!(default_of(&items).len(), 1);
        assert!(baoxiu_api::app::build_state(config, std::sync::Arc::new(app.clock.clone())).is_ok());
        assert_eq!(app.count_rows("form_templates"), 8);
        assert_eq!(list(&app, &other.access).await, theirs);
    }
}

backend_tests! {
    /// Issue 11: stored JSON is its own versioned type, read leniently (what an older
    /// build wrote without `v`, or a newer one with more, still reads); API bodies keep
    /// refusing unknown fields.
    async fn stored_json_reads_leniently_while_bodies_stay_strict(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        let method = add_method(&app, &admin, "openid_auto", false, "exact").await;
        let path = format!("/api/v1/admin/registration-methods/{method}");
        let before = app.get(&path, bearer(&admin)).await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.text);
        assert_eq!(app.count_rows("registration_methods WHERE settings_json LIKE '{\"v\":1,%'"), 1);
        app.execute_sql(r#"UPDATE registration_methods SET settings_json = REPLACE(settings_json, '{"v":1,', '{"added_later":{"x":1},')"#);
        assert_eq!(app.count_rows("registration_methods WHERE settings_json LIKE '%added_later%'"), 1);
        let after = app.get(&path, bearer(&admin)).await;
        assert_eq!(after.status, StatusCode::OK, "{}", after.text);
        assert_eq!(after.body["settings"], before.body["settings"]);

        // The QR settings' rule and style likewise.
        let qr = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        let mut qr_body = qr.body.clone();
        qr_body["rule"] = json!({ "kind": "sequence", "prefix": "LX", "digits": 5 });
        let saved = app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&qr_body), bearer(&admin)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        assert_eq!(app.count_rows(r#"qr_settings WHERE rule_json LIKE '{"v":1,%' AND style_json LIKE '{"v":1,%'"#), 1);
        app.execute_sql(r#"UPDATE qr_settings SET rule_json = REPLACE(rule_json, '{"v":1,', '{"later":{"x":1},'), style_json = REPLACE(style_json, '{"v":1,', '{"v":2,"shape":"round",')"#);
        assert_eq!(app.count_rows("qr_settings WHERE rule_json LIKE '%later%' AND style_json LIKE '%round%'"), 1);
        let qr_after = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        assert_eq!(qr_after.status, StatusCode::OK, "{}", qr_after.text);
        assert_eq!(qr_after.body, saved.body);
        let mut strict = qr_body.clone();
        strict["style"]["shape"] = json!("round");
        let refused = app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&strict), bearer(&admin)).await;
        refused.problem(422, "validation-failed");

        let templates_before = list(&app, &admin).await;
        app.execute_sql(r#"UPDATE form_templates SET fields = REPLACE(REPLACE(fields, '{"v":1,', '{"later":[1],'), '"required":', '"hint":"x","required":')"#);
        assert_eq!(list(&app, &admin).await, templates_before);

        // The API's own types still refuse what they do not know.
        let mut settings = before.body["settings"].clone();
        settings["added_later"] = json!(1);
        let refused = app.patch(&path, &json!({ "settings": settings }), bearer(&admin)).await;
        refused.problem(422, "validation-failed");
        let id = templates_before[0]["id"].as_str().unwrap();
        let refused = app
            .patch(&format!("{TEMPLATES}/{id}"), &json!({ "fields": [{ "key": "fault_description", "label": "故障", "kind": "textarea", "required": true, "hint": "x" }] }), bearer(&admin))
            .await;
        refused.problem(422, "validation-failed");
    }
}
