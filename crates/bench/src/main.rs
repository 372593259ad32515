//! `baoxiu-bench`: load on a running Baoxiu from a second process, over loopback. Each
//! worker holds its own session (refresh tokens are single use), so every endpoint is
//! measured as real clients would call it. Prints requests/s and p50/p99 per endpoint,
//! then the QR limits (`qr.rs`), and merges the figures into a JSON file. The work-order
//! scenarios run as the demo Mini Program's users (one per worker) and the demo admin;
//! `--growth <orders>` measures only the reads and searches on a seeded table (`bench/growth`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

mod qr;

#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:18181")]
    base: String,
    /// Label for these figures (the backend the server runs on).
    #[arg(long)]
    backend: String,
    #[arg(long, default_value = "demo")]
    tenant: String,
    #[arg(long, default_value = "13800000001")]
    mobile: String,
    #[arg(long, default_value = "baoxiu-demo")]
    password: String,
    /// Seconds per endpoint.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// JSON file the figures are merged into.
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
    /// The demo Mini Program: its users submit and follow orders.
    #[arg(long, default_value = "wxdemo0mini0app1")]
    app_id: String,
    /// The code scanned and reported on (a device the Mini Program's users may see).
    #[arg(long, default_value = "DM00002")]
    qr_code: String,
    /// Only the growth reads, filed under `growth.<backend>.<orders>`: the table holds this
    /// many orders (seeded by `bench/growth`).
    #[arg(long)]
    growth: Option<u64>,
    /// For `--growth`: an order number to search for.
    #[arg(long, default_value = "")]
    search_number: String,
    /// For `--growth`: a serial to search for.
    #[arg(long, default_value = "")]
    search_serial: String,
    /// Leave out the QR limits (minutes on a debug build).
    #[arg(long)]
    no_qr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Live,
    Login,
    Refresh,
    Profile,
    Scan,
    Submit,
    MyOrders,
    Detail,
    StaffList,
    Transition,
    SearchNumber,
    SearchSerial,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::Live => "GET /healthz/live",
            Self::Login => "POST /api/v1/auth/staff/login",
            Self::Refresh => "POST /api/v1/auth/refresh",
            Self::Profile => "GET /api/v1/admin/profile",
            Self::Scan => "GET /api/v1/scan/{code}",
            Self::Submit => "POST /api/v1/work-orders",
            Self::MyOrders => "GET /api/v1/work-orders",
            Self::Detail => "GET /api/v1/work-orders/{id}",
            Self::StaffList => "GET /api/v1/admin/work-orders?status=pending",
            Self::Transition => "POST /api/v1/admin/work-orders/{id}/transitions",
            Self::SearchNumber => "GET /api/v1/admin/work-orders?number=",
            Self::SearchSerial => "GET /api/v1/admin/work-orders?serial=",
        }
    }

    /// Called as a Mini Program user (else as the demo admin).
    fn terminal(self) -> bool {
        matches!(
            self,
            Self::Scan | Self::Submit | Self::MyOrders | Self::Detail
        )
    }
}

/// Orders the submit scenario created, with the worker (the user) that created them: the
/// detail scenario reads its own, the transition scenario accepts each once.
#[derive(Default)]
struct Shared {
    created: Mutex<Vec<(usize, String)>>,
}

struct Worker {
    client: reqwest::Client,
    args: Arc<Args>,
    shared: Arc<Shared>,
    index: usize,
    access: String,
    refresh: String,
    /// For a terminal endpoint: the Mini Program user's access token.
    terminal: String,
    /// For the detail scenario: one of this worker's orders.
    order: String,
}

type Outcome = Result<(), String>;

impl Worker {
    async fn login(&self) -> Result<(String, String), String> {
        let response = self
            .client
            .post(format!("{}/api/v1/auth/staff/login", self.args.base))
            .header("X-Tenant", &self.args.tenant)
            .json(&json!({ "mobile": self.args.mobile, "password": self.args.password }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("login answered {}", response.status()));
        }
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        Ok((
            body["access_token"].as_str().unwrap_or_default().to_owned(),
            body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ))
    }

    /// `wx.login` as the demo Mini Program's user number `index` (the development fake
    /// takes any code): the same user on every call with the same index.
    async fn login_terminal(&self) -> Result<String, String> {
        let response = self
            .client
            .post(format!(
                "{}/api/v1/auth/wechat/mini-program",
                self.args.base
            ))
            .json(&json!({ "app_id": self.args.app_id, "code": format!("bench-{}", self.user()) }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("wechat login answered {}", response.status()));
        }
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
    }

