//! Admins bind their WeChat Mini Programs and Official Accounts. Secrets are write-only.

use actix_web::{HttpResponse, delete, get, post, web};
use baoxiu_accounts::wechat_apps::{self, AppKind, NewApp, WechatApp};
use baoxiu_core::DomainError;
use baoxiu_wechat::wechat::{AppCredentials, WechatError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::AdminCaller;
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

/// A bound app; its secret is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WechatAppResponse {
    pub id: String,
    pub app_id: String,
    /// `mini_program` or `official_account`.
    #[schema(value_type = AppKindDto)]
    pub kind: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<WechatApp> for WechatAppResponse {
    fn from(a: WechatApp) -> Self {
        Self {
            id: a.id,
            app_id: a.app_id,
            kind: a.kind,
            name: a.name,
            created_at: utc(a.created_at),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppKindDto {
    MiniProgram,
    OfficialAccount,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindWechatAppRequest {
    #[schema(example = "wx1234567890abcdef", min_length = 1, max_length = 32)]
    pub app_id: String,
    pub kind: AppKindDto,
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// The AppSecret. Write-only: stored sealed, never answered or logged.
    #[schema(write_only, min_length = 1, max_length = 128)]
    pub secret: String,
}

/// List bound WeChat apps.
///
/// The Mini Programs and Official Accounts bound to the tenant; their secrets are never answered.
#[utoipa::path(tag = "wechat", operation_id = "list_wechat_apps", params(PageQuery),
    responses((status = 200, description = "One page of bound apps (without secrets), oldest first", body = PageResponse<WechatAppResponse>)))]
#[get("/admin/wechat-apps")]
pub async fn list_wechat_apps(
    state: web::Data<AppState>,
    admin: AdminCaller,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<WechatAppResponse>>, ApiError> {
    let request = page.request()?;
    let apps = state
        .read(&admin, move |tx| {
            wechat_apps::list(tx.conn, &tx.actor.tenant_id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(apps, Into::into)))
}

/// Bind a WeChat app.
///
/// One app id belongs to one tenant: binding an app id another tenant has, or the
/// platform's shared Mini Program, answers 422 (`app_id` `taken`). The secret is checked
/// with WeChat first (`cgi-bin/stable_token`): one WeChat refuses answers 422
/// (`secret` `rejected_by_wechat`) and binds nothing.
#[utoipa::path(tag = "wechat", operation_id = "bind_wechat_app", request_body = BindWechatAppRequest,
    responses((status = 201, description = "Bound", body = WechatAppResponse),
        (status = 429, description = "WeChat rate-limits the check (`rate-limited`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "WeChat is not answering", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/wechat-apps")]
pub async fn bind_wechat_app(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<BindWechatAppRequest>,
) -> Result<HttpResponse, ApiError> {
    // Before WeChat is asked anything on the caller's behalf.
    state.check_session(&admin).await?;
    let b = body.0;
    let input = NewApp {
        app_id: b.app_id,
        kind: match b.kind {
            AppKindDto::MiniProgram => AppKind::MiniProgram,
            AppKindDto::OfficialAccount => AppKind::OfficialAccount,
        },
        name: b.name,
        secret: b.secret,
    };
    // An app id is bound only with a secret WeChat accepts: nobody can block an app's owner
    // by binding its id first with a made-up secret.
    let credentials = AppCredentials {
        app_id: input.app_id.trim().to_owned(),
        secret: input.secret.clone(),
    };
    let platform_app_id = state.config.wechat.public_app_id.clone();
    let shared = platform_app_id.as_deref() == Some(credentials.app_id.as_str());
    if !shared && !credentials.app_id.is_empty() && !credentials.secret.is_empty() {
        state
            .wechat
            .check_credentials(&credentials)
            .await
            .map_err(|error| match error {
                WechatError::InvalidCredential => ApiError::from(DomainError::invalid(
                    "secret",
                    "rejected_by_wechat",
                    "WeChat does not accept this app id and secret",
                )),
                WechatError::RateLimited { retry_after_secs } => {
                    DomainError::RateLimited { retry_after_secs }.into()
                }
                other => {
                    tracing::error!(error = %other, "WeChat credential check failed");
                    ApiError::unavailable("WeChat is not answering; try again shortly")
                }
            })?;
    }
    let key = state.secrets_key.clone();
    let app = state
        .change(&admin, move |tx| {
            wechat_apps::bind(tx, &key, input, platform_app_id.as_deref())
        })
        .await?;
    Ok(HttpResponse::Created().json(WechatAppResponse::from(app)))
}

/// Unbind a WeChat app.
///
/// Unbinds one of the tenant's WeChat apps: its logins stop at once.
#[utoipa::path(tag = "wechat", operation_id = "unbind_wechat_app", params(("id" = String, Path, description = "Bound app id (ours, not WeChat's)")),
    responses((status = 204, description = "Unbound"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json")))]
#[delete("/admin/wechat-apps/{id}")]
pub async fn unbind_wechat_app(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .change(&admin, move |tx| wechat_apps::unbind(tx, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
