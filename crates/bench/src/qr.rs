//! The QR limits, measured: the largest PNG the API will draw (its side, its size in bytes,
//! how long it takes), and how the liveness probe and an unrelated database read answer
//! while ten maximal exports (1000 codes each, the longest URL at the largest style) run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baoxiu_devices::qr::{Caption, ErrorCorrection, QrStyle};
use baoxiu_devices::render::{self, MAX_URL_CHARS};
use serde_json::{Value, json};

use crate::percentile;

/// Codes in one maximal export.
const EXPORT_CODES: usize = 1000;
/// Exports running at once.
const EXPORTS: usize = 10;
/// Requests of each image measured one after the other.
const IMAGE_SAMPLES: usize = 20;

const LEVELS: [(ErrorCorrection, &str); 4] = [
    (ErrorCorrection::Low, "low"),
    (ErrorCorrection::Medium, "medium"),
    (ErrorCorrection::Quartile, "quartile"),
    (ErrorCorrection::High, "high"),
];

fn style(module_px: u32, quiet_zone: u32, ecc: ErrorCorrection) -> QrStyle {
    QrStyle {
        module_px,
        quiet_zone,
        error_correction: ecc,
        foreground: "#000000".into(),
        background: "#FFFFFF".into(),
        caption: Caption::Code,
    }
}

/// The width of a PNG, from its header.
fn png_width(png: &[u8]) -> u32 {
    png.get(16..20)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// One way to set a tenant's codes up: the style and how long their URL is.
#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    url_chars: usize,
    quiet_zone: u32,
    ecc: usize,
}

/// The case whose PNG has the most pixels: every URL length, border and level, at 40
/// pixels a module (the server gives fewer when the image would pass its limit).
fn largest_side(host: &str) -> Result<Case, String> {
    let mut best: Option<(u32, Case)> = None;
    let shortest = url(host, 0).len();
    for (ecc, (level, _)) in LEVELS.iter().enumerate() {
        for url_chars in shortest..=MAX_URL_CHARS {
            let text = url(host, url_chars);
            let bare = render::png(&text, &style(1, 0, *level)).map_err(|e| e.to_string())?;
            let modules = png_width(&bare);
            for quiet_zone in 0..=10 {
                let side_modules = modules + 2 * quiet_zone;
                let side = (2048 / side_modules).min(40) * side_modules;
                if best.as_ref().is_none_or(|(s, _)| side > *s) {
                    let case = Case {
                        name: "largest image",
                        url_chars,
                        quiet_zone,
                        ecc,
                    };
                    best = Some((side, case));
                }
            }
        }
    }
    best.map(|(_, case)| case)
        .ok_or_else(|| "no case".to_owned())
}

/// A URL of code `DM00001` on `host` of `chars` characters (or the shortest there is):
/// what counts for the size of its code is its length.
fn url(host: &str, chars: usize) -> String {
    let base = format!("https://{host}/q/DM00001?p=");
    let pad = chars.saturating_sub(base.len());
    format!("{base}{}", "x".repeat(pad))
}

/// A URL template that the server fills to `chars` characters for the demo's codes (7
/// characters): `{host}` as often as fits, then padding, so that it stays short.
fn template(host: &str, chars: usize) -> String {
    let mut template = "https://{host}/q/{code}?p=".to_owned();
    let mut filled = filled(&template, host).len();
    while filled + host.len() <= chars {
        template.push_str("{host}");
        filled += host.len();
    }
    template.push_str(&"x".repeat(chars.saturating_sub(filled)));
    template
}

/// What the server prints in code `DM00001` for `template`.
fn filled(template: &str, host: &str) -> String {
    template
        .replace("{host}", host)
        .replace("{code}", "DM00001")
}

