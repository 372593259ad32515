//! The domain error: one enum with stable slugs, mapped to problem+json once, in the API.

use serde::Serialize;

pub type DomainResult<T> = Result<T, DomainError>;

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as named in the request (`mobile`, `staff.0.role`).
    pub field: String,
    /// A stable code (`required`, `too_short`, `invalid`, `taken`, ...).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The request is well-formed but its content is wrong; every bad field at once.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Missing, malformed, expired or revoked credentials.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// Mobile/password or mobile/code do not match. Same answer whatever the cause.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A refresh token was presented twice: its whole family is now revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// Authenticated, but this kind of caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such object for this caller (also: it belongs to someone else).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The object exists in a state that does not allow this.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The object is still referred to (the message names by what): remove the references
    /// first, or retire the object where that exists.
    #[error("in use: {0}")]
    InUse(String),
    /// The tenant's trial or subscription has ended: read-only.
    #[error("tenant inactive")]
    TenantInactive,
    /// The request needs a tenant and none was named (X-Tenant or Host).
    #[error("tenant required")]
    TenantRequired,
    /// The caller must complete registration first.
    #[error("registration required: {0}")]
    RegistrationRequired(&'static str),
    /// No self-registration applies and the caller was not activated by the provider.
    #[error("not activated")]
    NotActivated,
    /// The provider turned guest access off.
    #[error("guest access disabled")]
    GuestDisabled,
    /// Every terminal-user seat (license) is taken.
    #[error("seats exhausted: {0}")]
    SeatsExhausted(String),
    /// `If-Match` named an older version.
    #[error("precondition failed")]
    PreconditionFailed,
    /// Too many attempts; try again after the given number of seconds.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// A database or other internal failure; its cause is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// One-field validation error.
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// The stable slug used as the problem `type` and `code`.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation-failed",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::InvalidCredentials => "invalid-credentials",
            Self::RefreshTokenReused => "refresh-token-reused",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Conflict(_) => "conflict",
            Self::InUse(_) => "in-use",
            Self::TenantInactive => "tenant-inactive",
            Self::TenantRequired => "tenant-required",
            Self::RegistrationRequired(_) => "registration-required",
            Self::NotActivated => "not-activated",
            Self::GuestDisabled => "guest-disabled",
            Self::SeatsExhausted(_) => "seats-exhausted",
            Self::PreconditionFailed => "precondition-failed",
            Self::RateLimited { .. } => "rate-limited",
            Self::Internal(_) => "internal",
        }
    }
}

/// Collects field errors so a request answers all of them at once.
#[derive(Debug, Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, code: &str, message: &str) -> &mut Self {
        if !ok {
            self.0.push(FieldError::new(field, code, message));
        }
        self
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    pub fn finish(self) -> DomainResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self.0))
        }
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => Self::NotFound("object"),
            other => Self::Internal(other.to_string()),
        }
    }
}
