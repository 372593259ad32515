//! `baoxiu-bench`: load on a running Baoxiu from a second process, over loopback. Each
//! worker holds its own session (refresh tokens are single use), so every endpoint is
//! measured as real clients would call it. Prints requests/s and p50/p99 per endpoint,
//! then the QR limits (`qr.rs`), and merges the figures into a JSON file.

use std::path::PathBuf;
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
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Live,
    Login,
    Refresh,
    Profile,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::Live => "GET /healthz/live",
            Self::Login => "POST /api/v1/auth/staff/login",
            Self::Refresh => "POST /api/v1/auth/refresh",
            Self::Profile => "GET /api/v1/admin/profile",
        }
    }
}

struct Worker {
    client: reqwest::Client,
    args: std::sync::Arc<Args>,
    access: String,
    refresh: String,
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

    async fn once(&mut self, endpoint: Endpoint) -> Outcome {
        let base = &self.args.base;
        let response = match endpoint {
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
        response.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn measure(args: std::sync::Arc<Args>, endpoint: Endpoint) -> Result<Value, String> {
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| e.to_string())?;
        let mut worker = Worker {
            client,
            args: args.clone(),
            access: String::new(),
            refresh: String::new(),
        };
        let (access, refresh) = worker.login().await?;
        worker.access = access;
        worker.refresh = refresh;
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
        "{:<9} {:<32} {:>10.1} {:>9.2} {:>9.2} {:>7}",
        args.backend,
        endpoint.name(),
        requests_per_sec,
        p50_ms,
        p99_ms,
        errors
    );
    Ok(figures)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = std::sync::Arc::new(Args::parse());
    println!(
        "{:<9} {:<32} {:>10} {:>9} {:>9} {:>7}",
        "backend", "endpoint", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut results: Value = std::fs::read_to_string(&args.out)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| json!({}));
    let mut figures = serde_json::Map::new();
    for endpoint in [
        Endpoint::Live,
        Endpoint::Login,
        Endpoint::Refresh,
        Endpoint::Profile,
    ] {
        figures.insert(
            endpoint.name().to_owned(),
            measure(args.clone(), endpoint).await?,
        );
    }
    let admin = Worker {
        client: reqwest::Client::new(),
        args: args.clone(),
        access: String::new(),
        refresh: String::new(),
    };
    let (token, _) = admin.login().await?;
    let qr = qr::measure(&args.base, &args.tenant, token).await?;
    results[&args.backend] = json!({
        "concurrency": args.concurrency,
        "seconds_per_endpoint": args.seconds,
        "endpoints": figures,
        "qr": qr,
    });
    let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())? + "\n";
    if let Some(folder) = args.out.parent() {
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
    Ok(())
}