struct Admin {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
        request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let response = self.send(request).await?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("answered {status}: {body}"))
        }
    }

    async fn use_case(&self, host: &str, case: &Case) -> Result<(), String> {
        let mut settings = self
            .json(
                self.client
                    .get(format!("{}/api/v1/admin/qr-settings", self.base)),
            )
            .await?;
        settings["url_template"] = json!(template(host, case.url_chars));
        settings["style"] = json!({
            "module_px": 40,
            "quiet_zone": case.quiet_zone,
            "error_correction": LEVELS[case.ecc].1,
            "foreground": "#000000",
            "background": "#FFFFFF",
            "caption": "code",
        });
        self.json(
            self.client
                .put(format!("{}/api/v1/admin/qr-settings", self.base))
                .json(&settings),
        )
        .await?;
        Ok(())
    }
}

/// Measures one case: the image as the API serves it, and as the library draws it.
async fn image(admin: &Admin, host: &str, case: &Case) -> Result<Value, String> {
    admin.use_case(host, case).await?;
    let text = filled(&template(host, case.url_chars), host);
    let mut served = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..IMAGE_SAMPLES {
        let started = Instant::now();
        let response = admin
            .send(admin.client.get(format!(
                "{}/api/v1/admin/qr-codes/DM00001/image?format=png",
                admin.base
            )))
            .await?;
        if !response.status().is_success() {
            return Err(format!("image answered {}", response.status()));
        }
        bytes = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
        served.push(started.elapsed());
    }
    let style = style(40, case.quiet_zone, LEVELS[case.ecc].0);
    let mut drawn = Vec::new();
    for _ in 0..IMAGE_SAMPLES {
        let started = Instant::now();
        let png = render::png(&text, &style).map_err(|e| e.to_string())?;
        drawn.push(started.elapsed());
        if png != bytes {
            return Err("the served image is not the one drawn here".into());
        }
    }
    served.sort();
    drawn.sort();
    let side = png_width(&bytes);
    let figures = json!({
        "url_chars": text.len(),
        "error_correction": LEVELS[case.ecc].1,
        "quiet_zone": case.quiet_zone,
        "side_px": side,
        "bytes": bytes.len(),
        "render_ms_p50": round(percentile(&drawn, 50.0)),
        "served_ms_p50": round(percentile(&served, 50.0)),
        "served_ms_p99": round(percentile(&served, 99.0)),
    });
    println!(
        "{:<9} {:<32} {side}×{side} px, {} bytes, drawn in {:.2} ms, served in {:.2} ms (p50)",
        "",
        case.name,
        bytes.len(),
        percentile(&drawn, 50.0),
        percentile(&served, 50.0),
    );
    Ok(figures)
}

fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// Latencies of one probe, measured until `stop`.
async fn probe(
    client: reqwest::Client,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answered = request(&client)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match answered {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                latencies.push(started.elapsed());
            }
            _ => errors += 1,
        }
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
    latencies.sort();
    (latencies, errors)
}

fn probe_figures(latencies: &[Duration], errors: u64) -> Value {
    json!({
        "requests": latencies.len(),
        "errors": errors,
        "p50_ms": round(percentile(latencies, 50.0)),
        "p99_ms": round(percentile(latencies, 99.0)),
        "max_ms": round(latencies.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)),
    })
}

