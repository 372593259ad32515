//! Configuration: defaults, then a TOML file, then `BAOXIU_*` environment variables (and
//! `DATABASE_URL`), then command-line flags. One typed value, passed in; never a global.

use std::net::ToSocketAddrs;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The JWT secret development mode uses when none is configured. Production refuses it.
pub const DEV_JWT_SECRET: &str = "baoxiu-development-only-secret-change-me-0123456789";

/// The key that seals WeChat app secrets in development. Production refuses it.
pub const DEV_SECRETS_KEY: &str =
    "6465762d6f6e6c792d7365616c696e672d6b65792d646f2d6e6f742d7573652d";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Built-in fakes for SMS (and WeChat), a development route that shows sent codes, the
    /// demo seed; the default, so it listens on loopback addresses only (`validate_bind`).
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// Logs codes instead of sending them (development mode only).
    Dev,
    /// The HTTP SMS gateway at `sms.base_url`.
    Http,
}

// Debug by hand: it never shows a secret (`redact`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WechatProvider {
    /// Codes name the user; no network (development mode only).
    Dev,
    /// The WeChat API at `wechat.base_url`.
    Http,
}

// Debug by hand: it never shows a secret (`redact`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    pub provider: WechatProvider,
    /// `https://api.weixin.qq.com` in production; a fake in tests.
    pub base_url: String,
    /// The shared public mini program that serves tenants without their own
    /// (the tenant then comes from `X-Tenant`).
    pub public_app_id: Option<String>,
    pub public_app_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryProvider {
    /// No registry: the `business_registry` rule answers 503.
    None,
    /// Every name is found (development mode only).
    Dev,
    /// The registry service at `business_registry.base_url`.
    Http,
}

// Debug by hand: it never shows a secret (`redact`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub provider: RegistryProvider,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

/// Limits on what one client, one mobile or everyone together may ask of the
/// unauthenticated routes (logins, refresh, logout, SMS codes, provider sign-up).
///
/// Two kinds, on purpose. What must hold for the whole platform is counted in the
/// database, so it holds however many API nodes serve: the SMS caps and the wrong-password
/// pauses. What protects one node's CPU and memory is that node's own: the request rates
/// (`auth_*`, token buckets in memory) and the password hashes running at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests one client address may send to the unauthenticated routes in a burst...
    pub auth_per_ip_burst: u32,
    /// ...and then per minute (429 with `Retry-After` beyond). Per node.
    pub auth_per_ip_per_minute: u32,
    /// Requests all clients together may send to those routes in a burst...
    pub auth_global_burst: u32,
    /// ...and then per minute. Per node.
    pub auth_global_per_minute: u32,
    /// Password hashes (argon2id, 19 MiB and tens of milliseconds each) that run at once
    /// in this process, on threads of their own.
    pub password_hashes: usize,
    /// Password logins that may wait for a hash besides those running; a login beyond
    /// that answers 503 with `Retry-After` at once, before any database work.
    pub password_hash_queue: usize,
    /// Wrong passwords for one mobile within 15 minutes, from all clients together, that
    /// pause its password login for everyone (each client is paused after 5 of its own).
    pub password_failures_per_mobile: u32,
    /// SMS codes one client address may ask for in an hour, over every tenant and
    /// provider sign-up together.
    pub sms_per_ip_per_hour: u32,
    /// SMS codes one mobile may receive in a day from every tenant together (each tenant
    /// also sends a mobile at most 10 a day, one a minute).
    pub sms_per_mobile_per_day: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            auth_per_ip_burst: 20,
            auth_per_ip_per_minute: 60,
            auth_global_burst: 200,
            auth_global_per_minute: 6000,
            password_hashes: 4,
            password_hash_queue: 16,
            password_failures_per_mobile: 50,
            sms_per_ip_per_hour: 30,
            sms_per_mobile_per_day: 20,
        }
    }
}

