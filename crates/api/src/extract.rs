//! The tenant guard: who is calling (from the bearer token) and which tenant a caller
//! without a token means (`X-Tenant`, then `Host`). With a token, the token's tenant,
//! always. Also: `If-Match`, the client address and the request id.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use baoxiu_accounts::staff::StaffRole;
use baoxiu_core::{Actor, ActorKind, DomainError, TenantId};
use futures_util::future::{LocalBoxFuture, Ready, ready};

use crate::problem::ApiError;
use crate::request::RequestId;
use crate::state::AppState;
use crate::tokens::{Claims, TokenKind};

fn state(req: &HttpRequest) -> Result<AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|data| data.get_ref().clone())
        .ok_or_else(|| DomainError::Internal("application state missing".into()).into())
}

fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

fn bearer(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    Some(token.ok_or_else(|| {
        DomainError::Unauthenticated("the Authorization header must be `Bearer <token>`").into()
    }))
}

/// Verifies the token and that its session is still live (logout and reuse detection
/// take effect at once, not when the access token expires).
async fn verified_claims(state: &AppState, token: &str) -> Result<Claims, ApiError> {
    let claims = state.tokens.verify(token)?;
    if let Some(session_id) = claims.sid.clone() {
        let tenant_id = TenantId(claims.tid.clone());
        let live = state
            .read(move |conn| baoxiu_accounts::sessions::is_live(conn, &tenant_id, &session_id))
            .await?;
        if !live {
            return Err(DomainError::Unauthenticated("the session has ended; log in again").into());
        }
    }
    Ok(claims)
}

/// Any authenticated caller of a tenant: staff, terminal user or guest.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub kind: TokenKind,
    pub subject: String,
    pub roles: Vec<String>,
    pub session_id: Option<String>,
    pub request_id: String,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            tenant_id: self.tenant_id.clone(),
            kind: match self.kind {
                TokenKind::Staff => ActorKind::Staff,
                TokenKind::Terminal => ActorKind::Terminal,
                TokenKind::Guest => ActorKind::Guest,
                TokenKind::Platform => ActorKind::Platform,
            },
            id: self.subject.clone(),
            request_id: Some(self.request_id.clone()),
        }
    }

    pub fn staff_role(&self) -> Option<StaffRole> {
        (self.kind == TokenKind::Staff)
            .then(|| self.roles.first().and_then(|r| StaffRole::parse(r)))
            .flatten()
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer(req);
        let request_id = request_id(req);
        Box::pin(async move {
            let state = state?;
            let token =
                token.ok_or(DomainError::Unauthenticated("a bearer token is required"))??;
            let claims = verified_claims(&state, &token).await?;
            if claims.kind == TokenKind::Platform {
                return Err(
                    DomainError::Forbidden("platform operators use the /platform routes").into(),
                );
            }
            Ok(Caller {
                tenant_id: TenantId(claims.tid),
                kind: claims.kind,
                subject: claims.sub,
                roles: claims.roles,
                session_id: claims.sid,
                request_id,
            })
        })
    }
}

/// A staff user of the tenant (any role). Terminal callers get 403.
#[derive(Debug, Clone)]
pub struct StaffCaller {
    pub caller: Caller,
    pub role: StaffRole,
}

impl StaffCaller {
    pub fn tenant_id(&self) -> &TenantId {
        &self.caller.tenant_id
    }

    pub fn actor(&self) -> Actor {
        self.caller.actor()
    }
}

impl FromRequest for StaffCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            let role = caller.staff_role().ok_or(DomainError::Forbidden(
                "this route is for the provider's staff",
            ))?;
            Ok(StaffCaller { caller, role })
        })
    }
}

/// A staff admin of the tenant. Other staff and terminal callers get 403.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub StaffCaller);

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let staff = StaffCaller::from_request(req, payload);
        Box::pin(async move {
            let staff = staff.await?;
            if staff.role != StaffRole::Admin {
                return Err(
                    DomainError::Forbidden("this route is for the provider's admins").into(),
                );
            }
            Ok(AdminCaller(staff))
        })
    }
}

