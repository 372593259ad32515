//! Staff management: admins list, add, change and remove their tenant's staff.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use baoxiu_accounts::staff::{self, NewStaff, StaffChanges, StaffFilter, StaffRole, StaffUser};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{AdminCaller, IfMatch, etag};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRoleDto {
    Admin,
    Dispatcher,
    Engineer,
}

impl From<StaffRoleDto> for StaffRole {
    fn from(role: StaffRoleDto) -> Self {
        match role {
            StaffRoleDto::Admin => Self::Admin,
            StaffRoleDto::Dispatcher => Self::Dispatcher,
            StaffRoleDto::Engineer => Self::Engineer,
        }
    }
}

impl From<StaffRole> for StaffRoleDto {
    fn from(role: StaffRole) -> Self {
        match role {
            StaffRole::Admin => Self::Admin,
            StaffRole::Dispatcher => Self::Dispatcher,
            StaffRole::Engineer => Self::Engineer,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffResponse {
    pub id: String,
    pub mobile: String,
    pub name: String,
    pub role: StaffRoleDto,
    /// Whether the user can log in with a password (else by SMS code only).
    pub has_password: bool,
    pub disabled: bool,
    /// The version `ETag` and `If-Match` carry.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StaffUser> for StaffResponse {
    fn from(user: StaffUser) -> Self {
        Self {
            id: user.id,
            mobile: user.mobile,
            name: user.name,
            role: user.role.into(),
            has_password: user.has_password,
            disabled: user.disabled,
            version: user.version,
            created_at: utc(user.created_at),
            updated_at: utc(user.updated_at),
        }
    }
}

fn with_etag(status: actix_web::http::StatusCode, user: StaffUser) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(actix_web::http::header::ETag(etag(user.version)))
        .json(StaffResponse::from(user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffListQuery {
    /// Only staff of this role.
    pub role: Option<StaffRoleDto>,
}

/// List staff users.
///
/// The tenant's staff users, optionally of one role, one page at a time.
#[utoipa::path(
    tag = "staff",
    operation_id = "list_staff",
    params(StaffListQuery, PageQuery),
    responses((status = 200, description = "One page of staff users, oldest first", body = PageResponse<StaffResponse>)),
)]
#[get("/admin/staff")]
pub async fn list_staff(
    state: web::Data<AppState>,
    admin: AdminCaller,
    filter: ApiQuery<StaffListQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<StaffResponse>>, ApiError> {
    let request = page.request()?;
    let filter = StaffFilter {
        role: filter.role.map(Into::into),
    };
    let page = state
        .read(&admin, move |tx| {
            staff::list(tx.conn, &tx.actor.tenant_id, &filter, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        StaffResponse::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    #[schema(example = "13900139000", max_length = 20)]
    pub mobile: String,
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    pub role: StaffRoleDto,
    /// Optional: without one, the user logs in by SMS code. 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

/// Add a staff user.
///
/// A staff user of the tenant (admin, dispatcher or engineer); the mobile is unique within the tenant. Without a password the user logs in by SMS code.
#[utoipa::path(
    tag = "staff",
    operation_id = "create_staff",
    request_body = CreateStaffRequest,
    responses((status = 201, description = "Created", body = StaffResponse, headers(("ETag" = String, description = "Version")))),
)]
#[post("/admin/staff")]
pub async fn create_staff(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<CreateStaffRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let created = state
        .change(&admin, move |tx| {
            staff::create(
                tx,
                NewStaff {
                    mobile: request.mobile,
                    name: request.name,
                    role: request.role.into(),
                    password: request.password,
                },
            )
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::CREATED, created))
}

/// Get a staff user.
///
/// One staff user of the tenant, with their version as `ETag`; another tenant's id answers 404.
#[utoipa::path(
    tag = "staff",
    operation_id = "get_staff",
    params(("id" = String, Path, description = "Staff user id")),
    responses(
        (status = 200, description = "The staff user", body = StaffResponse, headers(("ETag" = String, description = "Version"))),
        (status = 404, description = "No such staff user in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/admin/staff/{id}")]
pub async fn get_staff(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .read(&admin, move |tx| {
            staff::get(tx.conn, &tx.actor.tenant_id, &id)
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    pub role: Option<StaffRoleDto>,
    /// Disabling ends the user's sessions at once.
    pub disabled: Option<bool>,
    /// Sets a new password: 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

/// Change a staff user.
///
/// Send `If-Match` with the ETag read to avoid overwriting someone else's change (412).
/// The last active admin cannot be demoted or disabled (409).
#[utoipa::path(
    tag = "staff",
    operation_id = "update_staff",
    request_body = UpdateStaffRequest,
    params(
        ("id" = String, Path, description = "Staff user id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version the change is based on"),
    ),
    responses(
        (status = 200, description = "Changed", body = StaffResponse, headers(("ETag" = String, description = "Version"))),
        (status = 404, description = "No such staff user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave the tenant without an active admin", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale,
    ),
)]
#[patch("/admin/staff/{id}")]
pub async fn update_staff(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateStaffRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let changes = StaffChanges {
        name: request.name,
        role: request.role.map(Into::into),
        disabled: request.disabled,
        password: request.password,
    };
    let updated = state
        .change(&admin, move |tx| {
            staff::update(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, updated))
}

/// Remove a staff user.
///
/// Ends the user's sessions. Admins cannot remove themselves or the last active admin (409).
#[utoipa::path(
    tag = "staff",
    operation_id = "delete_staff",
    params(("id" = String, Path, description = "Staff user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such staff user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cannot remove oneself or the last admin", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/admin/staff/{id}")]
pub async fn delete_staff(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .change(&admin, move |tx| staff::delete(tx, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
