//! Cross-origin access for browser front ends (H5 portals, the admin SPA). Restrictive:
//! only the tenants' portal hosts (`https://{label}.{portal_domain}`, and the portal
//! domain itself) and the origins listed in `cors_origins` (custom domains, an admin SPA
//! elsewhere); plain `http` and `localhost` dev servers only in development mode. Tokens
//! travel in the `Authorization` header, never in cookies, so credentials are not allowed.
//! A request from any other origin is served without CORS headers: the browser keeps the
//! answer from the page; its preflight answers 403 problem+json.

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{
    Method,
    header::{self, HeaderName},
};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use baoxiu_core::DomainError;

use crate::config::{Config, Mode};
use crate::extract::TENANT_HEADER;
use crate::problem::ApiError;
use crate::request::REQUEST_ID_HEADER;
use crate::state::AppState;

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 3600;

/// The origins a configuration admits.
#[derive(Debug, Clone)]
pub struct AllowedOrigins {
    portal_domain: String,
    listed: Vec<String>,
    development: bool,
}

impl AllowedOrigins {
    pub fn new(config: &Config) -> Self {
        Self {
            portal_domain: config.portal_domain.to_ascii_lowercase(),
            listed: config
                .cors_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            development: config.mode == Mode::Development,
        }
    }

    pub fn admits(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        if self.listed.contains(&origin) {
            return true;
        }
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        let scheme_allowed = scheme == "https" || (self.development && scheme == "http");
        if !scheme_allowed {
            return false;
        }
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        };
        if self.development && host == "localhost" {
            return true;
        }
        host == self.portal_domain
            || host
                .strip_suffix(&self.portal_domain)
                .and_then(|label| label.strip_suffix('.'))
                .is_some_and(|label| {
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
    }
}

/// Answers the preflight of an origin that is not admitted with a problem (actix-cors
/// would answer it in plain text); wraps `middleware`.
pub async fn refuse_foreign_preflight(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or_default().to_owned());
    let admitted = |origin: &str| {
        req.app_data::<web::Data<AppState>>()
            .is_some_and(|state| AllowedOrigins::new(&state.config).admits(origin))
    };
    if let Some(origin) = origin.filter(|o| is_preflight && !admitted(o)) {
        tracing::info!(%origin, "preflight from an origin that is not allowed");
        let refusal = ApiError::from(DomainError::Forbidden(
            "this origin may not call the API from a browser",
        ));
        return Ok(req.into_response(refusal.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The CORS middleware for one worker.
pub fn middleware(origins: AllowedOrigins) -> Cors {
    Cors::default()
        .allowed_origin_fn(move |origin, _| origin.to_str().is_ok_and(|o| origins.admits(o)))
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::ACCEPT,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static(TENANT_HEADER),
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID_HEADER,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            REQUEST_ID_HEADER,
        ])
        .max_age(PREFLIGHT_MAX_AGE)
        .block_on_origin_mismatch(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(mode: Mode, listed: &[&str]) -> AllowedOrigins {
        AllowedOrigins::new(&Config {
            mode,
            portal_domain: "baoxiu.example".into(),
            cors_origins: listed.iter().map(|o| (*o).to_owned()).collect(),
            ..Config::default()
        })
    }

    #[test]
    fn portal_hosts_and_listed_origins_only() {
        let production = origins(Mode::Production, &["https://repair.acme.com/"]);
        for admitted in [
            "https://acme.baoxiu.example",
            "https://ACME.baoxiu.example:8443",
            "https://baoxiu.example",
            "https://repair.acme.com",
        ] {
            assert!(production.admits(admitted), "{admitted}");
        }
        for refused in [
            "http://acme.baoxiu.example",
            "https://evil.example",
            "https://acme.baoxiu.example.evil.example",
            "https://evilbaoxiu.example",
            "https://a.b.baoxiu.example",
            "http://localhost:5173",
            "null",
        ] {
            assert!(!production.admits(refused), "{refused}");
        }
        let development = origins(Mode::Development, &[]);
        assert!(development.admits("http://localhost:5173"));
        assert!(development.admits("http://acme.baoxiu.example"));
        assert!(!development.admits("http://evil.example"));
    }
}
