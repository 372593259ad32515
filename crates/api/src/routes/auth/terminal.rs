//! Terminal logins: WeChat Mini Program, WeChat Official Account, SMS code, guest.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use baoxiu_accounts::fields::normalise_mobile;
use baoxiu_accounts::sessions::{self, IssuedRefresh, PrincipalKind, SessionWechat};
use baoxiu_accounts::sms::{self, Purpose};
use baoxiu_accounts::terminal_users::TerminalUser;
use baoxiu_accounts::wechat_apps::{self, AppKind};
use baoxiu_core::{Actor, ActorKind, DomainError, TenantId};
use baoxiu_registration::{Channel, flows};
use baoxiu_wechat::wechat::{AppCredentials, WechatError};
use baoxiu_workorders::upgrade;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{LoginSubject, login_answer};
use crate::extract::{Caller, TENANT_HEADER, TenantScope};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::shared::answers::{SmsCodeLimits, WechatLoginRefusals};
use crate::routes::shared::{
    CodeSent, SendCodeRequest, TerminalView, TokenPair, terminal_view, view_of,
};
use crate::state::AppState;
use crate::tokens::{TokenKind, WechatClaim};

/// The tokens, as every login answers them (staff logins too), and who the caller now is.
#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalLoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    /// Who the caller now is and what they may do (as `GET /me`).
    pub me: TerminalView,
}

impl TerminalLoginResponse {
    /// The answer of a terminal (or guest) login: the token pair of its session and `me`.
    fn new(
        state: &AppState,
        tenant_id: &TenantId,
        user: &TerminalUser,
        refresh: IssuedRefresh,
        wx: Option<WechatClaim>,
        me: TerminalView,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            tokens: login_answer(state, LoginSubject::terminal(tenant_id, user, wx), refresh)?,
            me,
        })
    }
}

fn principal_kind(user: &TerminalUser) -> PrincipalKind {
    if user.is_guest {
        PrincipalKind::Guest
    } else {
        PrincipalKind::Terminal
    }
}

