//! Request rates on the unauthenticated routes (`/api/v1/auth/...`, provider sign-up and
//! its SMS code): each client address has a token bucket, and all clients together have
//! one, so a flood is answered 429 with `Retry-After` before it costs a database read or a
//! password hash. They protect this node's CPU and memory, so they live in its memory
//! (governor's GCRA buckets): what must hold for the whole platform, the SMS caps and the
//! wrong-password pauses, is counted in the database instead.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use baoxiu_core::DomainError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::problem::ApiError;
use crate::state::AppState;

/// Buckets older than their refill are dropped every this many checks, so a flood from
/// many addresses does not keep one bucket each for ever.
const FORGET_EVERY: u64 = 4096;

pub struct AuthLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    everyone: DefaultDirectRateLimiter,
    checks: AtomicU64,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

impl AuthLimits {
    pub fn new(limits: &LimitsConfig) -> Self {
        Self {
            per_client: RateLimiter::keyed(quota(
                limits.auth_per_ip_per_minute,
                limits.auth_per_ip_burst,
            )),
            everyone: RateLimiter::direct(quota(
                limits.auth_global_per_minute,
                limits.auth_global_burst,
            )),
            checks: AtomicU64::new(0),
        }
    }

    /// Admits one request from `client`, or says in how many seconds it would be. The
    /// client's bucket first: a client refused on its own does not use up everyone's.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.per_client.retain_recent();
            self.per_client.shrink_to_fit();
        }
        let now = DefaultClock::default().now();
        // Rounded up: a client that waits that long is admitted.
        let seconds = |wait: std::time::Duration| {
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        };
        self.per_client
            .check_key(&client)
            .map_err(|not_until| seconds(not_until.wait_time_from(now)))?;
        self.everyone
            .check()
            .map_err(|not_until| seconds(not_until.wait_time_from(now)))
    }
}

/// The routes a caller without a token uses to get one (or an SMS code).
fn is_limited(method: &Method, path: &str) -> bool {
    *method != Method::OPTIONS
        && (path.starts_with("/api/v1/auth/")
            || path == "/api/v1/providers"
            || path == "/api/v1/providers/sms-code")
}

/// Middleware: 429 `rate-limited` with `Retry-After` for a request to a limited route
/// beyond its client's or everyone's rate.
pub async fn limit_unauthenticated_routes<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if is_limited(req.method(), req.path())
        && let Some(state) = req.app_data::<web::Data<AppState>>()
    {
        let client = crate::proxies::client_address(req.request())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if let Err(retry_after_secs) = state.auth_limits.check(client) {
            let refused = ApiError::from(DomainError::RateLimited { retry_after_secs });
            let response = refused.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_then_everyone() {
        let limits = AuthLimits::new(&LimitsConfig {
            auth_per_ip_burst: 2,
            auth_per_ip_per_minute: 1,
            auth_global_burst: 3,
            auth_global_per_minute: 1,
            ..LimitsConfig::default()
        });
        let (a, b, c) = (
            IpAddr::from([192, 0, 2, 1]),
            IpAddr::from([192, 0, 2, 2]),
            IpAddr::from([192, 0, 2, 3]),
        );
        assert!(limits.check(a).is_ok() && limits.check(a).is_ok());
        assert!(limits.check(a).is_err_and(|wait| (1..=60).contains(&wait)));
        assert!(limits.check(b).is_ok());
        assert!(limits.check(c).is_err(), "everyone's three are used");
        assert!(is_limited(&Method::POST, "/api/v1/auth/staff/login"));
        assert!(is_limited(&Method::POST, "/api/v1/providers"));
        assert!(!is_limited(&Method::OPTIONS, "/api/v1/auth/staff/login"));
        assert!(!is_limited(&Method::GET, "/api/v1/provider"));
    }
}
