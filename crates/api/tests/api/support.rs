//! `TestApp`: the real application on a random loopback port, over a fresh database of
//! either backend, with a clock the test moves and the development SMS fake.

use std::sync::Arc;

use baoxiu_api::Application;
use baoxiu_api::config::{Config, Mode, SmsConfig, SmsProvider};
use baoxiu_core::ManualClock;
use baoxiu_store::Backend;
use baoxiu_store::testing::TestDatabase;
use chrono::NaiveDateTime;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Runs one async test body against each backend: `mod name { sqlite, postgres }`.
/// Attributes before a test (such as `#[ignore = "why"]`) apply to both.
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$attr:meta])* async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($app: $crate::support::TestApp) $body

                #[actix_web::test]
                $(#[$attr])*
                async fn sqlite() {
                    run($crate::support::TestApp::spawn(baoxiu_store::Backend::Sqlite).await).await;
                }

                #[actix_web::test]
                $(#[$attr])*
                async fn postgres() {
                    run($crate::support::TestApp::spawn(baoxiu_store::Backend::Postgres).await).await;
                }
            }
        )*
    };
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub backend: Backend,
    pub db: TestDatabase,
    /// The running app's state, for setting up what only load could otherwise bring about
    /// (every render slot or hash place taken, the SQLite writer held by a long write), its
    /// database (and statement log) and its job runner's waker.
    pub state: baoxiu_api::state::AppState,
    /// This app's own blob store directory.
    pub blob_dir: std::path::PathBuf,
}

/// A provider signed up in a test.
#[derive(Debug, Clone)]
pub struct Provider {
    pub tenant_id: String,
    pub admin_id: String,
    pub admin_mobile: String,
    pub access: String,
    pub refresh: String,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer of this status and type; answers the body.
    #[track_caller]
    pub fn problem(&self, status: u16, type_: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "content type of {}",
            self.text
        );
        assert_eq!(self.body["type"], type_, "problem type of {}", self.text);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string());
        assert!(
            self.body["request_id"].is_string(),
            "request id in {}",
            self.text
        );
        &self.body
    }

    /// The `field` names of a 422's errors.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Headers of a request besides the body.
#[derive(Debug, Default, Clone)]
pub struct Opts<'a> {
    pub token: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub if_match: Option<&'a str>,
}

pub fn bearer(token: &str) -> Opts<'_> {
    Opts {
        token: Some(token),
        ..Opts::default()
    }
}

pub fn tenant(slug: &str) -> Opts<'_> {
    Opts {
        tenant: Some(slug),
        ..Opts::default()
    }
}

