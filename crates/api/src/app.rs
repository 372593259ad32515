//! Building and running the application: the library entry the binary and tests share.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use actix_web_prom::PrometheusMetricsBuilder;
use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_core::Clock;
use baoxiu_store::Db;
use baoxiu_wechat::hosts::{DevHostVerifier, HostVerifier, HttpHostVerifier};
use baoxiu_wechat::registry::{BusinessRegistry, DevBusinessRegistry, HttpBusinessRegistry};
use baoxiu_wechat::sms::{DevSmsSender, HttpSmsSender, SmsSender};
use baoxiu_wechat::wechat::{DevWechat, HttpWechat, WechatAuth};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{Config, DomainCheckProvider, RegistryProvider, SmsProvider, WechatProvider};
use crate::json::BodyLimit;
use crate::problem::ApiError;
use crate::request::{RequestSpan, request_context};
use crate::routes;
use crate::state::AppState;
use crate::tokens::TokenService;

/// A bound, not yet running server, and its job runner unless `jobs.in_process` is off.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    runner: Option<baoxiu_jobs::Runner<AppState>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] baoxiu_store::StoreError),
    #[error("cannot listen on {0}: {1}{hint}", hint = bind_hint(.1))]
    Bind(String, std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// What to do when the address is taken.
fn bind_hint(error: &std::io::Error) -> &'static str {
    if error.kind() == std::io::ErrorKind::AddrInUse {
        " (another process listens there: pick another address with `--bind HOST:PORT`, \
         `BAOXIU_BIND=HOST:PORT` (also for `make run`) or `bind` in baoxiu.toml)"
    } else {
        ""
    }
}

/// Writes what tenants that signed up before a feature existed lack, once the database is
/// migrated: the preset form templates. Each start checks (one statement when nothing is
/// missing).
pub fn backfill(db: &Db, clock: &dyn Clock) -> Result<(), StartError> {
    let filled = baoxiu_workorders::templates::backfill_presets(db, clock.now().naive_utc())
        .map_err(|e| StartError::Other(format!("form template presets: {e}")))?;
    if filled > 0 {
        tracing::info!(tenants = filled, "preset form templates written");
    }
    Ok(())
}

/// The state built from configuration: database (migrated), tokens, SMS sender.
pub fn build_state(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    config.validate()?;
    let db = Db::open(&config.database_url, config.database_pool_size)?;
    backfill(&db, clock.as_ref())?;
    let tokens = TokenService::new(
        &config.jwt_secret,
        &config.jwt_issuer,
        config.access_token_ttl_secs,
        clock.clone(),
    );
    let http = reqwest::Client::builder()
        .user_agent("baoxiu")
        .build()
        .map_err(|e| StartError::Other(format!("HTTP client: {e}")))?;
    let (sms, dev_sms): (Arc<dyn SmsSender>, Option<DevSmsSender>) = match config.sms.provider {
        SmsProvider::Dev => {
            let dev = DevSmsSender::default();
            (Arc::new(dev.clone()), Some(dev))
        }
        SmsProvider::Http => {
            let base = config.sms.base_url.clone().unwrap_or_default();
            let key = config.sms.api_key.clone().unwrap_or_default();
            (
                Arc::new(HttpSmsSender::new(http.clone(), &base, &key)),
                None,
            )
        }
    };
    let wechat: Arc<dyn WechatAuth> = match config.wechat.provider {
        WechatProvider::Dev => Arc::new(DevWechat),
        WechatProvider::Http => Arc::new(HttpWechat::new(http.clone(), &config.wechat.base_url)),
    };
    let hosts: Arc<dyn HostVerifier> = match config.domain_check.provider {
        DomainCheckProvider::Dev => Arc::new(DevHostVerifier),
        DomainCheckProvider::Http => Arc::new(HttpHostVerifier::new(
            http.clone(),
            &config.domain_check.url_template,
        )),
    };
    let registry: Option<Arc<dyn BusinessRegistry>> = match config.business_registry.provider {
        RegistryProvider::None => None,
        RegistryProvider::Dev => Some(Arc::new(DevBusinessRegistry)),
        RegistryProvider::Http => Some(Arc::new(HttpBusinessRegistry::new(
            http,
            config
                .business_registry
                .base_url
                .as_deref()
                .unwrap_or_default(),
            config
                .business_registry
                .api_key
                .as_deref()
                .unwrap_or_default(),
        ))),
    };
    let secrets_key = SecretsKey::from_hex(&config.secrets_key)
        .ok_or_else(|| StartError::Other("secrets_key must be 64 hex characters".into()))?;
    let trusted_proxies = crate::proxies::TrustedProxies::parse(&config.trusted_proxies)
        .map_err(StartError::Other)?;
    Ok(AppState {
        db,
        clock,
        tokens: Arc::new(tokens),
        sms,
        dev_sms,
        wechat,
        registry,
        hosts,
        secrets_key,
        trusted_proxies,
        auth_limits: Arc::new(crate::limits::AuthLimits::new(&config.limits)),
        password_hashing: crate::hashing::PasswordHashing::start(
            config.limits.password_hashes,
            config.limits.password_hash_queue,
        )
        .map_err(|e| StartError::Other(format!("password hash threads: {e}")))?,
        renders: Arc::new(tokio::sync::Semaphore::new(config.render_concurrency)),
        blobs: Arc::new(baoxiu_store::blobs::LocalBlobStore::new(&config.blob_dir)),
        config: Arc::new(config),
        jobs: baoxiu_jobs::Waker::default(),
    })
}

