//! Staff see terminal users; admins activate accounts manually and change users.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use baoxiu_accounts::terminal_users::{
    self, TerminalStatus, TerminalUser, TerminalUserChanges, TerminalUserFilter,
};
use baoxiu_registration::flows;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{AdminCaller, IfMatch, StaffCaller, versioned};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{EnterpriseView, PageQuery, PageResponse, utc};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalUserResponse {
    pub id: String,
    /// None for the guest.
    pub enterprise: Option<EnterpriseView>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub mobile: Option<String>,
    /// `active`, `unregistered`, `awaiting_approval`, `rejected` or `disabled`.
    pub status: TerminalStatus,
    pub registered: bool,
    pub role_ids: Vec<String>,
    pub roles: Vec<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TerminalUser> for TerminalUserResponse {
    fn from(u: TerminalUser) -> Self {
        Self {
            registered: u.is_registered(),
            role_ids: u.roles.iter().map(|r| r.id.clone()).collect(),
            roles: u.role_keys(),
            id: u.id,
            enterprise: u.enterprise.map(Into::into),
            account_id: u.account_id,
            contact_id: u.contact_id,
            mobile: u.mobile,
            status: u.status,
            version: u.version,
            created_at: utc(u.created_at),
            updated_at: utc(u.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TerminalUserQuery {
    #[param(inline)]
    pub status: Option<TerminalStatus>,
    #[param(format = Uuid)]
    pub account_id: Option<String>,
}

/// List terminal users.
///
/// The tenant's terminal users by status or account, one page at a time; the guest is not listed.
#[utoipa::path(tag = "terminal-users", operation_id = "list_terminal_users", params(TerminalUserQuery, PageQuery),
    responses((status = 200, description = "One page of users (the guest is not listed)", body = PageResponse<TerminalUserResponse>)))]
#[get("/admin/terminal-users")]
pub async fn list_terminal_users(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<TerminalUserQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<TerminalUserResponse>>, ApiError> {
    let request = page.request()?;
    let query = query.into_inner();
    let filter = TerminalUserFilter {
        status: query.status,
        account_id: query.account_id,
    };
    let page = state
        .read(&staff, move |tx| {
            terminal_users::list(tx.conn, &tx.actor.tenant_id, &filter, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        TerminalUserResponse::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// Accounts whose contacts (those with a mobile) become terminal users.
    #[schema(min_items = 1, max_items = 100, value_type = Vec<baoxiu_core::texts::UuidText>, inline)]
    pub account_ids: Vec<String>,
    /// Roles they get (default: `end_customer`).
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<baoxiu_core::texts::RoleIdText>, inline)]
    pub role_ids: Vec<String>,
}

/// Activate accounts manually.
///
/// Every contact with a mobile of each account becomes an active terminal user who logs
/// in by SMS code. Each account must have such a contact; the seats must suffice. All or
/// nothing.
#[utoipa::path(tag = "terminal-users", operation_id = "activate_terminal_users", request_body = ActivationRequest,
    responses((status = 201, description = "The activated users", body = Vec<TerminalUserResponse>),
        (status = 409, description = "Not enough seats (`seats-exhausted`); nobody was activated", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/terminal-users/activations")]
pub async fn activate_terminal_users(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<ActivationRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let users = state
        .change(&admin, move |tx| {
            flows::activate(tx, &b.account_ids, &b.role_ids)
        })
        .await?;
    Ok(HttpResponse::Created().json(
        users
            .into_iter()
            .map(TerminalUserResponse::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTerminalUserRequest {
    /// Replaces the user's roles.
    #[schema(max_items = 50, value_type = Option<Vec<baoxiu_core::texts::RoleIdText>>, inline)]
    pub role_ids: Option<Vec<String>>,
    /// Disabling ends the user's sessions at once.
    pub disabled: Option<bool>,
}

/// Change a terminal user.
///
/// Disables or enables a terminal user, or replaces their roles; `If-Match` makes the change conditional (412 when stale).
#[utoipa::path(tag = "terminal-users", operation_id = "update_terminal_user", request_body = UpdateTerminalUserRequest,
    params(("id" = String, Path, description = "Terminal user id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = TerminalUserResponse),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Re-enabling needs a free seat (`seats-exhausted`)", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/terminal-users/{id}")]
pub async fn update_terminal_user(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateTerminalUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let changes = TerminalUserChanges {
        role_ids: b.role_ids,
        disabled: b.disabled,
    };
    let user = state
        .change(&admin, move |tx| {
            flows::update_terminal_user(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(versioned(
        StatusCode::OK,
        user.version,
        TerminalUserResponse::from(user),
    ))
}