/// The job runner (SMS delivery, clean-ups): in `baoxiu serve`, in `baoxiu worker`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Whether `baoxiu serve` runs jobs too; false leaves them to `baoxiu worker` processes.
    pub in_process: bool,
    /// Jobs one process runs at once.
    pub workers: usize,
    /// How often an idle worker looks for due jobs, in milliseconds (jobs enqueued by the
    /// same process wake it at once).
    pub poll_interval_ms: u64,
    /// How long a worker holds a job it runs, in seconds: a run is cut off at its end, and
    /// a worker that dies leaves the job to the others once it has passed.
    pub lease_secs: i64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            in_process: true,
            workers: 2,
            poll_interval_ms: 1000,
            lease_secs: 60,
        }
    }
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let counts = [
            ("auth_per_ip_burst", self.auth_per_ip_burst),
            ("auth_per_ip_per_minute", self.auth_per_ip_per_minute),
            ("auth_global_burst", self.auth_global_burst),
            ("auth_global_per_minute", self.auth_global_per_minute),
            (
                "password_failures_per_mobile",
                self.password_failures_per_mobile,
            ),
            ("sms_per_ip_per_hour", self.sms_per_ip_per_hour),
            ("sms_per_mobile_per_day", self.sms_per_mobile_per_day),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::Invalid(format!(
                "limits.{name} must be at least 1"
            )));
        }
        if !(1..=256).contains(&self.password_hashes) {
            return Err(ConfigError::Invalid(
                "limits.password_hashes must be between 1 and 256".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainCheckProvider {
    /// Every custom host counts as verified (development mode only).
    Dev,
    /// The host must serve the request's token at `domain_check.url_template`.
    Http,
}

/// How a custom host is proven to be the tenant's before a platform operator approves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainCheckConfig {
    pub provider: DomainCheckProvider,
    /// Where the token is fetched; `{host}` is the host asked for.
    pub url_template: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

// Debug by hand: it never shows a secret (`redact`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub mode: Mode,
    /// Address to listen on, `host:port`.
    pub bind: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    pub database_pool_size: u32,
    /// HS256 key for access tokens; at least 32 bytes.
    pub jwt_secret: String,
    pub jwt_issuer: String,
    pub access_token_ttl_secs: i64,
    /// Tenants' sub-domains live under it: `slug.portal_domain`.
    pub portal_domain: String,
    /// Browser origins allowed besides the portal hosts (custom domains, an admin SPA):
    /// `["https://repair.example.com"]`, or `BAOXIU_CORS_ORIGINS='["https://..."]'`.
    pub cors_origins: Vec<String>,
    /// Proxies (addresses or CIDR ranges, `["10.0.0.0/8"]`) whose `X-Forwarded-For` is
    /// believed: a request from one of them is counted for the client it names (the
    /// rightmost address that is not itself a trusted proxy). Empty: the socket peer is the
    /// client and `X-Forwarded-For` is ignored. Set it to the load balancers' addresses.
    pub trusted_proxies: Vec<String>,
    pub limits: LimitsConfig,
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest uploaded file (a CSV import) accepted, in bytes.
    pub max_upload_bytes: usize,
    /// The directory of the local blob store (`baoxiu_store::blobs`): stored files such as
    /// attachments, under keys the server chooses. Every API node must see the same one.
    pub blob_dir: String,
    /// QR images (single images and exports) one process draws at once (default: half
    /// the CPU cores, at least one); a request beyond it answers 503 with `Retry-After`.
    pub render_concurrency: usize,
    /// Rows a CSV export reads per batch (one statement each): the most rows of an export
    /// held in memory at once (default 1000).
    pub export_batch_rows: usize,
    pub log_format: LogFormat,
    /// 64 hex characters: the key that seals WeChat app secrets at rest.
    pub secrets_key: String,
    pub sms: SmsConfig,
    pub wechat: WechatConfig,
    /// The company lookup of the `business_registry` new-account rule.
    pub business_registry: RegistryConfig,
    /// The ownership check of custom portal hosts.
    pub domain_check: DomainCheckConfig,
    pub jobs: JobsConfig,
}

/// What `Debug` shows of a secret: whether it is set, never its text.
fn redact(secret: Option<&str>) -> &'static str {
    match secret {
        Some(s) if !s.is_empty() => "[redacted]",
        _ => "[not set]",
    }
}

/// A URL with its password (`postgres://user:password@host`) redacted.
pub fn url_without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            let hidden = if user_info.contains(':') {
                ":[redacted]"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            provider,
            base_url,
            api_key,
        } = self;
        f.debug_struct("SmsConfig")
            .field("provider", provider)
            .field("base_url", &base_url.as_deref().map(url_without_password))
            .field("api_key", &redact(api_key.as_deref()))
            .finish()
    }
}