/// Starts a session for a user that a login flow produced, in the same transaction.
async fn finish_login(
    state: &AppState,
    tenant_id: TenantId,
    wx: Option<WechatClaim>,
    login: impl FnOnce(&mut baoxiu_store::Tx<'_>) -> baoxiu_core::DomainResult<TerminalUser>
    + Send
    + 'static,
) -> Result<TerminalLoginResponse, ApiError> {
    let now = state.now();
    let tenant = tenant_id.clone();
    let session_wechat = wx.as_ref().map(|w| SessionWechat {
        app_id: w.app_id.clone(),
        openid: w.openid.clone(),
    });
    let (user, refresh, me) = state
        .write(&crate::state::Nobody, move |tx| {
            let user = login(tx)?;
            let refresh = sessions::start(
                tx.conn,
                &tenant,
                principal_kind(&user),
                &user.id,
                session_wechat.as_ref(),
                now,
            )?;
            let me = terminal_view(tx.conn, &tenant, &user)?;
            Ok((user, refresh, me))
        })
        .await?;
    TerminalLoginResponse::new(state, &tenant_id, &user, refresh, wx, me)
}

/// The login of a user whose WeChat identity is known: the principal (two statements),
/// the session (one insert) and the answer's registration (one). None when nobody has
/// the identity (the login flow then decides, in a transaction).
fn known_login(
    conn: &mut baoxiu_store::DbConn,
    tenant_id: &TenantId,
    app_id: &str,
    openid: &str,
    wechat: SessionWechat,
    now: chrono::NaiveDateTime,
) -> baoxiu_core::DomainResult<Option<(TerminalUser, IssuedRefresh, TerminalView)>> {
    let Some(principal) =
        baoxiu_registration::principal::of_wechat_identity(conn, tenant_id, app_id, openid)?
    else {
        return Ok(None);
    };
    let Some((user, _)) = principal.terminal() else {
        return Ok(None);
    };
    let user = flows::usable(user.clone())?;
    let refresh = sessions::start(
        conn,
        tenant_id,
        principal_kind(&user),
        &user.id,
        Some(&wechat),
        now,
    )?;
    let me = view_of(conn, &principal)?
        .ok_or_else(|| DomainError::Internal("a terminal user resolved as staff".into()))?;
    Ok(Some((user, refresh, me)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatLoginRequest {
    /// The app the code is from; it decides the tenant (for the shared public mini
    /// program, `X-Tenant` does).
    #[schema(example = "wx1234567890abcdef", max_length = 32)]
    pub app_id: String,
    /// `wx.login` code (Mini Program) or OAuth `code` (Official Account). Single use, 5 minutes.
    #[schema(max_length = 128)]
    pub code: String,
}

fn wechat_problem(error: WechatError) -> ApiError {
    match error {
        WechatError::InvalidCode => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wechat-code-invalid",
            "WeChat code invalid",
            "the WeChat code is invalid or was used already; call wx.login again",
        ),
        WechatError::RateLimited { retry_after_secs } => {
            DomainError::RateLimited { retry_after_secs }.into()
        }
        WechatError::HighRiskUser => ApiError::new(
            StatusCode::FORBIDDEN,
            "wechat-high-risk-user",
            "WeChat refused the login",
            "WeChat marked this user as high risk",
        ),
        other => {
            tracing::error!(error = %other, "WeChat login failed");
            ApiError::unavailable("WeChat is not answering; try again shortly")
        }
    }
}

async fn wechat_login(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    caller: Option<Caller>,
    request: WechatLoginRequest,
    kind: AppKind,
    channel: Channel,
) -> Result<web::Json<TerminalLoginResponse>, ApiError> {
    super::check_lengths(&[
        ("app_id", Some(&request.app_id), super::MAX_APP_ID_CHARS),
        ("code", Some(&request.code), super::MAX_WECHAT_CODE_CHARS),
    ])?;
    let key = state.secrets_key.clone();
    let app_id = request.app_id.trim().to_owned();
    let bound = {
        let app_id = app_id.clone();
        state
            .read(&crate::state::Nobody, move |tx| {
                wechat_apps::for_login(tx.conn, &key, &app_id)
            })
            .await?
    };
    let (tenant_id, credentials) = match bound {
        Some(app) if app.kind == kind => (
            app.tenant_id,
            AppCredentials {
                app_id: app.app_id,
                secret: app.secret,
            },
        ),
        Some(_) => {
            return Err(DomainError::invalid(
                "app_id",
                "wrong_kind",
                "this app id is bound as another kind of app",
            )
            .into());
        }
        None if state.config.wechat.public_app_id.as_deref() == Some(app_id.as_str())
            && kind == AppKind::MiniProgram =>
        {
            let slug = req
                .headers()
                .get(TENANT_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_ascii_lowercase())
                .ok_or(DomainError::TenantRequired)?;
            let tenant = state
                .read(&crate::state::Nobody, move |tx| {
                    let tenant = baoxiu_accounts::tenants::find_by_slug(tx.conn, &slug)?
                        .ok_or(DomainError::NotFound("tenant"))?;
                    // The shared program serves tenants that have none of their own.
                    let own = baoxiu_accounts::wechat_apps::all(tx.conn, &tenant.tenant_id())?
                        .into_iter()
                        .any(|a| a.kind == AppKind::MiniProgram.as_str());
                    if own {
                        return Err(DomainError::invalid(
                            "app_id",
                            "tenant_has_own_app",
                            "this provider has its own Mini Program; log in through it",
                        ));
                    }
                    Ok(tenant)
                })
                .await?;
            let secret = state
                .config
                .wechat
                .public_app_secret
                .clone()
                .unwrap_or_default();
            (
                tenant.tenant_id(),
                AppCredentials {
                    app_id: app_id.clone(),
                    secret,
                },
            )
        }
        None => {
            return Err(DomainError::invalid(
                "app_id",
                "not_found",
                "no tenant has bound this app id",
            )
            .into());
        }
    };
    let identity = match kind {
        AppKind::MiniProgram => {
            state
                .wechat
                .code_to_session(&credentials, request.code.trim())
                .await
        }
        AppKind::OfficialAccount => {
            state
                .wechat
                .oauth_openid(&credentials, request.code.trim())
                .await
        }
    }
    .map_err(wechat_problem)?;
    // A terminal user already logged in (by SMS) binds this WeChat identity to itself.
    let bind_to = caller
        .filter(|c| c.kind == TokenKind::Terminal && c.tenant_id == tenant_id)
        .map(|c| c.subject);
    let now = state.now();
    let wx = WechatClaim {
        app_id: credentials.app_id.clone(),
        openid: identity.openid.clone(),
    };
    // A known identity's login writes one row, the session: no transaction is spent on it.
    let known = {
        let (tenant, app_id, openid) = (
            tenant_id.clone(),
            credentials.app_id.clone(),
            identity.openid.clone(),
        );
        let session_wechat = SessionWechat {
            app_id: app_id.clone(),
            openid: openid.clone(),
        };
        state
            .write_one(&crate::state::Nobody, move |tx| {
                known_login(tx.conn, &tenant, &app_id, &openid, session_wechat, now)
            })
            .await?
    };
    if let Some((user, refresh, me)) = known {
        return Ok(web::Json(TerminalLoginResponse::new(
            &state,
            &tenant_id,
            &user,
            refresh,
            Some(wx),
            me,
        )?));
    }
    let tenant = tenant_id.clone();
    let response = finish_login(&state, tenant_id, Some(wx), move |tx| {
        let login = flows::WechatLogin {
            channel,
            app_id: &credentials.app_id,
            openid: &identity.openid,
            unionid: identity.unionid.as_deref(),
            bind_to: bind_to.as_deref(),
        };
        flows::wechat_login(tx.conn, &tenant, login, now)
    })
    .await?;
    Ok(web::Json(response))
}

/// Log in from the Mini Program.
///
/// Exchanges a `wx.login` code (code2Session). A known WeChat identity logs its user in;
/// an unknown one is created by the tenant's self-registration method for the Mini
/// Program channel, or acts as the guest, or is refused (`not-activated`). With the bearer
/// token of a terminal user who logged in by SMS, the WeChat identity is bound to that user.
#[utoipa::path(
    tag = "terminal-auth",
    operation_id = "login_wechat_mini_program",
    request_body = WechatLoginRequest,
    params(("X-Tenant" = Option<String>, Header, description = "Only with the shared public mini program", example = "demo")),
    responses(
        (status = 200, description = "Logged in", body = TerminalLoginResponse),
        WechatLoginRefusals,
    ),
    security(()),
)]
#[post("/auth/wechat/mini-program")]
pub async fn login_wechat_mini_program(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    caller: Option<Caller>,
    body: ApiJson<WechatLoginRequest>,
) -> Result<web::Json<TerminalLoginResponse>, ApiError> {
    wechat_login(
        state,
        req,
        caller,
        body.0,
        AppKind::MiniProgram,
        Channel::MiniProgram,
    )
    .await
}

/// Log in from the Official Account.
///
/// Exchanges a web-authorisation OAuth code for the OpenID; otherwise as the Mini Program login.
#[utoipa::path(
    tag = "terminal-auth",
    operation_id = "login_wechat_official_account",
    request_body = WechatLoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TerminalLoginResponse),
        WechatLoginRefusals,
    ),
    security(()),
)]
#[post("/auth/wechat/official-account")]
pub async fn login_wechat_official_account(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    caller: Option<Caller>,
    body: ApiJson<WechatLoginRequest>,
) -> Result<web::Json<TerminalLoginResponse>, ApiError> {
    wechat_login(
        state,
        req,
        caller,
        body.0,
        AppKind::OfficialAccount,
        Channel::OfficialAccount,
    )
    .await
}

