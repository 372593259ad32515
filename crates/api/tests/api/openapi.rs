//! The OpenAPI document: committed copy in sync, unique operation ids, and checked against
//! the running server (who needs a token, which bodies refuse unknown fields, which
//! statuses it answers); and the operational endpoints answer.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::matrix::{ACCESS, Access};
use crate::support::*;
use crate::terminal::{access_of, add_method, tenant_with_app, wx_login};

fn document() -> Value {
    let json = baoxiu_api::openapi::document().to_pretty_json().unwrap();
    serde_json::from_str(&json).unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    all
}

#[test]
fn committed_document_matches_the_code() {
    let generated = baoxiu_api::openapi::document().to_pretty_json().unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `make openapi` and commit it"
    );
}

#[test]
fn every_operation_is_documented_once() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = HashSet::new();
    let tags: HashSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (method, path, operation) in operations(&doc) {
        let tag = operation["tags"][0].as_str().unwrap_or_default();
        assert!(
            tags.contains(tag),
            "{method} {path}: tag {tag} is not declared"
        );
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase() || c == '_') && id.contains('_'),
            "{id}: operation ids are verb_noun"
        );
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path}: no summary"
        );
        assert_eq!(
            operation["tags"].as_array().map(Vec::len),
            Some(1),
            "{method} {path}: one tag"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{method} {path}: no success answer"
        );
        let public = operation["security"] == serde_json::json!([]);
        // Admin routes are never public.
        assert!(
            !(public && path.contains("/admin/")),
            "{method} {path}: admin route without security"
        );
    }
    // Every schema is used, by a path or by another schema used.
    let text = doc["paths"].to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut used: HashSet<String> = HashSet::new();
    let mut pending: Vec<String> = text
        .split("#/components/schemas/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    while let Some(name) = pending.pop() {
        if used.insert(name.clone()) {
            let inner = schemas[&name].to_string();
            pending.extend(
                inner
                    .split("#/components/schemas/")
                    .skip(1)
                    .map(|rest| rest.split('"').next().unwrap().to_owned()),
            );
        }
    }
    let unused: Vec<&String> = schemas.keys().filter(|n| !used.contains(*n)).collect();
    assert!(unused.is_empty(), "schemas nothing refers to: {unused:?}");
    assert!(
        doc["servers"].as_array().is_some_and(|s| !s.is_empty()),
        "no servers"
    );
    // The global scheme is bearer JWT.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer_auth"]["scheme"],
        "bearer"
    );
    // The route map's paths are there.
    for path in [
        "/api/v1/providers",
        "/api/v1/auth/staff/login",
        "/api/v1/auth/refresh",
        "/api/v1/admin/profile",
        "/api/v1/admin/settings",
        "/api/v1/admin/staff",
        "/api/v1/admin/staff/{id}",
        "/api/v1/admin/audit-log",
        "/api/v1/admin/domains",
        "/api/v1/platform/domains/{id}/approve",
        "/healthz/live",
        "/healthz/ready",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
}

backend_tests! {
    async fn operational_endpoints_answer(app: TestApp) {
        assert_eq!(app.get("/healthz/live", Opts::default()).await.status, StatusCode::OK);
        let ready = app.get("/healthz/ready", Opts::default()).await;
        assert_eq!(ready.status, StatusCode::OK);
        let backend = match app.backend {
            baoxiu_store::Backend::Sqlite => "sqlite",
            baoxiu_store::Backend::Postgres => "postgres",
        };
        assert_eq!(ready.body["database"], backend);
        let doc = app.get("/api/v1/openapi.json", Opts::default()).await;
        assert_eq!(doc.status, StatusCode::OK);
        assert_eq!(doc.body, document());
        let docs = app.get("/docs/", Opts::default()).await;
        assert_eq!(docs.status, StatusCode::OK);
        assert!(docs.text.contains("swagger"), "Swagger UI page");
        let metrics = app.get("/metrics", Opts::default()).await;
        assert_eq!(metrics.status, StatusCode::OK);
        assert!(metrics.text.contains("baoxiu_http_requests_total"), "{}", metrics.text);
        // Labels are route patterns, not raw paths (bounded cardinality).
        app.get("/api/v1/admin/staff/some-id-1", Opts::default()).await;
        let metrics = app.get("/metrics", Opts::default()).await;
        assert!(!metrics.text.contains("some-id-1"));
    }
}

