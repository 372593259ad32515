//! The tenant guard: who is calling (from the bearer token) and which tenant a caller
//! without a token means (`X-Tenant`, then `Host`). With a token, the token's tenant,
//! always. Also: `If-Match`, the client address and the request id.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use baoxiu_accounts::staff::StaffRole;
use baoxiu_core::{Actor, ActorKind, DomainError, DomainResult, TenantId};
use baoxiu_store::DbConn;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The session of verified claims is still live (logout and reuse detection take effect at
/// once, not when the access token expires).
async fn ensure_live(state: &AppState, claims: &Claims) -> Result<(), ApiError> {
    if let Some(session_id) = claims.sid.clone() {
        let tenant_id = TenantId(claims.tid.clone());
        let live = state
            .read(&crate::state::Nobody, move |tx| {
                baoxiu_accounts::sessions::is_live(tx.conn, &tenant_id, &session_id)
            })
            .await?;
        if !live {
            return Err(DomainError::Unauthenticated("the session has ended; log in again").into());
        }
    }
    Ok(())
}

/// A caller's session, checked against the database with the request's first unit of work
/// (`AppState` runs it on the unit's connection before the unit begins) rather than in a
/// trip of its own; once per request, however many units the request runs. Staff callers
/// carry one: a handler that reaches the database some other way, or acts outside before
/// its first unit (asks WeChat), calls `AppState::check_session` first.
#[derive(Debug, Clone, Default)]
pub struct SessionCheck(Option<Arc<PendingSession>>);

#[derive(Debug)]
struct PendingSession {
    tenant_id: TenantId,
    session_id: String,
    live: AtomicBool,
}

impl SessionCheck {
    fn of(caller: &Caller) -> Self {
        Self(caller.session_id.clone().map(|session_id| {
            Arc::new(PendingSession {
                tenant_id: caller.tenant_id.clone(),
                session_id,
                live: AtomicBool::new(false),
            })
        }))
    }

    /// Fails with `unauthenticated` once the session has ended; a session found live is
    /// not asked about again in this request.
    pub fn verify(&self, conn: &mut DbConn) -> DomainResult<()> {
        let Some(pending) = &self.0 else {
            return Ok(());
        };
        if pending.live.load(Ordering::Acquire) {
            return Ok(());
        }
        if !baoxiu_accounts::sessions::is_live(conn, &pending.tenant_id, &pending.session_id)? {
            return Err(DomainError::Unauthenticated(
                "the session has ended; log in again",
            ));
        }
        pending.live.store(true, Ordering::Release);
        Ok(())
    }
}

/// Who a route admits, judged from the verified token alone.
type Admit = fn(&Claims) -> Result<(), DomainError>;

/// The one guard behind every caller extractor: verifies the token and asks `admit` whether
/// this kind of caller may use the route, both before the first await. Actix polls a
/// handler's extractors together and the first error wins, so a caller the route refuses
/// gets 401/403 before its body is validated, and learns nothing from a 422. Then the
/// session is checked in the database.
fn authenticate(
    req: &HttpRequest,
    admit: Admit,
) -> LocalBoxFuture<'static, Result<Caller, ApiError>> {
    authenticate_then(req, admit, true)
}