/// Send a terminal login code.
///
/// The SMS gateway is called afterwards, by a background job; a gateway that fails is
/// retried, and a message it will not take shows as a dead job (`GET /admin/jobs`).
#[utoipa::path(
    tag = "terminal-auth",
    operation_id = "send_terminal_sms_code",
    request_body = SendCodeRequest,
    params(("X-Tenant" = Option<String>, Header, description = "The tenant's slug", example = "demo")),
    responses(
        (status = 202, description = "The code is issued and goes out by SMS (from a background job)", body = CodeSent),
        SmsCodeLimits,
    ),
    security(()),
)]
#[post("/auth/sms-code")]
pub async fn send_terminal_sms_code(
    state: web::Data<AppState>,
    scope: TenantScope,
    body: ApiJson<SendCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let mobile =
        normalise_mobile("mobile", &body.0.mobile).map_err(|e| ApiError::validation(vec![e]))?;
    let sent = crate::sms_codes::send(
        &state,
        scope.tenant_id.0,
        mobile,
        Purpose::TerminalLogin,
        scope.client_ip,
        true,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(sent))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsLoginRequest {
    #[schema(example = "13800138000", max_length = 20)]
    pub mobile: String,
    #[schema(max_length = 8)]
    pub code: String,
    /// Where the user is (decides which self-registration method applies); default `h5`.
    pub channel: Option<Channel>,
}

/// Log in with an SMS code.
///
/// A known mobile (an activated contact, or a user who registered with it) logs its user
/// in; an unknown one is created by the channel's self-registration method, or refused
/// with `not-activated`. Guest upgrade: the tenant's work orders submitted as the guest
/// with this mobile as their contact phone move to the user who logs in (submitter, and
/// the user's account, contact and enterprise where the user has them), each with a
/// `guest_upgrade` step in its timeline; a later login finds none left to move.
#[utoipa::path(
    tag = "terminal-auth",
    operation_id = "login_terminal_sms",
    request_body = SmsLoginRequest,
    params(("X-Tenant" = Option<String>, Header, description = "The tenant's slug", example = "demo")),
    responses(
        (status = 200, description = "Logged in", body = TerminalLoginResponse),
        (status = 401, description = "Wrong or expired code", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not-activated`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No terminal-user seat left (`seats-exhausted`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests to the login and SMS routes from this client address, or from all clients together (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/auth/sms-login")]
pub async fn login_terminal_sms(
    state: web::Data<AppState>,
    scope: TenantScope,
    body: ApiJson<SmsLoginRequest>,
) -> Result<web::Json<TerminalLoginResponse>, ApiError> {
    let request = body.0;
    super::check_lengths(&[
        (
            "mobile",
            Some(&request.mobile),
            baoxiu_forms::MAX_MOBILE_CHARS,
        ),
        ("code", Some(&request.code), super::MAX_SMS_CODE_CHARS),
    ])?;
    let mobile =
        normalise_mobile("mobile", &request.mobile).map_err(|_| DomainError::InvalidCredentials)?;
    let tenant_id = scope.tenant_id;
    let code_id = crate::sms_codes::check(
        &state,
        tenant_id.0.clone(),
        mobile.clone(),
        Purpose::TerminalLogin,
        request.code,
        || DomainError::InvalidCredentials,
    )
    .await?;
    let now = state.now();
    let channel = request.channel.unwrap_or(Channel::H5);
    let tenant = tenant_id.clone();
    let request_id = scope.request_id;
    let response = finish_login(&state, tenant_id, None, move |tx| {
        sms::consume(tx.conn, tenant.as_str(), &code_id, now)?;
        let user = flows::sms_login(tx.conn, &tenant, channel, &mobile, now)?;
        // From here on the user acts: moving their guest orders is theirs (timeline, audit).
        tx.actor = Actor {
            tenant_id: tenant.clone(),
            kind: ActorKind::Terminal,
            id: user.id.clone(),
            request_id: Some(request_id),
        };
        upgrade::move_guest_orders(tx, &user, &mobile)?;
        Ok(user)
    })
    .await?;
    Ok(web::Json(response))
}

/// Log in as the guest.
///
/// One shared identity per tenant that sees public data only; its data goes to the
/// account and contact the policy names.
#[utoipa::path(
    tag = "terminal-auth",
    operation_id = "login_guest",
    params(("X-Tenant" = Option<String>, Header, description = "The tenant's slug", example = "demo")),
    responses(
        (status = 200, description = "Guest tokens", body = TerminalLoginResponse),
        (status = 403, description = "Guest access is off (`guest-disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests to the login and SMS routes from this client address, or from all clients together (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/auth/guest")]
pub async fn login_guest(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<web::Json<TerminalLoginResponse>, ApiError> {
    let now = state.now();
    let tenant = scope.tenant_id.clone();
    let response = finish_login(&state, scope.tenant_id, None, move |tx| {
        flows::guest_login(tx.conn, &tenant, now)
    })
    .await?;
    Ok(web::Json(response))
}
