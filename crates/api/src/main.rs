//! `baoxiu`: serve the API, run background jobs, migrate, write the OpenAPI document, seed
//! the demo tenant.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_api::config::{Config, LogFormat};
use baoxiu_api::tokens::{TokenKind, TokenService};
use baoxiu_api::{Application, build_state, demo, jobs, openapi};
use baoxiu_core::{Clock, SystemClock, TenantId};
use baoxiu_store::Db;
use clap::{Parser, Subcommand};

// libc's malloc showed as a tenth of a request's instructions; mimalloc's thread-local
// free lists cost a fraction of that for the many small allocations a request makes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "baoxiu",
    version,
    about = "Baoxiu: after-sales self-service portal backend"
)]
struct Cli {
    /// TOML configuration file (default: ./baoxiu.toml when it exists).
    #[arg(long, global = true, env = "BAOXIU_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://... (overrides the configuration).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the API (with Swagger UI at /docs/).
    Serve {
        /// Address to listen on, host:port (overrides the configuration).
        #[arg(long)]
        bind: Option<String>,
        /// Seed the demo tenant when the database has none.
        #[arg(long)]
        demo: bool,
    },
    /// Migrate the database and run background jobs (SMS delivery, clean-ups) until
    /// stopped, without serving the API: API nodes and workers scale apart.
    Worker,
    /// Run pending database migrations and exit.
    Migrate,
    /// Write the OpenAPI document (to stdout, or to a file).
    Openapi {
        /// File to write, e.g. openapi/openapi.json.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Seed the demo tenant (staff, a Mini Program, a customer account, devices and QR
    /// codes); does nothing if it exists. Prints how to log in.
    Demo,
    /// Print a platform operator token (1 hour), signed with the configured secret.
    PlatformToken {
        /// Who the operator is, for the audit log.
        #[arg(long)]
        operator: String,
    },
}

fn load(cli: &Cli) -> Result<Config, String> {
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    if let Command::Serve {
        bind: Some(bind), ..
    } = &cli.command
    {
        config.bind = bind.clone();
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn init_tracing(format: LogFormat) {
    // actix_web_prom warns on every Swagger UI load that the catch-all docs path has no
    // bounded metrics label; that path is excluded from the metrics, so the warning is noise.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_web_prom=error"));
    // Colour only on a terminal: redirected logs get no escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn seed_demo(db: &Db, config: &Config, clock: &dyn Clock) -> Result<(), String> {
    let now = clock.now().naive_utc();
    let key =
        SecretsKey::from_hex(&config.secrets_key).ok_or("secrets_key must be 64 hex characters")?;
    match db.write(|conn| demo::seed(conn, &key, now)) {
        Ok(Some(seeded)) => {
            println!("seeded {seeded}");
            Ok(())
        }
        Ok(None) => {
            println!("{}", demo::logins());
            Ok(())
        }
        Err(e) => Err(format!("seeding the demo tenant failed: {e}")),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::Openapi { out } = &cli.command {
        let json = openapi::document()
            .to_pretty_json()
            .map_err(|e| e.to_string())?
            + "\n";
        return match out {
            Some(path) => {
                std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))
            }
            None => {
                print!("{json}");
                Ok(())
            }
        };
    }
    let config = load(&cli)?;
    init_tracing(config.log_format);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Serve { demo, .. } => {
            if demo {
                demo::refuse_in_production(config.mode)?;
            }
            let bind = config.bind.clone();
            let app =
                Application::build(config.clone(), clock.clone()).map_err(|e| e.to_string())?;
            if demo {
                seed_demo(&app.state().db, &config, clock.as_ref())?;
            }
            // The port actually bound, so `--bind 127.0.0.1:0` tells where it went.
            let host = bind.rsplit_once(':').map_or("127.0.0.1", |(host, _)| host);
            let shown = if host == "0.0.0.0" { "127.0.0.1" } else { host };
            println!(
                "Baoxiu listens on http://{host}:{port} — Swagger UI: http://{shown}:{port}/docs/",
                port = app.port()
            );
            app.run().await.map_err(|e| e.to_string())
        }
        Command::Worker => {
            let workers = config.jobs.workers;
            let state = build_state(config, clock).map_err(|e| e.to_string())?;
            let running = jobs::runner(&state).map_err(|e| e.to_string())?.start();
            println!("Baoxiu worker runs background jobs, {workers} at once");
            stop_signal().await;
            println!("Baoxiu worker stops once the jobs in progress end");
            running.shutdown().await;
            Ok(())
        }
        Command::Migrate => {
            let db = Db::open(&config.database_url, 1).map_err(|e| e.to_string())?;
            baoxiu_api::app::backfill(&db, clock.as_ref()).map_err(|e| e.to_string())?;
            println!("database migrated");
            Ok(())
        }
        Command::Demo => {
            demo::refuse_in_production(config.mode)?;
            let db = Db::open(&config.database_url, 1).map_err(|e| e.to_string())?;
            seed_demo(&db, &config, clock.as_ref())
        }
        Command::PlatformToken { operator } => {
            let tokens = TokenService::new(&config.jwt_secret, &config.jwt_issuer, 3600, clock);
            let token = tokens
                .issue(
                    &TenantId("platform".into()),
                    TokenKind::Platform,
                    &operator,
                    Vec::new(),
                    None,
                    None,
                )
                .map_err(|e| e.to_string())?;
            println!("{}", token.token);
            Ok(())
        }
        Command::Openapi { .. } => Ok(()),
    }
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("baoxiu: {message}");
            ExitCode::FAILURE
        }
    }
}