/// A path with its parameters filled by ids no object has.
fn placeholder_path(template: &str) -> String {
    template
        .replace("{id}", "0190f0e0-0000-7000-8000-000000000000")
        .replace("{code}", "NOCODE")
}

/// The body schema's variants (one for a plain object), `$ref`s followed.
fn variants<'d>(doc: &'d Value, schema: &'d Value) -> Vec<&'d Value> {
    let schema = crate::boundary::resolve(doc, schema);
    match schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        Some(Value::Array(options)) => options
            .iter()
            .map(|o| crate::boundary::resolve(doc, o))
            .collect(),
        _ => vec![schema],
    }
}

backend_tests! {
    async fn the_document_says_what_the_running_server_does(app: TestApp) {
        let provider = tenant_with_app(&app).await;
        add_method(&app, &provider.access, "openid_auto", false, "exact").await;
        let customer = access_of(&wx_login(&app, "document-customer").await);
        let platform = platform_token(&app);
        let doc = app.get("/api/v1/openapi.json", Opts::default()).await.body;
        let mut wrong = Vec::new();
        let mut refusing_bodies = 0;
        for (method, template, operation) in operations(&doc) {
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            for part in ["operationId", "summary", "description"] {
                if operation[part].as_str().is_none_or(|s| s.trim().is_empty()) {
                    wrong.push(format!("{method} {template}: no {part}"));
                }
            }
            let documented = |status: StatusCode| {
                operation["responses"].get(status.as_str()).is_some() || operation["responses"].get("default").is_some()
            };
            let method: reqwest::Method = method.parse().unwrap();
            let path = placeholder_path(&template);
            let takes_body = operation.get("requestBody").is_some();
            let empty = takes_body.then(|| serde_json::json!({}));

            // Security as documented: without a token, 401 exactly where a token is needed.
            let secured = operation["security"] != serde_json::json!([]);
            let anonymous = app.call(method.clone(), &path, empty.as_ref(), tenant("acme")).await;
            if secured != (anonymous.status == StatusCode::UNAUTHORIZED) {
                wrong.push(format!("{method} {template}: secured {secured}, yet without a token {}: {}", anonymous.status, anonymous.text));
            } else if secured && (anonymous.header("content-type") != Some("application/problem+json") || anonymous.header("www-authenticate") != Some("Bearer")) {
                wrong.push(format!("{method} {template}: a 401 that is not problem+json with WWW-Authenticate"));
            }
            if !documented(anonymous.status) {
                wrong.push(format!("{method} {template}: answers {} without a token, not documented", anonymous.status));
            }

            // Unknown fields: refused (422 naming the field) exactly where the schema says
            // `additionalProperties: false`, called as a caller the operation admits.
            let Some(schema) = operation["requestBody"]["content"]["application/json"].get("schema") else {
                continue;
            };
            let access = ACCESS.iter().find(|(name, _)| *name == id).map(|(_, a)| *a).unwrap();
            let token = match access {
                Access::Public => None,
                Access::Terminal | Access::Registrant => Some(customer.as_str()),
                Access::Platform => Some(platform.as_str()),
                _ => Some(provider.access.as_str()),
            };
            for variant in variants(&doc, schema) {
                let mut body = serde_json::json!({ "no_such_field": 1 });
                // A tagged union's variant: its tag, so that the variant is the one read.
                if let Some(properties) = variant["properties"].as_object() {
                    for (name, property) in properties {
                        if let Some([only]) = crate::boundary::resolve(&doc, property)["enum"].as_array().map(Vec::as_slice)
                            && variant["required"].as_array().is_some_and(|r| r.contains(&Value::String(name.clone())))
                        {
                            body[name] = only.clone();
                        }
                    }
                }
                let answer = app.call(method.clone(), &path, Some(&body), Opts { token, tenant: Some("acme"), ..Opts::default() }).await;
                let refused = answer.status == StatusCode::UNPROCESSABLE_ENTITY
                    && answer.body["errors"].as_array().is_some_and(|errors| {
                        errors.iter().any(|e| e["field"] == "no_such_field" && e["code"] == "unknown_field")
                    });
                let says = variant["additionalProperties"] == serde_json::json!(false);
                if refused != says {
                    wrong.push(format!("{method} {template} ({id}): additionalProperties false is {says}, the server refuses an unknown field: {refused}: {}", answer.text));
                }
                refusing_bodies += usize::from(refused);
                if !documented(answer.status) {
                    wrong.push(format!("{method} {template}: answers {}, not documented: {}", answer.status, answer.text));
                }
            }
        }
        assert!(wrong.is_empty(), "{} differences:\n{}", wrong.len(), wrong.join("\n"));
        assert!(refusing_bodies >= 35, "{refusing_bodies}");
    }
}