    /// The Mini Program user: one per worker, or for `--growth` the one user whose orders
    /// were seeded (`bench-0`).
    fn user(&self) -> usize {
        if self.args.growth.is_some() {
            0
        } else {
            self.index
        }
    }

    fn get(&self, url: String, token: &str) -> reqwest::RequestBuilder {
        self.client.get(url).bearer_auth(token)
    }

    /// A fault reported on the scanned device (confirmed past the duplicate guard: every
    /// call creates an order); its id.
    async fn submit(&self) -> Result<String, String> {
        let response = self
            .client
            .post(format!("{}/api/v1/work-orders", self.args.base))
            .bearer_auth(&self.terminal)
            .json(&json!({
                "qr_code": self.args.qr_code,
                "fault_description": "bench: it beeps",
                "contact_phone": "13900000009",
                "channel": "mini_program",
                "confirm_duplicate": true,
            }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(format!("submit answered {}", response.status()));
        }
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        Ok(body["work_order"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn once(&mut self, endpoint: Endpoint) -> Outcome {
        let base = &self.args.base;
        let response = match endpoint {
            Endpoint::Scan => {
                let url = format!("{base}/api/v1/scan/{}", self.args.qr_code);
                self.get(url, &self.terminal).send().await
            }
            Endpoint::Submit => {
                let id = self.submit().await?;
                if let Ok(mut created) = self.shared.created.lock() {
                    created.push((self.index, id));
                }
                return Ok(());
            }
            Endpoint::MyOrders => {
                let url = format!("{base}/api/v1/work-orders?limit=20");
                self.get(url, &self.terminal).send().await
            }
            Endpoint::Detail => {
                let url = format!("{base}/api/v1/work-orders/{}", self.order);
                self.get(url, &self.terminal).send().await
            }
            Endpoint::StaffList => {
                let url = format!("{base}/api/v1/admin/work-orders?status=pending&limit=20");
                self.get(url, &self.access).send().await
            }
            Endpoint::SearchNumber => {
                let url = format!(
                    "{base}/api/v1/admin/work-orders?number={}&limit=20",
                    self.args.search_number
                );
                self.get(url, &self.access).send().await
            }
            Endpoint::SearchSerial => {
                let url = format!(
                    "{base}/api/v1/admin/work-orders?serial={}&limit=20",
                    self.args.search_serial
                );
                self.get(url, &self.access).send().await
            }
            Endpoint::Transition => {
                let next = self.shared.created.lock().ok().and_then(|mut c| c.pop());
                let Some((_, id)) = next else {
                    return Err("no pending order left to accept".into());
                };
                self.client
                    .post(format!("{base}/api/v1/admin/work-orders/{id}/transitions"))
                    .bearer_auth(&self.access)
                    .json(&json!({ "action": "accept" }))
                    .send()
                    .await
            }
            Endpoint::Live => self.client.get(format!("{base}/healthz/live")).send().await,
            Endpoint::Login => {
                self.login().await?;
                return Ok(());
            }
            Endpoint::Refresh => {
                let response = self
                    .client
                    .post(format!("{base}/api/v1/auth/refresh"))
                    .json(&json!({ "refresh_token": self.refresh }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("refresh answered {}", response.status()));
                }
                let body: Value = response.json().await.map_err(|e| e.to_string())?;
                self.refresh = body["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                return Ok(());
            }
            Endpoint::Profile => {
                self.client
                    .get(format!("{base}/api/v1/admin/profile"))
                    .bearer_auth(&self.access)
                    .send()
                    .await
            }
        }
        .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        // A list or search that finds nothing would measure nothing.
        if matches!(
            endpoint,
            Endpoint::MyOrders
                | Endpoint::StaffList
                | Endpoint::SearchNumber
                | Endpoint::SearchSerial
        ) {
            let page: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            if page["items"].as_array().is_none_or(Vec::is_empty) {
                return Err("found no order".into());
            }
        }
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn measure(
    args: Arc<Args>,
    shared: Arc<Shared>,
    endpoint: Endpoint,
) -> Result<Value, String> {
    let mut workers = Vec::new();
    for index in 0..args.concurrency {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| e.to_string())?;
        let mut worker = Worker {
            client,
            args: args.clone(),
            shared: shared.clone(),
            index,
            access: String::new(),
            refresh: String::new(),
            terminal: String::new(),
            order: String::new(),
        };
        if endpoint.terminal() {
            worker.terminal = worker.login_terminal().await?;
        } else {
            let (access, refresh) = worker.login().await?;
            worker.access = access;
            worker.refresh = refresh;
        }
        if endpoint == Endpoint::Detail {
            let own = shared.created.lock().ok().and_then(|created| {
                created
                    .iter()
                    .find(|(owner, _)| *owner == index)
                    .map(|(_, id)| id.clone())
            });
            worker.order = match own {
                Some(id) => id,
                None => worker.submit().await?,
            };
        }
        workers.push(worker);
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut worker in workers {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                if endpoint == Endpoint::Transition
                    && worker
                        .shared
                        .created
                        .lock()
                        .map(|c| c.is_empty())
                        .unwrap_or(true)
                {
                    break; // every order the submit scenario made is accepted
                }
                let t = Instant::now();
                match worker.once(endpoint).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.map_err(|e| e.to_string())?;
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let requests_per_sec = (latencies.len() as f64 / elapsed * 10.0).round() / 10.0;
    let p50_ms = (percentile(&latencies, 50.0) * 100.0).round() / 100.0;
    let p99_ms = (percentile(&latencies, 99.0) * 100.0).round() / 100.0;
    let figures = json!({
        "requests": latencies.len(),
        "errors": errors,
        "requests_per_sec": requests_per_sec,
        "p50_ms": p50_ms,
        "p99_ms": p99_ms,
    });
    println!(
        "{:<9} {:<46} {:>10.1} {:>9.2} {:>9.2} {:>7}",
        args.backend,
        endpoint.name(),
        requests_per_sec,
        p50_ms,
        p99_ms,
        errors
    );
    Ok(figures)
}

async fn measure_all(
    args: &Arc<Args>,
    shared: &Arc<Shared>,
    endpoints: &[Endpoint],
) -> Result<serde_json::Map<String, Value>, String> {
    let mut figures = serde_json::Map::new();
    for endpoint in endpoints {
        figures.insert(
            endpoint.name().to_owned(),
            measure(args.clone(), shared.clone(), *endpoint).await?,
        );
    }
    Ok(figures)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(Args::parse());
    println!(
        "{:<9} {:<46} {:>10} {:>9} {:>9} {:>7}",
        "backend", "endpoint", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut results: Value = std::fs::read_to_string(&args.out)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| json!({}));
    let shared = Arc::new(Shared::default());
    if let Some(orders) = args.growth {
        // The same user every run (`bench-0`): its orders are part of the seeded table.
        let reads = [
            Endpoint::MyOrders,
            Endpoint::StaffList,
            Endpoint::SearchNumber,
            Endpoint::SearchSerial,
        ];
        let figures = measure_all(&args, &shared, &reads).await?;
        results["growth"][&args.backend][orders.to_string()] = json!({
            "concurrency": args.concurrency,
            "seconds_per_endpoint": args.seconds,
            "endpoints": figures,
        });
    } else {
        let figures = measure_all(
            &args,
            &shared,
            &[
                Endpoint::Live,
                Endpoint::Login,
                Endpoint::Refresh,
                Endpoint::Profile,
                Endpoint::Scan,
                Endpoint::Submit,
                Endpoint::MyOrders,
                Endpoint::Detail,
                Endpoint::StaffList,
                Endpoint::Transition,
            ],
        )
        .await?;
        let admin = Worker {
            client: reqwest::Client::new(),
            args: args.clone(),
            shared: shared.clone(),
            index: 0,
            access: String::new(),
            refresh: String::new(),
            terminal: String::new(),
            order: String::new(),
        };
        let (token, _) = admin.login().await?;
        let qr = if args.no_qr {
            Value::Null
        } else {
            qr::measure(&args.base, &args.tenant, token).await?
        };
        results[&args.backend] = json!({
            "concurrency": args.concurrency,
            "seconds_per_endpoint": args.seconds,
            "endpoints": figures,
            "qr": qr,
        });
    }
    let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())? + "\n";
    if let Some(folder) = args.out.parent() {
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
    Ok(())
}