impl Application {
    /// Opens and migrates the database, binds the listener; `run` serves. Development
    /// mode refuses a non-loopback address before anything is opened.
    pub fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        config.validate_bind()?;
        let bind = config.bind.clone();
        let state = build_state(config, clock)?;
        let listener = TcpListener::bind(&bind).map_err(|e| StartError::Bind(bind.clone(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind, e))?
            .port();
        let server = serve(listener, state.clone())?;
        let runner = if state.config.jobs.in_process {
            Some(crate::jobs::runner(&state).map_err(|e| StartError::Other(e.to_string()))?)
        } else {
            None
        };
        Ok(Self {
            port,
            server,
            state,
            runner,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the server stops (SIGINT, SIGTERM), then lets the jobs in progress end.
    pub async fn run(self) -> std::io::Result<()> {
        let jobs = self.runner.as_ref().map(baoxiu_jobs::Runner::start);
        let served = self.server.await;
        if let Some(jobs) = jobs {
            jobs.shutdown().await;
        }
        served
    }

    /// Runs in the background of the current actix/tokio runtime.
    pub fn spawn(self) -> u16 {
        let port = self.port;
        if let Some(runner) = &self.runner {
            runner.start().detach();
        }
        actix_web::rt::spawn(self.server);
        port
    }
}

fn serve(listener: TcpListener, state: AppState) -> Result<Server, StartError> {
    let metrics = PrometheusMetricsBuilder::new("baoxiu")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        // Swagger UI's catch-all path has no bounded label; it is not measured.
        .exclude_regex("^/docs")
        .build()
        .map_err(|e| StartError::Other(format!("metrics: {e}")))?;
    let body_limit = state.config.max_body_bytes;
    let origins = crate::cors::AllowedOrigins::new(&state.config);
    let data = web::Data::new(state);
    let document = crate::openapi::document();
    let known_routes =
        std::sync::Arc::new(crate::known_routes::KnownRoutes::from_document(&document));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(BodyLimit(body_limit))
            .app_data(web::PayloadConfig::new(body_limit))
            // `crate::query::ApiQuery` names the parameter; this is for any `web::Query` left.
            .app_data(web::QueryConfig::default().error_handler(|error, req| {
                match crate::query::parse::<std::collections::HashMap<String, String>>(
                    req.query_string(),
                ) {
                    Err(named) => named.into(),
                    Ok(_) => ApiError::validation(vec![baoxiu_core::FieldError::new(
                        "query",
                        "invalid",
                        format!("the query string does not fit this route: {error}"),
                    )])
                    .into(),
                }
            }))
            // Every path parameter is an id or a code: one that cannot be read names nothing.
            .app_data(web::PathConfig::default().error_handler(|_, _| {
                ApiError::from(baoxiu_core::DomainError::NotFound("object")).into()
            }))
            // Innermost: a refused request still gets CORS headers, a log line and a metric.
            .wrap(from_fn(crate::query::refuse_queries_past_their_bounds))
            .wrap(from_fn(crate::text::refuse_control_characters_in_paths))
            .wrap(from_fn(crate::limits::limit_unauthenticated_routes))
            .wrap(crate::cors::middleware(origins.clone()))
            .wrap(from_fn(crate::cors::refuse_foreign_preflight))
            .wrap(metrics.clone())
            .wrap(TracingLogger::<RequestSpan>::new())
            .wrap(from_fn(request_context))
            // Before the /api/v1 scope, which would otherwise answer for these paths.
            .route("/api/v1/dev/sms", web::get().to(routes::dev::list_dev_sms))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", document.clone()))
            .into_utoipa_app()
            .service(scope("/api/v1").configure(routes::api_v1))
            .configure(routes::root)
            .into_app()
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header(("Location", "/docs/"))
                        .finish()
                }),
            )
            .default_service(web::to({
                let known_routes = known_routes.clone();
                move |req: actix_web::HttpRequest| {
                    let answer = known_routes.unmatched(&req);
                    async move { Err::<HttpResponse, _>(answer) }
                }
            }))
    })
    .listen(listener)
    .map_err(|e| StartError::Other(format!("listen: {e}")))?
    .run();
    Ok(server)
}
