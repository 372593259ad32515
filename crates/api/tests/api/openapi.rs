//! The OpenAPI document: committed copy in sync, unique operation ids, every operation
//! documented; and the operational endpoints answer.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::support::*;

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
        assert!(responses.contains_key("500"), "{method} {path}: no 500");
        let public = operation["security"] == serde_json::json!([]);
        if !public {
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
        }
        if operation.get("requestBody").is_some() {
            assert!(responses.contains_key("422"), "{method} {path}: no 422");
            let problem = &responses["422"]["content"]["application/problem+json"];
            assert!(
                problem.is_object(),
                "{method} {path}: 422 is not problem+json"
            );
        }
        // Admin routes are never public.
        assert!(
            !(public && path.contains("/admin/")),
            "{method} {path}: admin route without security"
        );
    }
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
