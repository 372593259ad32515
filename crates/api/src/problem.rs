//! The one error type of the API and its problem+json (RFC 9457) rendering. Every error,
//! including actix's own extractor errors and unknown routes, leaves through here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use baoxiu_core::{DomainError, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable slug of the kind of problem (`validation-failed`, `not-found`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Same as `type`; kept for clients that switch on a code.
    pub code: String,
    /// Every bad field, on 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The id of the request, as in the `X-Request-Id` header and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An error answer: status, slug, words, and what to add to the response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Option<Vec<FieldError>>,
    retry_after: Option<u64>,
    /// The methods the path has, for 405 (boxed: the error stays small).
    allow: Option<Box<str>>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: None,
            retry_after: None,
            allow: None,
        }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        DomainError::Validation(errors).into()
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// Tells the caller when to try again (`Retry-After`, in seconds).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such route",
        )
    }

    pub fn method_not_allowed(allowed: &[actix_web::http::Method]) -> Self {
        let allow = allowed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            allow: Some(allow.clone().into_boxed_str()),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("this path answers {allow}"),
            )
        }
    }

    pub fn slug(&self) -> &'static str {
        self.slug
    }

    fn problem(&self) -> Problem {
        Problem {
            type_: self.slug.to_owned(),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: None,
            code: self.slug.to_owned(),
            errors: self.errors.clone(),
            request_id: None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.slug, self.status, self.detail)
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        use StatusCode as S;
        let slug = error.slug();
        let (status, title, detail) = match &error {
            DomainError::Validation(_) => (
                S::UNPROCESSABLE_ENTITY,
                "Validation failed",
                "some fields are not valid: see errors".to_owned(),
            ),
            DomainError::Unauthenticated(why) => {
                (S::UNAUTHORIZED, "Unauthenticated", (*why).to_owned())
            }
            DomainError::InvalidCredentials => (
                S::UNAUTHORIZED,
                "Invalid credentials",
                "the mobile and password or code do not match".to_owned(),
            ),
            DomainError::RefreshTokenReused => (
                S::UNAUTHORIZED,
                "Refresh token reused",
                "this refresh token was already used; the session is revoked, log in again"
                    .to_owned(),
            ),
            DomainError::Forbidden(why) => (S::FORBIDDEN, "Forbidden", (*why).to_owned()),
            DomainError::NotFound(what) => (S::NOT_FOUND, "Not found", format!("no such {what}")),
            DomainError::Conflict(why) => (S::CONFLICT, "Conflict", why.clone()),
            DomainError::InUse(why) => (S::CONFLICT, "In use", why.clone()),
            DomainError::TenantInactive => (
                S::FORBIDDEN,
                "Tenant inactive",
                "the provider's trial or subscription has ended; data is read-only".to_owned(),
            ),
            DomainError::TenantRequired => (
                S::BAD_REQUEST,
                "Tenant required",
                "name the tenant with the X-Tenant header (its slug) or use its portal host"
                    .to_owned(),
            ),
            DomainError::RegistrationRequired(why) => (S::FORBIDDEN, "Registration required", (*why).to_owned()),
            DomainError::NotActivated => (
                S::FORBIDDEN,
                "Not activated",
                "this identity has not been activated by the provider; ask them to activate your account".to_owned(),
            ),
            DomainError::GuestDisabled => (S::FORBIDDEN, "Guest access disabled", "the provider does not allow guest access".to_owned()),
            DomainError::SeatsExhausted(why) => (S::CONFLICT, "Seats exhausted", why.clone()),
            DomainError::PreconditionFailed => (
                S::PRECONDITION_FAILED,
                "Precondition failed",
                "the object changed since it was read (If-Match); read it again".to_owned(),
            ),
            DomainError::RateLimited { retry_after_secs } => (
                S::TOO_MANY_REQUESTS,
                "Too many requests",
                format!("try again in {retry_after_secs} seconds"),
            ),
            DomainError::Internal(cause) => {
                // The cause goes to the log (with the request id), never to the caller.
                tracing::error!(%cause, "internal error");
                (
                    S::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "something went wrong on our side".to_owned(),
                )
            }
        };
        Self {
            status,
            slug,
            title,
            detail,
            retry_after: match &error {
                DomainError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
                _ => None,
            },
            errors: match error {
                DomainError::Validation(errors) => Some(errors),
                _ => None,
            },
            allow: None,
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        DomainError::Internal(format!("blocking task failed: {error}")).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let mut response = HttpResponse::build(self.status);
        response.content_type(PROBLEM_JSON);
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        let mut response = response.json(&problem);
        // The request middleware adds the request id and path to the body on the way out.
        response.extensions_mut().insert(problem);
        response
    }
}