/// `authenticate`, checking the session in the database only when `check_session` (else
/// the principal's first statement checks it: `AppState::read_as`).
fn authenticate_then(
    req: &HttpRequest,
    admit: Admit,
    check_session: bool,
) -> LocalBoxFuture<'static, Result<Caller, ApiError>> {
    let request_id = request_id(req);
    let checked = state(req).and_then(|state| {
        let token =
            bearer(req).ok_or(DomainError::Unauthenticated("a bearer token is required"))??;
        let claims = state.tokens.verify(&token)?;
        admit(&claims)?;
        Ok((state, claims))
    });
    Box::pin(async move {
        let (state, claims) = checked?;
        if check_session {
            ensure_live(&state, &claims).await?;
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

fn staff_role_of(kind: TokenKind, roles: &[String]) -> Option<StaffRole> {
    (kind == TokenKind::Staff)
        .then(|| roles.first().and_then(|r| StaffRole::parse(r)))
        .flatten()
}

fn admit_tenant_callers(claims: &Claims) -> Result<(), DomainError> {
    match claims.kind {
        TokenKind::Platform => Err(DomainError::Forbidden(
            "platform operators use the /platform routes",
        )),
        _ => Ok(()),
    }
}

fn admit_staff(claims: &Claims) -> Result<(), DomainError> {
    staff_role_of(claims.kind, &claims.roles)
        .map(|_| ())
        .ok_or(DomainError::Forbidden(
            "this route is for the provider's staff",
        ))
}

fn admit_admins(claims: &Claims) -> Result<(), DomainError> {
    admit_staff(claims)?;
    match staff_role_of(claims.kind, &claims.roles) {
        Some(StaffRole::Admin) => Ok(()),
        _ => Err(DomainError::Forbidden(
            "this route is for the provider's admins",
        )),
    }
}

fn admit_terminal_and_guest(claims: &Claims) -> Result<(), DomainError> {
    match claims.kind {
        TokenKind::Terminal | TokenKind::Guest => Ok(()),
        TokenKind::Staff => Err(DomainError::Forbidden(
            "this route is for terminal users; staff use the /admin routes",
        )),
        TokenKind::Platform => admit_tenant_callers(claims),
    }
}

fn admit_registrants(claims: &Claims) -> Result<(), DomainError> {
    match claims.kind {
        TokenKind::Terminal => Ok(()),
        _ => Err(DomainError::Forbidden(
            "only a logged-in terminal user (not the guest, not staff) can register",
        )),
    }
}

fn admit_platform(claims: &Claims) -> Result<(), DomainError> {
    match claims.kind {
        TokenKind::Platform => Ok(()),
        _ => Err(DomainError::Forbidden(
            "this route is for platform operators",
        )),
    }
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
        staff_role_of(self.kind, &self.roles)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(req, admit_tenant_callers)
    }
}

impl Caller {
    /// The caller its verified token names, without asking the database whether its
    /// session is live: for what runs before the route (the idempotency middleware),
    /// whose route then checks the session itself. `None` without a valid token.
    pub fn from_token(req: &HttpRequest) -> Option<Caller> {
        let state = state(req).ok()?;
        let token = bearer(req)?.ok()?;
        let claims = state.tokens.verify(&token).ok()?;
        admit_tenant_callers(&claims).ok()?;
        Some(Caller {
            tenant_id: TenantId(claims.tid),
            kind: claims.kind,
            subject: claims.sub,
            roles: claims.roles,
            session_id: claims.sid,
            request_id: request_id(req),
        })
    }
}

/// A `Caller` newtype for routes that admit only what `admit` allows.
macro_rules! admitted_caller {
    ($(#[$doc:meta])* $name:ident, $admit:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let caller = authenticate(req, $admit);
                Box::pin(async move { Ok($name(caller.await?)) })
            }
        }
    };
}

/// A caller whose token is verified and admitted, and who is resolved (session, identity,
/// access) with the request's own data: `AppState::read_as` gives the handler the
/// `Principal`, in its statements. The caller is reachable only that way.
macro_rules! principal_caller {
    ($(#[$doc:meta])* $name:ident, $admit:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(Caller);

        impl $name {
            /// What the token says; the session is not checked yet (`AppState::read_as`).
            pub(crate) fn unresolved(&self) -> &Caller {
                &self.0
            }
        }

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let caller = authenticate_then(req, $admit, false);
                Box::pin(async move { Ok($name(caller.await?)) })
            }
        }
    };
}

principal_caller!(
    /// A terminal user or the guest (staff get 403: they have the /admin routes), resolved
    /// into a `Principal` with the request's data.
    TerminalCaller,
    admit_terminal_and_guest
);

principal_caller!(
    /// Any caller of a tenant (staff, terminal user or guest), resolved into a `Principal`
    /// with the request's data.
    PrincipalCaller,
    admit_tenant_callers
);