impl std::fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            provider,
            base_url,
            public_app_id,
            public_app_secret,
        } = self;
        f.debug_struct("WechatConfig")
            .field("provider", provider)
            .field("base_url", &url_without_password(base_url))
            .field("public_app_id", public_app_id)
            .field("public_app_secret", &redact(public_app_secret.as_deref()))
            .finish()
    }
}

impl std::fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            provider,
            base_url,
            api_key,
        } = self;
        f.debug_struct("RegistryConfig")
            .field("provider", provider)
            .field("base_url", &base_url.as_deref().map(url_without_password))
            .field("api_key", &redact(api_key.as_deref()))
            .finish()
    }
}

impl std::fmt::Debug for Config {
    // Every field named (no `..`): a new field must say here whether it is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            mode,
            bind,
            database_url,
            database_pool_size,
            jwt_secret,
            jwt_issuer,
            access_token_ttl_secs,
            portal_domain,
            cors_origins,
            trusted_proxies,
            limits,
            max_body_bytes,
            max_upload_bytes,
            render_concurrency,
            export_batch_rows,
            log_format,
            secrets_key,
            sms,
            wechat,
            business_registry,
            domain_check,
            jobs,
            blob_dir,
        } = self;
        f.debug_struct("Config")
            .field("mode", mode)
            .field("bind", bind)
            .field("database_url", &url_without_password(database_url))
            .field("database_pool_size", database_pool_size)
            .field("jwt_secret", &redact(Some(jwt_secret)))
            .field("jwt_issuer", jwt_issuer)
            .field("access_token_ttl_secs", access_token_ttl_secs)
            .field("portal_domain", portal_domain)
            .field("cors_origins", cors_origins)
            .field("trusted_proxies", trusted_proxies)
            .field("limits", limits)
            .field("max_body_bytes", max_body_bytes)
            .field("max_upload_bytes", max_upload_bytes)
            .field("render_concurrency", render_concurrency)
            .field("export_batch_rows", export_batch_rows)
            .field("log_format", log_format)
            .field("secrets_key", &redact(Some(secrets_key)))
            .field("sms", sms)
            .field("wechat", wechat)
            .field("business_registry", business_registry)
            .field("domain_check", domain_check)
            .field("jobs", jobs)
            .field("blob_dir", blob_dir)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/baoxiu.db".into(),
            database_pool_size: 8,
            jwt_secret: DEV_JWT_SECRET.into(),
            jwt_issuer: "baoxiu".into(),
            access_token_ttl_secs: 15 * 60,
            portal_domain: "baoxiu.localhost".into(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            limits: LimitsConfig::default(),
            max_body_bytes: 64 * 1024,
            max_upload_bytes: 16 * 1024 * 1024,
            blob_dir: "./data/blobs".into(),
            // Half the cores: the other half keeps answering requests while codes are drawn.
            render_concurrency: std::thread::available_parallelism()
                .map_or(1, |cores| (cores.get() / 2).max(1)),
            export_batch_rows: 1000,
            log_format: LogFormat::Text,
            secrets_key: DEV_SECRETS_KEY.into(),
            wechat: WechatConfig {
                provider: WechatProvider::Dev,
                base_url: "https://api.weixin.qq.com".into(),
                public_app_id: None,
                public_app_secret: None,
            },
            sms: SmsConfig {
                provider: SmsProvider::Dev,
                base_url: None,
                api_key: None,
            },
            business_registry: RegistryConfig {
                provider: RegistryProvider::Dev,
                base_url: None,
                api_key: None,
            },
            domain_check: DomainCheckConfig {
                provider: DomainCheckProvider::Dev,
                url_template: baoxiu_wechat::hosts::DEFAULT_URL_TEMPLATE.into(),
            },
            jobs: JobsConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, the TOML file (if it exists), `BAOXIU_*` and `DATABASE_URL`.
    /// Nested keys use a double underscore: `BAOXIU_SMS__PROVIDER=http`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            // A file named on purpose must be there: a typo must not start with defaults.
            Some(file) if !file.exists() => {
                return Err(ConfigError::Invalid(format!(
                    "the configuration file {} does not exist",
                    file.display()
                )));
            }
            Some(file) => figment = figment.merge(Toml::file(file)),
            None if Path::new("baoxiu.toml").exists() => {
                figment = figment.merge(Toml::file("baoxiu.toml"));
            }
            None => {}
        }
        figment = figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Env::prefixed("BAOXIU_").split("__"));
        let config: Config = figment.extract().map_err(Box::new)?;
        Ok(config)
    }

    /// Refuses settings that would be unsafe or cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.jwt_secret.len() < 32 {
            return invalid("jwt_secret must be at least 32 bytes");
        }
        if !(60..=3600).contains(&self.access_token_ttl_secs) {
            return invalid("access_token_ttl_secs must be between 60 and 3600");
        }
        if !(1..=64).contains(&self.render_concurrency) {
            return invalid("render_concurrency must be between 1 and 64");
        }
        if !(1..=10_000).contains(&self.export_batch_rows) {
            return invalid("export_batch_rows must be between 1 and 10000");
        }
        if baoxiu_accounts::wechat_apps::SecretsKey::from_hex(&self.secrets_key).is_none() {
            return invalid("secrets_key must be 64 hex characters (32 bytes)");
        }
        if self.wechat.public_app_id.is_some() != self.wechat.public_app_secret.is_some() {
            return invalid("wechat.public_app_id and wechat.public_app_secret go together");
        }
        if self.business_registry.provider == RegistryProvider::Http
            && self.business_registry.base_url.is_none()
        {
            return invalid(
                "business_registry.base_url is required with business_registry.provider = http",
            );
        }
        crate::proxies::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(ConfigError::Invalid)?;
        self.limits.validate()?;
        if !(1..=64).contains(&self.jobs.workers) {
            return invalid("jobs.workers must be between 1 and 64");
        }
        if !(10..=60_000).contains(&self.jobs.poll_interval_ms) {
            return invalid("jobs.poll_interval_ms must be between 10 and 60000");
        }
        if !(1..=3600).contains(&self.jobs.lease_secs) {
            return invalid("jobs.lease_secs must be between 1 and 3600");
        }
        if self.sms.provider == SmsProvider::Http && self.sms.base_url.is_none() {
            return invalid("sms.base_url is required with sms.provider = http");
        }
        if self.mode == Mode::Production {
            if self.jwt_secret == DEV_JWT_SECRET {
                return invalid("production needs its own jwt_secret (BAOXIU_JWT_SECRET)");
            }
            if self.sms.provider == SmsProvider::Dev {
                return invalid(
                    "production cannot use the development SMS fake (set sms.provider = http)",
                );
            }
            if self.wechat.provider == WechatProvider::Dev {
                return invalid(
                    "production cannot use the development WeChat fake (set wechat.provider = http)",
                );
            }
            if self.business_registry.provider == RegistryProvider::Dev {
                return invalid(
                    "production cannot use the development business registry (set business_registry.provider = http or none)",
                );
            }
            if self.domain_check.provider == DomainCheckProvider::Dev {
                return invalid(
                    "production cannot take custom hosts unchecked (set domain_check.provider = http)",
                );
            }
            if self.secrets_key == DEV_SECRETS_KEY {
                return invalid("production needs its own secrets_key (BAOXIU_SECRETS_KEY)");
            }
        }
        Ok(())
    }

    /// Refuses to serve development mode beyond this machine: its fakes let anyone in
    /// (`GET /api/v1/dev/sms` shows every login code, the WeChat fake takes any code), so
    /// it listens on loopback addresses only. Checked when the server starts.
    pub fn validate_bind(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Production {
            return Ok(());
        }
        let addresses: Vec<_> = self
            .bind
            .to_socket_addrs()
            .map_err(|e| ConfigError::Invalid(format!("bind {}: {e}", self.bind)))?
            .collect();
        if addresses.is_empty() || addresses.iter().any(|a| !a.ip().is_loopback()) {
            return Err(ConfigError::Invalid(format!(
                "development mode (the default when `mode` is not set) listens on loopback \
                 addresses only, such as 127.0.0.1:8080, because its SMS and WeChat fakes let \
                 anyone log in (GET /api/v1/dev/sms shows every login code); to serve on {}, \
                 set mode = \"production\" (BAOXIU_MODE=production) with the real SMS and \
                 WeChat providers",
                self.bind
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn debug_shows_no_secret() {
        let mut config = Config {
            jwt_secret: "jwt-secret-text-0123456789abcdef0123456789".into(),
            secrets_key: "ab".repeat(32),
            database_url: "postgres://baoxiu:db-password-text@db.internal:5432/baoxiu".into(),
            ..Config::default()
        };
        config.sms.api_key = Some("sms-key-text".into());
        config.sms.base_url = Some("https://gw:gw-password-text@sms.example.com/send".into());
        config.wechat.public_app_id = Some("wxpublic".into());
        config.wechat.public_app_secret = Some("wechat-secret-text".into());
        config.business_registry.api_key = Some("registry-key-text".into());
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            for secret in [
                "jwt-secret-text",
                &"ab".repeat(32),
                "db-password-text",
                "sms-key-text",
                "gw-password-text",
                "wechat-secret-text",
                "registry-key-text",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            // What is not secret still shows.
            assert!(
                shown.contains("postgres://baoxiu:[redacted]@db.internal:5432/baoxiu"),
                "{shown}"
            );
            assert!(shown.contains("wxpublic"), "{shown}");
            assert!(shown.contains("[redacted]"));
        }
    }

    use super::*;

    #[test]
    fn production_refuses_the_fakes_and_the_development_secret() {
        let mut config = Config {
            mode: Mode::Production,
            ..Config::default()
        };
        assert!(config.validate().is_err(), "development secret");
        config.jwt_secret = "a-production-secret-of-at-least-32-bytes!".into();
        assert!(config.validate().is_err(), "SMS fake");
        config.sms.provider = SmsProvider::Http;
        assert!(config.validate().is_err(), "no gateway URL");
        config.sms.base_url = Some("https://sms.example.com".into());
        assert!(config.validate().is_err(), "WeChat fake");
        config.wechat.provider = WechatProvider::Http;
        assert!(config.validate().is_err(), "development business registry");
        config.business_registry.provider = RegistryProvider::None;
        assert!(config.validate().is_err(), "development domain check");
        config.domain_check.provider = DomainCheckProvider::Http;
        assert!(config.validate().is_err(), "development secrets key");
        config.secrets_key = "ab".repeat(32);
        assert!(config.validate().is_ok());
        config.jwt_secret = "short".into();
        assert!(config.validate().is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail decides the closure's error type
    fn the_file_then_the_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "baoxiu.toml",
                "bind = \"0.0.0.0:9000\"\nportal_domain = \"file.example\"\n[sms]\nprovider = \"http\"\n",
            )?;
            jail.set_env("BAOXIU_PORTAL_DOMAIN", "env.example");
            jail.set_env("BAOXIU_SMS__BASE_URL", "https://sms.example");
            jail.set_env("DATABASE_URL", "postgres://db.example/baoxiu");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "0.0.0.0:9000", "from the file");
            assert_eq!(config.portal_domain, "env.example", "the environment wins");
            assert_eq!(config.sms.provider, SmsProvider::Http);
            assert_eq!(config.sms.base_url.as_deref(), Some("https://sms.example"));
            assert_eq!(config.database_url, "postgres://db.example/baoxiu");
            assert_eq!(config.mode, Mode::Development, "a default");

            jail.create_file("other.toml", "mode = \"production\"\n")?;
            let named = Config::load(Some(Path::new("other.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(named.mode, Mode::Production);
            assert_eq!(
                named.bind, "127.0.0.1:8080",
                "baoxiu.toml is not read beside a named file"
            );
            let missing = Config::load(Some(Path::new("typo.toml")));
            assert!(missing.is_err_and(|e| e.to_string().contains("typo.toml")));
            Ok(())
        });
    }

    #[test]
    fn development_defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
        assert!(Config::default().validate_bind().is_ok());
    }

    #[test]
    fn development_mode_serves_loopback_only() {
        let mut config = Config::default();
        for loopback in [
            "127.0.0.1:0",
            "[::1]:8080",
            "localhost:8080",
            "127.0.0.2:80",
        ] {
            config.bind = loopback.into();
            assert!(config.validate_bind().is_ok(), "{loopback}");
        }
        for public in ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080"] {
            config.bind = public.into();
            let refused = config.validate_bind().map_err(|e| e.to_string());
            assert!(
                refused.is_err_and(|e| e.contains("mode = \"production\"")),
                "{public}"
            );
        }
        config.mode = Mode::Production;
        assert!(config.validate_bind().is_ok());
    }
}