/// A platform operator (tokens minted with `baoxiu platform-token`).
#[derive(Debug, Clone)]
pub struct PlatformCaller {
    pub operator: String,
    pub request_id: String,
}

impl FromRequest for PlatformCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer(req);
        let request_id = request_id(req);
        Box::pin(async move {
            let state = state?;
            let token =
                token.ok_or(DomainError::Unauthenticated("a bearer token is required"))??;
            let claims = verified_claims(&state, &token).await?;
            if claims.kind != TokenKind::Platform {
                return Err(DomainError::Forbidden("this route is for platform operators").into());
            }
            Ok(PlatformCaller {
                operator: claims.sub,
                request_id,
            })
        })
    }
}

/// The tenant a request is about: the token's tenant when there is a token, else the
/// `X-Tenant` header (a slug), else an approved portal host. Unknown tenants answer 404.
#[derive(Debug, Clone)]
pub struct TenantScope {
    pub tenant_id: TenantId,
    pub request_id: String,
    pub client_ip: String,
}

pub const TENANT_HEADER: &str = "x-tenant";

impl FromRequest for TenantScope {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer(req);
        let request_id = request_id(req);
        let client_ip = client_ip(req);
        let slug = req
            .headers()
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty());
        let host = req
            .connection_info()
            .host()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Box::pin(async move {
            let state = state?;
            let portal_domain = state.config.portal_domain.clone();
            if let Some(token) = token {
                let claims = verified_claims(&state, &token?).await?;
                if claims.kind != TokenKind::Platform {
                    return Ok(TenantScope {
                        tenant_id: TenantId(claims.tid),
                        request_id,
                        client_ip,
                    });
                }
            }
            let tenant_id = state
                .read(move |conn| {
                    if let Some(slug) = slug {
                        return baoxiu_accounts::tenants::find_by_slug(conn, &slug)?
                            .map(|t| t.tenant_id())
                            .ok_or(DomainError::NotFound("tenant"));
                    }
                    if let Some(tenant) = baoxiu_accounts::domains::tenant_for_host(conn, &host)? {
                        return Ok(tenant);
                    }
                    // Every tenant's own sub-domain of the portal domain names it.
                    match host.strip_suffix(&format!(".{portal_domain}")) {
                        Some(slug) if !slug.contains('.') => {
                            baoxiu_accounts::tenants::find_by_slug(conn, slug)?
                                .map(|t| t.tenant_id())
                                .ok_or(DomainError::NotFound("tenant"))
                        }
                        _ => Err(DomainError::TenantRequired),
                    }
                })
                .await?;
            Ok(TenantScope {
                tenant_id,
                request_id,
                client_ip,
            })
        })
    }
}

/// The peer address. Forwarded headers are not trusted: a client could set them.
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client address and request id, for routes that need them without a tenant.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub request_id: String,
}

impl FromRequest for ClientInfo {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientInfo {
            ip: client_ip(req),
            request_id: request_id(req),
        }))
    }
}

/// The version an `If-Match` header names: absent or `*` means "any".
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get(header::IF_MATCH).map(|v| v.to_str()) {
            None => Ok(IfMatch(None)),
            Some(Ok(v)) if v.trim() == "*" => Ok(IfMatch(None)),
            Some(Ok(v)) => {
                let inner = v.trim().trim_start_matches("W/").trim_matches('"');
                // A tag we never issued can never match.
                Ok(IfMatch(Some(inner.parse().unwrap_or(-1))))
            }
            Some(Err(_)) => Err(ApiError::malformed("the If-Match header is not readable")),
        };
        ready(parsed)
    }
}

/// The ETag of an object at `version`.
pub fn etag(version: i32) -> header::EntityTag {
    header::EntityTag::new_strong(version.to_string())
}
