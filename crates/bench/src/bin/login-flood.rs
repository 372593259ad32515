//! `login-flood`: many concurrent unauthenticated password logins (unknown mobiles, wrong
//! passwords) against a running Baoxiu, while `/healthz/live` and an authenticated GET are
//! called beside them. Reports the server's peak RSS (from `/proc/PID/status`), what the
//! flood was answered, and how the other endpoints answered meanwhile; merges the figures
//! into a JSON file. Loopback only, bounded in time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:18182")]
    base: String,
    /// The server's process id (its RSS is read from /proc).
    #[arg(long)]
    pid: u32,
    /// Label of these figures in the output file, e.g. `sqlite many-addresses`.
    #[arg(long)]
    label: String,
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// The staff user of the authenticated GET.
    #[arg(long, default_value = "13800000001")]
    mobile: String,
    #[arg(long, default_value = "baoxiu-demo")]
    password: String,
    /// Logins in flight at every moment.
    #[arg(long, default_value_t = 500)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Give each flooding client its own `X-Forwarded-For` address (the server must
    /// trust loopback as a proxy), as many attackers behind a load balancer.
    #[arg(long)]
    spread: bool,
    #[arg(long, default_value = "bench/results.json")]
    out: PathBuf,
}

/// A `kB` line of /proc/PID/status, in MiB.
fn proc_status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn millis(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    round(sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0)
}

/// What one kind of request was answered: counts per status, latencies.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    latencies: Vec<Duration>,
}

impl Tally {
    fn record(&mut self, outcome: Result<u16, String>, took: Duration) {
        let key = match outcome {
            Ok(status) => status.to_string(),
            Err(_) => "error".to_owned(),
        };
        *self.statuses.entry(key).or_default() += 1;
        self.latencies.push(took);
    }

    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latencies.extend(other.latencies);
    }

    fn figures(mut self) -> Value {
        self.latencies.sort();
        json!({
            "requests": self.latencies.len(),
            "statuses": self.statuses,
            "p50_ms": millis(&self.latencies, 50.0),
            "p99_ms": millis(&self.latencies, 99.0),
            "max_ms": millis(&self.latencies, 100.0),
        })
    }
}

async fn status_of(request: reqwest::RequestBuilder) -> Result<u16, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    response.bytes().await.map_err(|e| e.to_string())?;
    Ok(status)
}

async fn admin_token(client: &reqwest::Client, args: &Args) -> Result<String, String> {
    let response = client
        .post(format!("{}/api/v1/auth/staff/login", args.base))
        .header("X-Tenant", &args.tenant)
        .json(&json!({ "mobile": args.mobile, "password": args.password }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the admin login answered {}", response.status()));
    }
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no access token".to_owned())
}

/// Calls `path` every 50 ms until `deadline` (with the bearer token when given).
async fn probe(
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let mut request = client.get(&url);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let outcome = status_of(request.timeout(Duration::from_secs(10))).await;
        tally.record(outcome, started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tally
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(Args::parse());
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| e.to_string())?;
    let token = admin_token(&client, &args).await?;
    let rss_before = proc_status_mib(args.pid, "VmRSS:").ok_or("no such server process")?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);

    let peak_sampled = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, pid) = (peak_sampled.clone(), args.pid);
        tokio::spawn(async move {
            while Instant::now() < deadline + Duration::from_secs(1) {
                if let Some(mib) = proc_status_mib(pid, "VmRSS:") {
                    peak.fetch_max(mib as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let live = tokio::spawn(probe(
        client.clone(),
        format!("{}/healthz/live", args.base),
        None,
        deadline,
    ));
    let profile = tokio::spawn(probe(
        client.clone(),
        format!("{}/api/v1/admin/profile", args.base),
        Some(token),
        deadline,
    ));
    let next_mobile = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for worker in 0..args.concurrency {
        let (client, args, next_mobile) = (client.clone(), args.clone(), next_mobile.clone());
        flood.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let forwarded = format!("198.18.{}.{}", worker / 250, worker % 250 + 1);
            while Instant::now() < deadline {
                // An unknown mobile each time: every one costs a decoy hash and a row.
                let n = next_mobile.fetch_add(1, Ordering::Relaxed);
                let mut request = client
                    .post(format!("{}/api/v1/auth/staff/login", args.base))
                    .header("X-Tenant", &args.tenant)
                    .json(&json!({ "mobile": format!("139{:08}", n % 100_000_000), "password": "not-the-password" }))
                    .timeout(Duration::from_secs(30));
                if args.spread {
                    request = request.header("X-Forwarded-For", &forwarded);
                }
                let started = Instant::now();
                let outcome = status_of(request).await;
                tally.record(outcome, started.elapsed());
            }
            tally
        }));
    }
    let mut logins = Tally::default();
    for task in flood {
        logins.merge(task.await.map_err(|e| e.to_string())?);
    }
    let live = live.await.map_err(|e| e.to_string())?;
    let profile = profile.await.map_err(|e| e.to_string())?;
    sampler.await.map_err(|e| e.to_string())?;
    let rss_after = proc_status_mib(args.pid, "VmRSS:").unwrap_or_default();
    let peak = proc_status_mib(args.pid, "VmHWM:").unwrap_or_default();

    let figures = json!({
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "spread_addresses": args.spread,
        "rss_before_mib": round(rss_before),
        "rss_peak_mib": round(peak.max(peak_sampled.load(Ordering::Relaxed) as f64)),
        "rss_after_mib": round(rss_after),
        "logins": logins.figures(),
        "GET /healthz/live": live.figures(),
        "GET /api/v1/admin/profile": profile.figures(),
    });
    println!(
        "{}: {}",
        args.label,
        serde_json::to_string_pretty(&figures).map_err(|e| e.to_string())?
    );
    let mut results: Value = std::fs::read_to_string(&args.out)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| json!({}));
    results["login_flood"][&args.label] = figures;
    let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
    Ok(())
}