admitted_caller!(
    /// A terminal user who may register: not the guest, not staff.
    RegistrantCaller,
    admit_registrants
);

/// A staff user of the tenant (any role). Terminal callers get 403. The session is checked
/// with the request's first unit of work (`SessionCheck`).
#[derive(Debug, Clone)]
pub struct StaffCaller {
    pub caller: Caller,
    pub role: StaffRole,
    pub(crate) session: SessionCheck,
}

impl StaffCaller {
    pub fn tenant_id(&self) -> &TenantId {
        &self.caller.tenant_id
    }

    pub fn actor(&self) -> Actor {
        self.caller.actor()
    }

    fn guarded(req: &HttpRequest, admit: Admit) -> LocalBoxFuture<'static, Result<Self, ApiError>> {
        let caller = authenticate_then(req, admit, false);
        Box::pin(async move {
            let caller = caller.await?;
            let role = caller.staff_role().ok_or(DomainError::Forbidden(
                "this route is for the provider's staff",
            ))?;
            let session = SessionCheck::of(&caller);
            Ok(StaffCaller {
                caller,
                role,
                session,
            })
        })
    }
}

impl FromRequest for StaffCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        StaffCaller::guarded(req, admit_staff)
    }
}

/// A staff admin of the tenant. Other staff and terminal callers get 403.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub StaffCaller);

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let staff = StaffCaller::guarded(req, admit_admins);
        Box::pin(async move { Ok(AdminCaller(staff.await?)) })
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
        let caller = authenticate(req, admit_platform);
        Box::pin(async move {
            let caller = caller.await?;
            Ok(PlatformCaller {
                operator: caller.subject,
                request_id: caller.request_id,
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
        let host = request_host(req);
        Box::pin(async move {
            let state = state?;
            let portal_domain = state.config.portal_domain.clone();
            if let Some(token) = token {
                let claims = state.tokens.verify(&token?)?;
                ensure_live(&state, &claims).await?;
                if claims.kind != TokenKind::Platform {
                    return Ok(TenantScope {
                        tenant_id: TenantId(claims.tid),
                        request_id,
                        client_ip,
                    });
                }
            }
            let tenant_id = state
                .read(&crate::state::Nobody, move |tx| {
                    if let Some(slug) = slug {
                        return baoxiu_accounts::tenants::find_by_slug(tx.conn, &slug)?
                            .map(|t| t.tenant_id())
                            .ok_or(DomainError::NotFound("tenant"));
                    }
                    tenant_of_host(tx.conn, &host, &portal_domain)?
                        .ok_or(DomainError::TenantRequired)
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

/// The host a request was sent to, lower case, without a port.
pub fn request_host(req: &HttpRequest) -> String {
    req.connection_info()
        .host()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The tenant a host names: an approved domain, or a tenant's own sub-domain of the portal
/// domain (not-found when no tenant has that slug); `None` for any other host.
pub fn tenant_of_host(
    conn: &mut baoxiu_store::DbConn,
    host: &str,
    portal_domain: &str,
) -> DomainResult<Option<TenantId>> {
    if let Some(tenant) = baoxiu_accounts::domains::tenant_for_host(conn, host)? {
        return Ok(Some(tenant));
    }
    match host.strip_suffix(&format!(".{portal_domain}")) {
        Some(slug) if !slug.contains('.') => baoxiu_accounts::tenants::find_by_slug(conn, slug)?
            .map(|t| Some(t.tenant_id()))
            .ok_or(DomainError::NotFound("tenant")),
        _ => Ok(None),
    }
}

/// The client's address: the peer, or the client a trusted proxy names
/// (`crate::proxies`). Other forwarded headers are not believed: a client could set them.
pub fn client_ip(req: &HttpRequest) -> String {
    crate::proxies::client_address(req)
        .map(|a| a.to_string())
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

/// An answer of a versioned object: `body` as JSON, with the object's `version` as `ETag`
/// (what a later `If-Match` sends back).
pub fn versioned(
    status: actix_web::http::StatusCode,
    version: i32,
    body: impl serde::Serialize,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header(header::ETag(etag(version)))
        .json(body)
}
