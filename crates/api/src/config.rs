//! Configuration: defaults, then a TOML file, then `BAOXIU_*` environment variables (and
//! `DATABASE_URL`), then command-line flags. One typed value, passed in; never a global.

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
    /// Built-in fakes for SMS (and WeChat), a development route that shows sent codes.
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

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub provider: RegistryProvider,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest uploaded file (a CSV import) accepted, in bytes.
    pub max_upload_bytes: usize,
    /// QR images (single images and exports) one process draws at once (default: half
    /// the CPU cores, at least one); a request beyond it answers 503 with `Retry-After`.
    pub render_concurrency: usize,
    pub log_format: LogFormat,
    /// 64 hex characters: the key that seals WeChat app secrets at rest.
    pub secrets_key: String,
    pub sms: SmsConfig,
    pub wechat: WechatConfig,
    /// The company lookup of the `business_registry` new-account rule.
    pub business_registry: RegistryConfig,
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
            max_body_bytes: 64 * 1024,
            max_upload_bytes: 16 * 1024 * 1024,
            // Half the cores: the other half keeps answering requests while codes are drawn.
            render_concurrency: std::thread::available_parallelism()
                .map_or(1, |cores| (cores.get() / 2).max(1)),
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
            if self.secrets_key == DEV_SECRETS_KEY {
                return invalid("production needs its own secrets_key (BAOXIU_SECRETS_KEY)");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
    }
}
