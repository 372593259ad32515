//! The Mini Program sample calls only operations the OpenAPI document has.

use std::path::{Path, PathBuf};

use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scripts(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scripts(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "js") {
            found.push(path);
        }
    }
}

/// `call('GET', '/api/v1/...'` and `send('POST', baseUrl() + '/api/v1/...'`.
fn calls(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for method in METHODS {
        let marker = format!("'{method}', ");
        for (at, _) in source.match_indices(&marker) {
            let rest = &source[at + marker.len()..];
            let rest = rest.strip_prefix("baseUrl() + ").unwrap_or(rest);
            if let Some(path) = rest.strip_prefix('\'').and_then(|r| r.split('\'').next()) {
                found.push((method.to_lowercase(), path.to_owned()));
            }
        }
    }
    found
}

#[test]
fn every_call_of_the_sample_is_an_operation_of_the_openapi_document() {
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(repository().join("openapi/openapi.json")).unwrap(),
    )
    .unwrap();
    let mut files = Vec::new();
    scripts(&repository().join("miniprogram-sample"), &mut files);
    let used: Vec<(String, String)> = files
        .iter()
        .flat_map(|file| calls(&std::fs::read_to_string(file).unwrap()))
        .collect();
    for expected in [
        "/api/v1/auth/wechat/mini-program",
        "/api/v1/me",
        "/api/v1/scan/{code}",
    ] {
        assert!(
            used.iter().any(|(_, path)| path == expected),
            "{expected}: {used:?}"
        );
    }
    for (method, path) in &used {
        assert!(
            document["paths"][path][method].is_object(),
            "the sample calls {method} {path}, which openapi/openapi.json does not have"
        );
    }
}
