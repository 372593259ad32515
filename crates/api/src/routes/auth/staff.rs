//! Staff login (password or SMS code), refresh-token rotation and logout.

use actix_web::{HttpResponse, post, web};
use baoxiu_accounts::fields::normalise_mobile;
use baoxiu_accounts::sessions::{self, PrincipalKind, Rotation};
use baoxiu_accounts::sms::{self, Purpose};
use baoxiu_accounts::staff::{self, PasswordLogin, StaffUser};
use baoxiu_accounts::terminal_users::{self, TerminalStatus, TerminalUser};
use baoxiu_core::DomainError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{LoginSubject, login_answer};
use crate::extract::TenantScope;
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::shared::answers::SmsCodeLimits;
use crate::routes::shared::{CodeSent, SendCodeRequest, TokenPair};
use crate::state::{AppState, Nobody};
use crate::tokens::WechatClaim;

/// Send a staff login code.
///
/// The answer, and the work done before it, are the same whether or not the mobile belongs
/// to a staff user of the tenant: the SMS gateway is called afterwards, by a background job,
/// and only for a staff user's mobile. A gateway that fails is retried; a message it will
/// not take shows as a dead job (`GET /admin/jobs?status=dead`).
#[utoipa::path(
    tag = "auth",
    operation_id = "send_staff_sms_code",
    request_body = SendCodeRequest,
    params(("X-Tenant" = Option<String>, Header, description = "The tenant's slug", example = "demo")),
    responses(
        (status = 202, description = "The code is issued; it goes out by SMS (from a background job) if the mobile is a staff user's", body = CodeSent),
        SmsCodeLimits,
    ),
    security(()),
)]
#[post("/auth/staff/sms-code")]
pub async fn send_staff_sms_code(
    state: web::Data<AppState>,
    scope: TenantScope,
    body: ApiJson<SendCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let mobile =
        normalise_mobile("mobile", &body.0.mobile).map_err(|e| ApiError::validation(vec![e]))?;
    let known = {
        let mobile = mobile.clone();
        state
            .read(&scope, move |tx| {
                Ok(
                    staff::find_by_mobile(tx.conn, &tx.actor.tenant_id, &mobile)?
                        .is_some_and(|s| !s.disabled),
                )
            })
            .await?
    };
    let sent = crate::sms_codes::send(
        &state,
        scope.tenant_id.0,
        mobile,
        Purpose::StaffLogin,
        scope.client_ip,
        known,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(sent))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLoginRequest {
    #[schema(example = "13800138000", max_length = 20)]
    pub mobile: String,
    /// Give either the password...
    #[schema(max_length = 128)]
    pub password: Option<String>,
    /// ...or the code sent by `POST /auth/staff/sms-code`.
    #[schema(max_length = 8)]
    pub code: Option<String>,
}

/// Log in as staff.
///
/// With mobile + password, or mobile + SMS code. Wrong mobile, password or code all answer
/// the same 401.
#[utoipa::path(
    tag = "auth",
    operation_id = "login_staff",
    request_body(content = StaffLoginRequest, examples(
        ("password" = (summary = "Mobile and password (the demo admin)", value = json!({ "mobile": "13800000001", "password": "baoxiu-demo" }))),
        ("sms_code" = (summary = "Mobile and the SMS code from POST /auth/staff/sms-code", value = json!({ "mobile": "13800000001", "code": "123456" }))),
    )),
    params(("X-Tenant" = Option<String>, Header, description = "The tenant's slug", example = "demo")),
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 400, description = "No tenant named", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong mobile, password or code (`invalid-credentials`), the same answer for each", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Password login pauses for this mobile: five wrong passwords from this client address within 15 minutes, or `limits.password_failures_per_mobile` (50) from all addresses together; or too many requests to the login and SMS routes (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password logins are being checked at once on this server (`service-unavailable`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/auth/staff/login")]
pub async fn login_staff(
    state: web::Data<AppState>,
    scope: TenantScope,
    body: ApiJson<StaffLoginRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let request = body.0;
    super::check_lengths(&[
        (
            "mobile",
            Some(&request.mobile),
            baoxiu_forms::MAX_MOBILE_CHARS,
        ),
        (
            "password",
            request.password.as_deref(),
            baoxiu_accounts::fields::MAX_PASSWORD_CHARS,
        ),
        ("code", request.code.as_deref(), super::MAX_SMS_CODE_CHARS),
    ])?;
    let tenant_id = scope.tenant_id.clone();
    let now = state.now();
    let (staff, refresh) = match (request.password, request.code) {
        (Some(password), None) => {
            // Before any database work: beyond the hash bound, 503 at once.
            let place = state.password_hashing.try_admit()?;
            let mobile = request.mobile;
            let begin_tenant = tenant_id.clone();
            let client_ip = scope.client_ip.clone();
            let pause = staff::PasswordPause {
                per_client: staff::PASSWORD_FAILURES_ALLOWED,
                per_mobile: usize::try_from(state.config.limits.password_failures_per_mobile)
                    .unwrap_or(usize::MAX),
            };
            let attempt = state
                .read(&scope, move |tx| {
                    staff::begin_password_login(
                        tx.conn,
                        &begin_tenant,
                        &mobile,
                        &client_ip,
                        pause,
                        now,
                    )
                })
                .await?
                .ok_or(DomainError::InvalidCredentials)?;
            // The slow hash runs outside any transaction, on a hash thread.
            let (attempt, matched) = place
                .run(move || {
                    let matched = attempt.matches(&password);
                    (attempt, matched)
                })
                .await?;
            let outcome = state
                .write(&scope, move |tx| {
                    match staff::finish_password_login(
                        tx.conn,
                        &tx.actor.tenant_id,
                        attempt,
                        matched,
                        now,
                    )? {
                        PasswordLogin::LoggedIn(staff) => {
                            let refresh = sessions::start_staff(
                                tx.conn,
                                &tx.actor.tenant_id,
                                &staff.id,
                                now,
                            )?;
                            Ok(Some((staff, refresh)))
                        }
                        // Committed: the wrong try counts towards the pause.
                        PasswordLogin::WrongCredentials => Ok(None),
                    }
                })
                .await?;
            outcome.ok_or(DomainError::InvalidCredentials)?
        }
        (None, Some(code)) => {
            let mobile = normalise_mobile("mobile", &request.mobile)
                .map_err(|_| DomainError::InvalidCredentials)?;
            let code_id = crate::sms_codes::check(
                &state,
                tenant_id.0.clone(),
                mobile.clone(),
                Purpose::StaffLogin,
                code,
                || DomainError::InvalidCredentials,
            )
            .await?;
            state
                .write(&scope, move |tx| {
                    sms::consume(tx.conn, tenant_id.as_str(), &code_id, now)?;
                    let staff = staff::find_by_mobile(tx.conn, &tx.actor.tenant_id, &mobile)?
                        .filter(|s| !s.disabled)
                        .ok_or(DomainError::InvalidCredentials)?;
                    let refresh =
                        sessions::start_staff(tx.conn, &tx.actor.tenant_id, &staff.id, now)?;
                    Ok((staff, refresh))
                })
                .await?
        }
        _ => {
            return Err(DomainError::invalid(
                "password",
                "one_of",
                "give either password or code, not both or neither",
            )
            .into());
        }
    };
    Ok(web::Json(login_answer(
        &state,
        LoginSubject::staff(&staff),
        refresh,
    )?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(max_length = 128)]
    pub refresh_token: String,
}

/// Rotate the refresh token.
///
/// Answers a new pair; the token sent is used up. Sending a used token again revokes the
/// whole session (401 `refresh-token-reused`).
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_tokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 401, description = "Unknown, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests to the login and SMS routes from this client address, or from all clients together (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/auth/refresh")]
pub async fn refresh_tokens(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let token = body.0.refresh_token;
    super::check_lengths(&[(
        "refresh_token",
        Some(&token),
        super::MAX_REFRESH_TOKEN_CHARS,
    )])?;
    let now = state.now();
    // Who the session belongs to, as they are now: a disabled user gets no new tokens.
    enum Holder {
        Staff(StaffUser),
        Terminal(TerminalUser),
    }
    let rotation = state
        .write(&Nobody, move |tx| {
            let conn = &mut *tx.conn;
            let rotation = sessions::rotate(conn, &token, now)?;
            let holder = match &rotation {
                Rotation::Rotated { principal, .. } => Some(match principal.kind {
                    PrincipalKind::Staff => Holder::Staff(staff::get_active(
                        conn,
                        &principal.tenant_id,
                        &principal.subject_id,
                    )?),
                    PrincipalKind::Terminal | PrincipalKind::Guest => {
                        let user =
                            terminal_users::get(conn, &principal.tenant_id, &principal.subject_id)?;
                        if user.status == TerminalStatus::Disabled {
                            return Err(DomainError::Unauthenticated("the user is disabled"));
                        }
                        Holder::Terminal(user)
                    }
                }),
                _ => None,
            };
            Ok((rotation, holder))
        })
        .await?;
    match rotation {
        (Rotation::Rotated { refresh, principal }, Some(Holder::Staff(staff))) => {
            let _ = principal;
            Ok(web::Json(login_answer(
                &state,
                LoginSubject::staff(&staff),
                refresh,
            )?))
        }
        (Rotation::Rotated { refresh, principal }, Some(Holder::Terminal(user))) => {
            let wx = principal.wechat.map(|w| WechatClaim {
                app_id: w.app_id,
                openid: w.openid,
            });
            Ok(web::Json(login_answer(
                &state,
                LoginSubject::terminal(&principal.tenant_id, &user, wx),
                refresh,
            )?))
        }
        (Rotation::Reused, _) => Err(DomainError::RefreshTokenReused.into()),
        _ => Err(DomainError::Unauthenticated("the refresh token is not valid").into()),
    }
}

/// Log out.
///
/// Revokes the session of the refresh token (every token of its family). Answers 204
/// whatever was sent (unless the client is over the login routes' request rate: 429).
#[utoipa::path(
    tag = "auth",
    operation_id = "logout_session",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 429, description = "Too many requests to the login and SMS routes from this client address, or from all clients together (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/auth/logout")]
pub async fn logout_session(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.refresh_token;
    super::check_lengths(&[(
        "refresh_token",
        Some(&token),
        super::MAX_REFRESH_TOKEN_CHARS,
    )])?;
    let now = state.now();
    state
        .write(&Nobody, move |tx| {
            sessions::revoke_by_token(tx.conn, &token, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
