//! End-to-end checks on the built `baoxiu` binary, run as a user runs it: a fresh start in
//! an empty folder migrates, seeds the demo tenant and serves; a server killed mid-flight
//! restarts on its own data with its sessions intact (nothing lived only in its memory);
//! production refuses the development fakes before touching any database; `baoxiu worker`
//! processes share the job queue (`jobs.rs`).
//!
//! The test target is declared by `crates/api` (it needs `CARGO_BIN_EXE_baoxiu`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod jobs;
mod miniprogram;
mod walkthrough;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use baoxiu_store::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_baoxiu");
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// An empty working folder, as on a fresh clone; removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("baoxiu-e2e-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `baoxiu` started with a clean environment (no `DATABASE_URL` or `BAOXIU_*` leaking in
/// from the caller's shell).
fn baoxiu(folder: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(folder).env_clear().args(args);
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A running `baoxiu serve`; killed (SIGKILL, no clean shutdown) when dropped.
struct Server {
    child: Child,
    base: String,
    /// Everything it printed up to the line saying where it listens.
    start_output: Vec<String>,
    /// What it prints after that.
    lines: Receiver<String>,
}

impl Server {
    fn start(folder: &Path, args: &[&str]) -> Self {
        let mut child = baoxiu(folder, args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines_tx = lines_tx.clone();
            // Drained to the end so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = lines_tx.send(line);
                }
            });
        }
        let (base, start_output) = wait_for_address(&mut child, &lines);
        Self {
            child,
            base,
            start_output,
            lines,
        }
    }

    /// Lines printed since the start (or the last call), until one contains `until` (at
    /// most 10 s of waiting, for a line the server is about to print).
    fn lines_until(&self, until: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let done = line.contains(until);
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("no line with {until} in:\n{}", seen.join("\n"));
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn printed(&self, text: &str) -> bool {
        self.start_output.iter().any(|line| line.contains(text))
    }

    /// SIGKILL: the process gets no chance to flush or close anything.
    fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads lines until "listens on http://HOST:PORT"; the printed port is the bound one.
fn wait_for_address(child: &mut Child, lines: &Receiver<String>) -> (String, Vec<String>) {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if let Some(rest) = line.split("listens on ").nth(1) {
                    let address = rest.split_whitespace().next().unwrap().to_owned();
                    seen.push(line);
                    return (address, seen);
                }
                seen.push(line);
            }
            Err(_) => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!(
                        "baoxiu exited with {status} before listening:\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
    }
    panic!(
        "baoxiu did not listen within {START_TIMEOUT:?}:\n{}",
        seen.join("\n")
    );
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn login_demo_admin(http: &reqwest::Client, server: &Server) -> Value {
    let (status, body) = send(
        http.post(server.url("/api/v1/auth/staff/login"))
            .header("X-Tenant", "demo")
            .json(&json!({ "mobile": "13800000001", "password": "baoxiu-demo" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn device_serials(http: &reqwest::Client, server: &Server, access: &str) -> Vec<String> {
    let (status, body) = send(
        http.get(server.url("/api/v1/admin/devices"))
            .bearer_auth(access),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|device| device["serial_no"].as_str().map(str::to_owned))
        .collect()
}

/// What a development start prints about the demo logins (the admin's mobile).
fn demo_logins_line() -> &'static str {
    "staff admin 13800000001"
}

/// The `make run` path on a database that does not exist yet, then a crash and a restart.
async fn fresh_start_then_crash_and_restart(folder: &Path, database_args: &[&str]) {
    let mut args = vec!["serve", "--demo", "--bind", "127.0.0.1:0"];
    args.extend_from_slice(database_args);
    let http = reqwest::Client::new();

    let first = Server::start(folder, &args);
    assert!(first.printed("seeded"), "{:?}", first.start_output);
    assert!(first.printed("/docs/"), "it says where Swagger UI is");
    let (ready, _) = send(http.get(first.url("/healthz/ready"))).await;
    assert_eq!(ready, StatusCode::OK);
    let (docs, _) = send(http.get(first.url("/docs/"))).await;
    assert_eq!(docs, StatusCode::OK);

    let login = login_demo_admin(&http, &first).await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let (created, body) = send(
        http.post(first.url("/api/v1/admin/devices"))
            .bearer_auth(&access)
            .json(&json!({ "name": "written before the crash", "serial_no": "E2E-CRASH-1" })),
    )
    .await;
    assert_eq!(created, StatusCode::CREATED, "{body}");
    first.crash();

    let second = Server::start(folder, &args);
    assert!(
        !second.printed("seeded"),
        "the demo tenant is seeded once: {:?}",
        second.start_output
    );
    assert!(
        second.printed(demo_logins_line()),
        "every development start says how to log in: {:?}",
        second.start_output
    );
    // A second server on the same address says how to choose another.
    let port = second.base.rsplit(':').next().unwrap().to_owned();
    let mut taken = vec![
        "serve".to_owned(),
        "--bind".to_owned(),
        format!("127.0.0.1:{port}"),
    ];
    taken.extend(database_args.iter().map(|a| (*a).to_owned()));
    let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
    let refused = baoxiu(folder, &taken, &[]).output().unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        said.contains("--bind") && said.contains("BAOXIU_BIND"),
        "{said}"
    );
    // The session issued by the killed process still refreshes on the new one.
    let (rotated, body) = send(
        http.post(second.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": refresh })),
    )
    .await;
    assert_eq!(rotated, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let serials = device_serials(&http, &second, &access).await;
    assert!(serials.contains(&"E2E-CRASH-1".to_owned()), "{serials:?}");
    assert!(serials.contains(&"DEMO-0001".to_owned()), "{serials:?}");
    assert_eq!(
        serials.iter().filter(|s| s.as_str() == "DEMO-0001").count(),
        1,
        "no second demo seed"
    );
}

#[tokio::test]
async fn sqlite_fresh_folder_serves_the_demo_and_survives_a_crash() {
    let folder = Folder::new();
    // No database flag: the default, ./data/baoxiu.db, is created on first start.
    fresh_start_then_crash_and_restart(&folder.0, &[]).await;
    assert!(folder.0.join("data/baoxiu.db").is_file());
}

#[tokio::test]
async fn postgres_fresh_database_serves_the_demo_and_survives_a_crash() {
    let folder = Folder::new();
    let database = TestDatabase::postgres();
    fresh_start_then_crash_and_restart(&folder.0, &["--database-url", &database.url]).await;
    assert!(
        !folder.0.join("data").exists(),
        "no SQLite file beside PostgreSQL"
    );
}

#[test]
fn production_refuses_the_development_fakes_before_opening_a_database() {
    let folder = Folder::new();
    let output = baoxiu(
        &folder.0,
        &["serve", "--bind", "127.0.0.1:0"],
        &[
            ("BAOXIU_MODE", "production"),
            (
                "BAOXIU_JWT_SECRET",
                "a-production-secret-of-at-least-32-bytes",
            ),
        ],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("development SMS fake"), "{stderr}");
    assert!(!folder.0.join("data").exists(), "nothing was created");
}

/// A configuration production accepts (the providers point at nothing: these checks stop
/// before anything is called).
const PRODUCTION: &[(&str, &str)] = &[
    ("BAOXIU_MODE", "production"),
    (
        "BAOXIU_JWT_SECRET",
        "a-production-secret-of-at-least-32-bytes",
    ),
    ("BAOXIU_SMS__PROVIDER", "http"),
    ("BAOXIU_SMS__BASE_URL", "http://127.0.0.1:9"),
    ("BAOXIU_WECHAT__PROVIDER", "http"),
    ("BAOXIU_BUSINESS_REGISTRY__PROVIDER", "none"),
    ("BAOXIU_DOMAIN_CHECK__PROVIDER", "http"),
    (
        "BAOXIU_SECRETS_KEY",
        "abababababababababababababababababababababababababababababababab",
    ),
];

/// Runs `command` to its end; a command still running after a minute (a server that
/// should have refused to start) is killed and fails the test.
fn finished(mut command: Command) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + START_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {START_TIMEOUT:?}: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Each backend's database flag: SQLite's default file, and a fresh PostgreSQL database.
fn each_backend(check: impl Fn(&[&str])) {
    check(&[]);
    let database = TestDatabase::postgres();
    check(&["--database-url", &database.url]);
}

#[test]
fn development_mode_refuses_to_listen_beyond_loopback() {
    each_backend(|database| {
        for bind in ["0.0.0.0:0", "[::]:0"] {
            let folder = Folder::new();
            let mut args = vec!["serve", "--bind", bind];
            args.extend_from_slice(database);
            let output = finished(baoxiu(&folder.0, &args, &[]));
            assert!(!output.status.success(), "{bind} {database:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("loopback"), "{stderr}");
            assert!(
                stderr.contains("mode = \"production\""),
                "it says what to do: {stderr}"
            );
            assert!(!folder.0.join("data").exists(), "nothing was created");
        }
    });
}

#[test]
fn the_demo_seed_refuses_to_run_in_production() {
    each_backend(|database| {
        for command in [&["demo"][..], &["serve", "--demo", "--bind", "127.0.0.1:0"]] {
            let folder = Folder::new();
            let mut args = command.to_vec();
            args.extend_from_slice(database);
            let output = finished(baoxiu(&folder.0, &args, PRODUCTION));
            assert!(!output.status.success(), "{command:?} {database:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("development mode only"), "{stderr}");
            assert!(!folder.0.join("data").exists(), "nothing was created");
        }
    });
}

#[test]
fn every_command_has_help() {
    let folder = Folder::new();
    for command in [
        &["--help"][..],
        &["serve", "--help"],
        &["worker", "--help"],
        &["migrate", "--help"],
        &["openapi", "--help"],
        &["demo", "--help"],
        &["platform-token", "--help"],
    ] {
        let output = baoxiu(&folder.0, command, &[]).output().unwrap();
        assert!(output.status.success(), "{command:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("Usage: baoxiu"), "{command:?}: {stdout}");
    }
}

#[test]
fn migrate_creates_the_default_database_and_openapi_matches_the_committed_document() {
    let folder = Folder::new();
    let migrated = baoxiu(&folder.0, &["migrate"], &[]).output().unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(folder.0.join("data/baoxiu.db").is_file());

    let written = baoxiu(&folder.0, &["openapi"], &[]).output().unwrap();
    assert!(written.status.success());
    let committed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json"))
            .unwrap();
    assert!(
        written.stdout == committed,
        "openapi/openapi.json is out of date: run `make openapi`"
    );
}

/// A development start, one 404 and one Swagger UI load, as a newcomer sees them in a
/// redirected log: no WARN lines, no colour codes, and each request's lines carry one
/// request id, the one the client got in `X-Request-Id`.
#[tokio::test]
async fn the_log_of_a_first_start_reads_cleanly() {
    let folder = Folder::new();
    let server = Server::start(&folder.0, &["serve", "--demo", "--bind", "127.0.0.1:0"]);
    let http = reqwest::Client::new();
    for path in [
        "/docs/",
        "/docs/index.html",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let answer = http.get(server.url(path)).send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }
    let missing = http
        .get(server.url("/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let id = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut log = server.start_output.clone();
    log.extend(server.lines_until(&id));
    let text = log.join("\n");
    assert!(!text.contains("WARN"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes when not on a terminal: {text}"
    );
    for line in log.iter().filter(|l| l.contains("request_id")) {
        assert_eq!(
            line.matches("request_id").count(),
            1,
            "one request id: {line}"
        );
    }
    let of_404: Vec<&String> = log.iter().filter(|l| l.contains(&id)).collect();
    assert_eq!(of_404.len(), 1, "{text}");
    assert!(
        of_404[0].contains(" INFO ") && of_404[0].contains("404"),
        "{}",
        of_404[0]
    );
    assert!(of_404[0].len() < 300, "one short line: {}", of_404[0]);
}