/// What [`unbounded`] notes of a file part (bounded in bytes, by a 413).
const FILE: &str = ": a file";

/// Whether a pattern alone bounds a string's length: anchored at both ends, with no
/// unbounded repetition (`*`, `+`, `{n,}`).
fn pattern_bounds(pattern: &str) -> bool {
    pattern.starts_with('^')
        && pattern.ends_with('$')
        && !pattern.contains('*')
        && !pattern.contains('+')
        && !pattern.contains(",}")
}

/// Collects, under `at`, every string without a bound and every array without `maxItems`
/// in `schema` (`$ref`s, compositions, properties, items and additional properties followed).
fn unbounded(
    doc: &Value,
    schema: &Value,
    at: &str,
    seen: &mut HashSet<String>,
    found: &mut Vec<String>,
) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        if seen.insert(name.to_owned()) {
            unbounded(doc, &doc["components"]["schemas"][name], name, seen, found);
        }
        return;
    }
    for composition in ["allOf", "oneOf", "anyOf"] {
        for (i, part) in schema[composition]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let inner = if part.get("$ref").is_some() {
                at.to_owned()
            } else {
                format!("{at}<{i}>")
            };
            unbounded(doc, part, &inner, seen, found);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"string") && schema["format"] == "binary" {
        found.push(format!("{at}{FILE}"));
    } else if types.contains(&"string") {
        let bounded = schema.get("maxLength").is_some()
            || schema.get("enum").is_some()
            || schema.get("const").is_some()
            || schema["format"]
                .as_str()
                .is_some_and(|f| ["uuid", "date-time", "date"].contains(&f))
            || schema["pattern"].as_str().is_some_and(pattern_bounds);
        if !bounded {
            found.push(format!("{at}: string without maxLength"));
        }
    }
    if types.contains(&"array") {
        if schema.get("maxItems").is_none() {
            found.push(format!("{at}: array without maxItems"));
        }
        if let Some(items) = schema.get("items") {
            unbounded(doc, items, &format!("{at}[]"), seen, found);
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            unbounded(doc, property, &format!("{at}.{name}"), seen, found);
        }
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        unbounded(doc, extra, &format!("{at}.*"), seen, found);
    }
}

#[test]
fn every_request_string_and_list_is_bounded() {
    let doc = document();
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut bodies = 0;
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        for (kind, content) in operation["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let Some(schema) = content.get("schema") else {
                continue;
            };
            bodies += 1;
            let at = format!("{method} {path} ({kind})");
            // A file (a whole CSV body, a `binary` part) is bounded in bytes: past the limit
            // the server answers 413, which the operation must document.
            let whole_file = kind != "application/json" && schema["type"] == "string";
            let mut body_found = Vec::new();
            if !whole_file {
                unbounded(&doc, schema, &at, &mut seen, &mut body_found);
            }
            let files = whole_file || body_found.iter().any(|f| f.ends_with(FILE));
            if files && operation["responses"].get("413").is_none() {
                found.push(format!("{at}: a file without a documented 413"));
            }
            found.extend(body_found.into_iter().filter(|f| !f.ends_with(FILE)));
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "query" {
                let name = parameter["name"].as_str().unwrap_or_default();
                unbounded(
                    &doc,
                    &parameter["schema"],
                    &format!("{id} ?{name}"),
                    &mut seen,
                    &mut found,
                );
            }
        }
    }
    found.sort();
    found.dedup();
    assert!(bodies >= 45, "only {bodies} request bodies walked");
    assert!(
        found.is_empty(),
        "{} unbounded request values:\n{}",
        found.len(),
        found.join("\n")
    );
}