/// Ten clients each get one maximal export, retrying after `Retry-After` when refused;
/// the probes run meanwhile.
async fn exports(admin: &Admin, tenant: &str) -> Result<Value, String> {
    let codes: Vec<String> = (1..=EXPORT_CODES).map(|n| format!("DM{n:05}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let live = tokio::spawn(probe(
        reqwest::Client::new(),
        {
            let url = format!("{}/healthz/live", admin.base);
            move |client| client.get(&url)
        },
        Duration::from_millis(10),
        stop.clone(),
    ));
    let provider = tokio::spawn(probe(
        reqwest::Client::new(),
        {
            let url = format!("{}/api/v1/provider", admin.base);
            let tenant = tenant.to_owned();
            move |client| client.get(&url).header("X-Tenant", &tenant)
        },
        Duration::from_millis(50),
        stop.clone(),
    ));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..EXPORTS {
        let client = reqwest::Client::new();
        let url = format!("{}/api/v1/admin/qr-codes/export", admin.base);
        let token = admin.token.clone();
        let body = json!({ "codes": codes, "format": "png_zip" });
        let refused = refused.clone();
        clients.push(tokio::spawn(async move {
            loop {
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                    refused.fetch_add(1, Ordering::Relaxed);
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    continue;
                }
                if !status.is_success() {
                    return Err(format!("export answered {status}"));
                }
                let bytes = response.bytes().await.map_err(|e| e.to_string())?.len();
                return Ok::<_, String>((t.elapsed(), bytes));
            }
        }));
    }
    let mut durations = Vec::new();
    let mut sizes = Vec::new();
    for client in clients {
        let (duration, bytes) = client.await.map_err(|e| e.to_string())??;
        durations.push(duration);
        sizes.push(bytes);
    }
    let all_done = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (live, live_errors) = live.await.map_err(|e| e.to_string())?;
    let (provider, provider_errors) = provider.await.map_err(|e| e.to_string())?;
    durations.sort();
    let figures = json!({
        "exports": EXPORTS,
        "codes_each": EXPORT_CODES,
        "zip_bytes": sizes.iter().max(),
        "export_s_p50": round(percentile(&durations, 50.0) / 1000.0),
        "export_s_max": round(percentile(&durations, 100.0) / 1000.0),
        "all_done_s": round(all_done.as_secs_f64()),
        "refused_503": refused.load(Ordering::Relaxed),
        "GET /healthz/live": probe_figures(&live, live_errors),
        "GET /api/v1/provider": probe_figures(&provider, provider_errors),
    });
    println!(
        "{:<9} {:<32} {EXPORTS} × {EXPORT_CODES} codes ({} bytes each) done in {:.1} s, {} refusals (503)",
        "",
        "maximal exports",
        sizes.iter().max().unwrap_or(&0),
        all_done.as_secs_f64(),
        refused.load(Ordering::Relaxed),
    );
    println!(
        "{:<9} {:<32} live p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors; provider p99 {:.2} ms, max {:.2} ms, {} errors",
        "",
        "  meanwhile",
        percentile(&live, 50.0),
        percentile(&live, 99.0),
        percentile(&live, 100.0),
        live_errors,
        percentile(&provider, 99.0),
        percentile(&provider, 100.0),
        provider_errors,
    );
    Ok(figures)
}

/// The QR figures of one server: the demo tenant's codes, grown to [`EXPORT_CODES`].
pub async fn measure(base: &str, tenant: &str, token: String) -> Result<Value, String> {
    let admin = Admin {
        client: reqwest::Client::new(),
        base: base.to_owned(),
        token,
    };
    let listed = admin
        .json(
            admin
                .client
                .get(format!("{base}/api/v1/admin/qr-codes?limit=1")),
        )
        .await?;
    let printed = listed["items"][0]["url"].as_str().unwrap_or_default();
    let host = printed
        .strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("no code to read the host from: {listed}"))?
        .to_owned();
    // The demo has DM00001-DM00004; make the rest of the export's codes.
    let mut have = 4;
    while have < EXPORT_CODES {
        let count = (EXPORT_CODES - have).min(500);
        admin
            .json(
                admin
                    .client
                    .post(format!("{base}/api/v1/admin/qr-codes"))
                    .json(&json!({ "count": count })),
            )
            .await?;
        have += count;
    }
    let longest = Case {
        name: "longest URL, largest style",
        url_chars: MAX_URL_CHARS,
        quiet_zone: 10,
        ecc: 3,
    };
    let largest = largest_side(&host)?;
    let largest_image = image(&admin, &host, &largest).await?;
    let longest_url_image = image(&admin, &host, &longest).await?;
    // The exports print the longest URL at the largest style.
    let maximal_exports = exports(&admin, tenant).await?;
    Ok(json!({
        "max_url_chars": MAX_URL_CHARS,
        "max_png_side_px": render::MAX_PNG_SIDE,
        "largest_image": largest_image,
        "longest_url_image": longest_url_image,
        "maximal_exports": maximal_exports,
    }))
}