pub const PASSWORD: &str = "correct-horse-battery";

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line the apps of this test binary wrote (debug level and up).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(|| LogSink)
            .with_ansi(false)
            .try_init();
    });
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, with a change to the configuration first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        capture_logs();
        let db = TestDatabase::new(backend);
        let clock = ManualClock::new(chrono::Utc::now());
        let mut config = Config {
            mode: Mode::Development,
            bind: "127.0.0.1:0".into(),
            database_url: db.url.clone(),
            database_pool_size: 4,
            sms: SmsConfig {
                provider: SmsProvider::Dev,
                base_url: None,
                api_key: None,
            },
            ..Config::default()
        };
        // Every request comes from loopback: the request rates of the unauthenticated
        // routes are tested where they are meant, not tripped by every test.
        config.limits.auth_per_ip_burst = 1_000_000;
        config.limits.auth_per_ip_per_minute = 1_000_000;
        config.limits.auth_global_burst = 1_000_000;
        config.limits.auth_global_per_minute = 1_000_000;
        let blob_dir = std::env::temp_dir().join(format!("baoxiu-blobs-{}", baoxiu_core::new_id()));
        config.blob_dir = blob_dir.to_string_lossy().into_owned();
        adjust(&mut config);
        let app = Application::build(config, Arc::new(clock.clone())).expect("the app starts");
        let state = app.state().clone();
        let port = app.spawn();
        Self {
            base: format!("http://127.0.0.1:{port}"),
            // Redirects are answers to assert, not to follow.
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            clock,
            backend,
            db,
            state,
            blob_dir,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        opts: Opts<'_>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = opts.token {
            request = request.bearer_auth(token);
        }
        if let Some(slug) = opts.tenant {
            request = request.header("X-Tenant", slug);
        }
        if let Some(tag) = opts.if_match {
            request = request.header("If-Match", tag);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.expect("the request is answered")).await
    }

    pub async fn get(&self, path: &str, opts: Opts<'_>) -> Answer {
        self.call(Method::GET, path, None, opts).await
    }

    pub async fn post(&self, path: &str, body: &Value, opts: Opts<'_>) -> Answer {
        self.call(Method::POST, path, Some(body), opts).await
    }

    pub async fn patch(&self, path: &str, body: &Value, opts: Opts<'_>) -> Answer {
        self.call(Method::PATCH, path, Some(body), opts).await
    }

    pub async fn delete(&self, path: &str, opts: Opts<'_>) -> Answer {
        self.call(Method::DELETE, path, None, opts).await
    }

    /// Sends raw bytes with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        opts: Opts<'_>,
    ) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = opts.token {
            request = request.bearer_auth(token);
        }
        if let Some(slug) = opts.tenant {
            request = request.header("X-Tenant", slug);
        }
        read(request.send().await.expect("the request is answered")).await
    }

    /// Moves the clock on and wakes the job runner, so that jobs due by then run now.
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.clock.advance(by);
        self.state.jobs.wake();
    }

    /// Jobs due by the test's clock that have not run to an end (queued, or running).
    pub fn due_jobs(&self) -> i64 {
        use baoxiu_store::schema::jobs;
        use diesel::prelude::*;
        let now = baoxiu_core::Clock::now(&self.clock).naive_utc();
        self.state
            .db
            .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
                Ok(jobs::table
                    .filter(jobs::status.eq("queued"))
                    .filter(jobs::run_at.le(now))
                    .count()
                    .get_result(conn)?)
            })
            .expect("count due jobs")
    }

    /// Waits until the in-process job runner has run every job due by now (SMS deliveries
    /// among them): polls the queue, for at most ten seconds.
    pub async fn jobs_done(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let due = self.due_jobs();
            if due == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{due} due jobs did not run within ten seconds"
            );
            self.state.jobs.wake();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Waits until the periodic jobs due by now (the clean-ups) have been enqueued and run:
    /// polls the schedules and the queue, for at most ten seconds.
    pub async fn periodic_jobs_done(&self) {
        use baoxiu_store::schema::job_schedules;
        use diesel::prelude::*;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = baoxiu_core::Clock::now(&self.clock).naive_utc();
            let due: Vec<NaiveDateTime> = self
                .state
                .db
                .read(|conn| -> Result<_, baoxiu_core::DomainError> {
                    Ok(job_schedules::table
                        .select(job_schedules::next_run_at)
                        .load(conn)?)
                })
                .expect("read the schedules");
            if !due.is_empty() && due.iter().all(|at| *at > now) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the periodic jobs were not enqueued within ten seconds"
            );
            self.state.jobs.wake();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        self.jobs_done().await;
    }

    /// The newest code the development SMS fake "sent" to `mobile`, once the delivery jobs
    /// due have run.
    pub async fn last_code(&self, mobile: &str) -> String {
        self.jobs_done().await;
        let answer = self
            .get(&format!("/api/v1/dev/sms?mobile={mobile}"), Opts::default())
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body[0]["params"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no SMS to {mobile}: {}", answer.text))
            .to_owned()
    }

    /// How many SMS the fake "sent" to `mobile`, once the delivery jobs due have run.
    pub async fn sms_count(&self, mobile: &str) -> usize {
        self.jobs_done().await;
        let answer = self
            .get(&format!("/api/v1/dev/sms?mobile={mobile}"), Opts::default())
            .await;
        answer.body.as_array().map(Vec::len).unwrap_or(0)
    }

    /// Signs a provider up over HTTP (code, then sign-up) and answers its handles.
    /// Asks for a sign-up code for `mobile` and signs up with it: the answer, whatever it is.
    pub async fn try_sign_up(&self, slug: &str, mobile: &str) -> Answer {
        let sent = self
            .post(
                "/api/v1/providers/sms-code",
                &json!({ "mobile": mobile }),
                Opts::default(),
            )
            .await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        let code = self.last_code(mobile).await;
        self.post(
            "/api/v1/providers",
            &json!({
                "mobile": mobile,
                "code": code,
                "provider_name": format!("{slug} 设备服务有限公司"),
                "password": PASSWORD,
                "slug": slug,
            }),
            Opts::default(),
        )
        .await
    }

    pub async fn sign_up(&self, slug: &str, mobile: &str) -> Provider {
        let answer = self.try_sign_up(slug, mobile).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        Provider {
            tenant_id: answer.body["tenant"]["id"]
                .as_str()
                .expect("tenant id")
                .to_owned(),
            admin_id: answer.body["admin"]["id"]
                .as_str()
                .expect("admin id")
                .to_owned(),
            admin_mobile: mobile.to_owned(),
            access: answer.body["access_token"]
                .as_str()
                .expect("access")
                .to_owned(),
            refresh: answer.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        }
    }

    /// Logs a staff user in with a password; answers the token pair body.
    pub async fn login(&self, slug: &str, mobile: &str, password: &str) -> Answer {
        self.post(
            "/api/v1/auth/staff/login",
            &json!({ "mobile": mobile, "password": password }),
            tenant(slug),
        )
        .await
    }

    /// Adds a staff user as `admin_token` and logs them in; answers (id, access token).
    pub async fn add_staff(
        &self,
        admin_token: &str,
        slug: &str,
        mobile: &str,
        role: &str,
    ) -> (String, String) {
        let created = self
            .post(
                "/api/v1/admin/staff",
                &json!({ "mobile": mobile, "name": format!("{role} {mobile}"), "role": role, "password": PASSWORD }),
                bearer(admin_token),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let login = self.login(slug, mobile, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        (
            created.body["id"].as_str().expect("id").to_owned(),
            login.body["access_token"]
                .as_str()
                .expect("token")
                .to_owned(),
        )
    }

    /// Rows in a table, counted directly in the database (to prove nothing changed).
    pub fn count_rows(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db = baoxiu_store::Db::open(&self.db.url, 1).expect("open test database");
        db.read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result::<Count>(conn)?
                    .n,
            )
        })
        .expect("count rows")
    }
}

impl TestApp {
    /// Runs one SQL statement directly in the database (to set up what the API no longer
    /// lets anyone write, such as settings saved before a rule existed).
    pub fn execute_sql(&self, sql: &str) {
        use diesel::prelude::*;
        let db = baoxiu_store::Db::open(&self.db.url, 1).expect("open test database");
        db.write(|conn| -> Result<usize, baoxiu_core::DomainError> {
            Ok(diesel::sql_query(sql).execute(conn)?)
        })
        .expect("execute SQL");
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// A platform operator token as `baoxiu platform-token` mints it (same secret, same service).
pub fn platform_token(app: &TestApp) -> String {
    use baoxiu_api::tokens::{TokenKind, TokenService};
    let tokens = TokenService::new(
        baoxiu_api::config::DEV_JWT_SECRET,
        "baoxiu",
        3600,
        std::sync::Arc::new(app.clock.clone()),
    );
    tokens
        .issue(
            &baoxiu_core::TenantId("platform".into()),
            TokenKind::Platform,
            "ops@baoxiu",
            Vec::new(),
            None,
            None,
        )
        .unwrap()
        .token
}
