//! The Mini Program sample calls only operations the OpenAPI document has, type-checks
//! against types generated from it, and its client works against a demo server.

use std::path::{Path, PathBuf};

use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scripts(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        // The sample's own scripts: not the tooling `npm ci` installs beside them.
        if path.is_dir() && !path.ends_with("node_modules") {
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
        "/api/v1/attachments",
        "/api/v1/work-orders",
        "/api/v1/work-orders/{id}",
        "/api/v1/work-orders/{id}/rating",
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

/// `npm ci` (openapi-typescript and typescript, pinned by the sample's package-lock.json,
/// from the npm registry), then `npm run check`: types generated from openapi/openapi.json
/// and `tsc --noEmit` over the sample's `// @ts-check` JS files. A call with a path, method,
/// parameter or field the document does not have fails here. Skipped (saying so) only
/// where npm is not installed; `.ci/run` installs it.
#[test]
fn the_sample_type_checks_against_types_generated_from_the_openapi_document() {
    let sample = repository().join("miniprogram-sample");
    let npm = |args: &[&str]| {
        std::process::Command::new("npm")
            .args(args)
            .current_dir(&sample)
            .output()
    };
    if npm(&["--version"]).is_err() {
        eprintln!(
            "SKIPPED: npm is not installed, so the Mini Program sample is not type-checked \
             (install npm, e.g. `apt-get install npm`, to run this test)"
        );
        return;
    }
    for args in [
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"][..],
        &["run", "--silent", "check"][..],
    ] {
        let output = npm(args).unwrap();
        assert!(
            output.status.success(),
            "npm {}:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The Node.js binaries to run the sample's tests on: `E2E_NODE_BINARIES` (colon-separated;
/// `make test` names Debian's `node` and a current release), else the `node` on PATH.
fn nodes() -> Vec<String> {
    std::env::var("E2E_NODE_BINARIES")
        .ok()
        .map(|list| {
            list.split(':')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|list| !list.is_empty())
        .unwrap_or_else(|| vec!["node".to_owned()])
}

/// The sample's test files, named one by one: `node --test <folder>` means other things on
/// different Node releases.
fn test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join("miniprogram-sample/test"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.js"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

/// The sample's client (utils/api.js, with a `wx` stub) against the built server and its
/// demo tenant, through node's own test runner, on every Node.js release given.
#[test]
fn the_sample_client_works_against_a_demo_server() {
    let folder = super::Folder::new();
    let server = super::Server::start(&folder.0, &["serve", "--demo", "--bind", "127.0.0.1:0"]);
    for node in nodes() {
        let version = std::process::Command::new(&node)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| {
                panic!("{node} (18 or newer) runs the Mini Program sample's tests: {e}")
            });
        let output = std::process::Command::new(&node)
            .arg("--test")
            // TAP on every release (newer ones default to another reporter off a terminal).
            .arg("--test-reporter=tap")
            .args(test_files())
            .env("BAOXIU_BASE", server.url(""))
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout);
        let version = String::from_utf8_lossy(&version.stdout);
        assert!(
            output.status.success(),
            "node {version}: {report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            report.contains("# fail 0") && !report.contains("# pass 0"),
            "node {version}: {report}"
        );
    }
}
