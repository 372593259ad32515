//! Terminal roles and their permissions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use baoxiu_accounts::roles::{self, NewRole, Permission, Role, RoleChanges};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{AdminCaller, IfMatch, versioned};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

/// `submit_work_order`, `view_own_work_orders`, `view_enterprise_work_orders`,
/// `view_devices`, `register_blank_code`, `view_knowledge_base`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermissionDto {
    SubmitWorkOrder,
    ViewOwnWorkOrders,
    ViewEnterpriseWorkOrders,
    ViewDevices,
    RegisterBlankCode,
    ViewKnowledgeBase,
}

impl From<PermissionDto> for Permission {
    fn from(p: PermissionDto) -> Self {
        match p {
            PermissionDto::SubmitWorkOrder => Self::SubmitWorkOrder,
            PermissionDto::ViewOwnWorkOrders => Self::ViewOwnWorkOrders,
            PermissionDto::ViewEnterpriseWorkOrders => Self::ViewEnterpriseWorkOrders,
            PermissionDto::ViewDevices => Self::ViewDevices,
            PermissionDto::RegisterBlankCode => Self::RegisterBlankCode,
            PermissionDto::ViewKnowledgeBase => Self::ViewKnowledgeBase,
        }
    }
}

impl From<Permission> for PermissionDto {
    fn from(p: Permission) -> Self {
        match p {
            Permission::SubmitWorkOrder => Self::SubmitWorkOrder,
            Permission::ViewOwnWorkOrders => Self::ViewOwnWorkOrders,
            Permission::ViewEnterpriseWorkOrders => Self::ViewEnterpriseWorkOrders,
            Permission::ViewDevices => Self::ViewDevices,
            Permission::RegisterBlankCode => Self::RegisterBlankCode,
            Permission::ViewKnowledgeBase => Self::ViewKnowledgeBase,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleResponse {
    pub id: String,
    /// `guest` and `end_customer` are built in.
    pub key: String,
    pub name: String,
    pub permissions: Vec<PermissionDto>,
    pub built_in: bool,
    /// The guest role cannot be changed.
    pub read_only: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Role> for RoleResponse {
    fn from(r: Role) -> Self {
        Self {
            read_only: r.key == roles::GUEST,
            id: r.id,
            key: r.key,
            name: r.name,
            permissions: r.permissions.into_iter().map(Into::into).collect(),
            built_in: r.built_in,
            version: r.version,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

/// List terminal roles.
///
/// The tenant's terminal roles (built-in and its own) with their permissions.
#[utoipa::path(tag = "roles", operation_id = "list_roles", params(PageQuery),
    responses((status = 200, description = "One page of roles, oldest first", body = PageResponse<RoleResponse>)))]
#[get("/admin/roles")]
pub async fn list_roles(
    state: web::Data<AppState>,
    admin: AdminCaller,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<RoleResponse>>, ApiError> {
    let request = page.request()?;
    let roles = state
        .read(&admin, move |tx| {
            roles::list(tx.conn, &tx.actor.tenant_id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(roles, Into::into)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// 2-32 of a-z, 0-9 and _.
    #[schema(pattern = "^[a-z0-9_]{2,32}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 32)]
    pub name: String,
    #[schema(max_items = 64)]
    pub permissions: Vec<PermissionDto>,
}

/// Create a terminal role.
///
/// A terminal role of the tenant: a key unique within it, a name and permissions. Answers the role with its version as `ETag`.
#[utoipa::path(tag = "roles", operation_id = "create_role", request_body = CreateRoleRequest,
    responses((status = 201, description = "Created", body = RoleResponse)))]
#[post("/admin/roles")]
pub async fn create_role(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<CreateRoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let input = NewRole {
        key: request.key,
        name: request.name,
        permissions: request.permissions.into_iter().map(Into::into).collect(),
    };
    let role = state
        .change(&admin, move |tx| roles::create(tx, input))
        .await?;
    Ok(versioned(
        StatusCode::CREATED,
        role.version,
        RoleResponse::from(role),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    #[schema(min_length = 1, max_length = 32)]
    pub name: Option<String>,
    #[schema(max_items = 64)]
    pub permissions: Option<Vec<PermissionDto>>,
}

/// Change a terminal role.
///
/// The guest role answers 409: its permissions are fixed.
#[utoipa::path(tag = "roles", operation_id = "update_role", request_body = UpdateRoleRequest,
    params(("id" = String, Path, description = "Role id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = RoleResponse),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The guest role is read-only", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/roles/{id}")]
pub async fn update_role(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateRoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let changes = RoleChanges {
        name: request.name,
        permissions: request
            .permissions
            .map(|p| p.into_iter().map(Into::into).collect()),
    };
    let role = state
        .change(&admin, move |tx| {
            roles::update(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(versioned(
        StatusCode::OK,
        role.version,
        RoleResponse::from(role),
    ))
}

/// Remove a terminal role.
///
/// Built-in roles answer 409 `conflict`. A role that registration methods give answers
/// 409 `in-use` naming the methods: take it off them first. Users merely holding the role
/// lose it.
#[utoipa::path(tag = "roles", operation_id = "delete_role", params(("id" = String, Path, description = "Role id")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: built-in roles stay; `in-use`: registration methods give it (named in `detail`)", body = Problem, content_type = "application/problem+json")))]
#[delete("/admin/roles/{id}")]
pub async fn delete_role(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .change(&admin, move |tx| roles::delete(tx, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
