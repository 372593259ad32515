//! Admins configure who may get in: the registration policy, self-registration methods,
//! invitation codes; staff see and decide the registrations awaiting approval.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use baoxiu_registration::flows::{self, ApprovalReason, ClaimKind, Registration};
use baoxiu_registration::invitations::{self, InvitationCode};
use baoxiu_registration::methods::{self, Method, MethodChanges, MethodSettings};
use baoxiu_registration::policy::{self, Policy, PolicyInput};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{AdminCaller, IfMatch, PlatformCaller, StaffCaller, versioned};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{Decision, PageQuery, PageResponse, TerminalView, terminal_view, utc};
use crate::state::AppState;

/// The registration policy as it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyResponse {
    /// Unregistered visitors may act as the shared guest.
    pub guest_enabled: bool,
    pub guest_account_id: Option<String>,
    pub guest_contact_id: Option<String>,
    pub require_account_on_work_orders: bool,
    pub invitation_required: bool,
    /// Terminal-user seats (the tenant's licence): active users beyond it are refused.
    /// Read-only here: a platform operator sets it (`PUT /platform/tenants/{id}/seats`).
    #[schema(read_only, minimum = 0, maximum = 1000000)]
    pub seats: i32,
}

/// What an admin sets (seats are the platform's to set).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// Unregistered visitors may act as the shared guest.
    pub guest_enabled: bool,
    /// The account that owns guest data (required with guests on).
    #[schema(format = Uuid)]
    pub guest_account_id: Option<String>,
    /// The contact (of that account) that owns guest data.
    #[schema(format = Uuid)]
    pub guest_contact_id: Option<String>,
    /// Work orders need an account and contact: unregistered users must register to submit.
    pub require_account_on_work_orders: bool,
    /// Registration needs an invitation code. Then every user registers (with the code)
    /// before they are in, `openid_auto` methods too.
    pub invitation_required: bool,
}

fn policy_response(policy: Policy) -> HttpResponse {
    versioned(
        StatusCode::OK,
        policy.version,
        PolicyResponse {
            guest_enabled: policy.guest_enabled,
            guest_account_id: policy.guest_account_id,
            guest_contact_id: policy.guest_contact_id,
            require_account_on_work_orders: policy.require_account_on_work_orders,
            invitation_required: policy.invitation_required,
            seats: policy.seats,
        },
    )
}

/// Get the registration policy.
///
/// Guest access, the guest's account and contact, invitation codes and work-order rules that apply to every registration, with their version as `ETag`.
#[utoipa::path(tag = "registration-admin", operation_id = "get_registration_policy",
    responses((status = 200, description = "The policy", body = PolicyResponse, headers(("ETag" = String, description = "Version")))))]
#[get("/admin/registration-policy")]
pub async fn get_registration_policy(
    state: web::Data<AppState>,
    admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    Ok(policy_response(
        state
            .read(&admin, move |tx| policy::get(tx.conn, &tx.actor.tenant_id))
            .await?,
    ))
}

/// Replace the registration policy.
///
/// Replaces the whole policy; `If-Match` makes the change conditional (412 when stale). The guest account and contact must be the tenant's.
#[utoipa::path(tag = "registration-admin", operation_id = "put_registration_policy", request_body = PolicyBody,
    params(("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Saved", body = PolicyResponse),
        crate::routes::shared::answers::Stale))]
#[put("/admin/registration-policy")]
pub async fn put_registration_policy(
    state: web::Data<AppState>,
    admin: AdminCaller,
    if_match: IfMatch,
    body: ApiJson<PolicyBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = PolicyInput {
        guest_enabled: b.guest_enabled,
        guest_account_id: b.guest_account_id,
        guest_contact_id: b.guest_contact_id,
        require_account_on_work_orders: b.require_account_on_work_orders,
        invitation_required: b.invitation_required,
    };
    let saved = state
        .change(&admin, move |tx| policy::put(tx, input, if_match.0))
        .await?;
    Ok(policy_response(saved))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MethodResponse {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub settings: MethodSettings,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Method> for MethodResponse {
    fn from(m: Method) -> Self {
        Self {
            id: m.id,
            name: m.name,
            enabled: m.enabled,
            settings: m.settings,
            version: m.version,
            created_at: utc(m.created_at),
            updated_at: utc(m.updated_at),
        }
    }
}

fn method_response(status: actix_web::http::StatusCode, method: Method) -> HttpResponse {
    versioned(status, method.version, MethodResponse::from(method))
}

/// List self-registration methods.
///
/// Every self-registration method of the tenant, enabled or not.
#[utoipa::path(tag = "registration-admin", operation_id = "list_registration_methods", params(PageQuery),
    responses((status = 200, description = "One page of methods, oldest first", body = PageResponse<MethodResponse>)))]
#[get("/admin/registration-methods")]
pub async fn list_registration_methods(
    state: web::Data<AppState>,
    admin: AdminCaller,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<MethodResponse>>, ApiError> {
    let request = page.request()?;
    let list = state
        .read(&admin, move |tx| {
            methods::list(tx.conn, &tx.actor.tenant_id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(list, Into::into)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMethodRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    pub enabled: bool,
    /// Duplicate check `fuzzy` ignores width, case, spaces, punctuation, the 省/市 of a
    /// leading place name and legal suffixes (有限公司, 股份有限公司, 集团, Co., Ltd., Inc., ...);
    /// `exact` ignores only width, case and spacing.
    pub settings: MethodSettings,
}

/// Create a self-registration method.
///
/// A way for terminal users to register: channels, mode, approval, the account and contact forms and the roles given. Answers the method with its version as `ETag`.
#[utoipa::path(tag = "registration-admin", operation_id = "create_registration_method", request_body = CreateMethodRequest,
    responses((status = 201, description = "Created", body = MethodResponse)))]
#[post("/admin/registration-methods")]
pub async fn create_registration_method(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<CreateMethodRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let method = state
        .change(&admin, move |tx| {
            methods::create(tx, &b.name, b.enabled, b.settings)
        })
        .await?;
    Ok(method_response(
        actix_web::http::StatusCode::CREATED,
        method,
    ))
}

/// Get a self-registration method.
///
/// One self-registration method of the tenant, with its version as `ETag`; another tenant's id answers 404.
#[utoipa::path(tag = "registration-admin", operation_id = "get_registration_method", params(("id" = String, Path, description = "Method id")),
    responses((status = 200, description = "The method", body = MethodResponse),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/registration-methods/{id}")]
pub async fn get_registration_method(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let method = state
        .read(&admin, move |tx| {
            methods::get(tx.conn, &tx.actor.tenant_id, &id)
        })
        .await?;
    Ok(method_response(actix_web::http::StatusCode::OK, method))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMethodRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// Replaces all settings.
    pub settings: Option<MethodSettings>,
}

/// Change a self-registration method.
///
/// Changes only the fields sent; `If-Match` makes the change conditional (412 when stale).
#[utoipa::path(tag = "registration-admin", operation_id = "update_registration_method", request_body = UpdateMethodRequest,
    params(("id" = String, Path, description = "Method id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = MethodResponse),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/registration-methods/{id}")]
pub async fn update_registration_method(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateMethodRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let changes = MethodChanges {
        name: b.name,
        enabled: b.enabled,
        settings: b.settings,
    };
    let method = state
        .change(&admin, move |tx| {
            methods::update(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(method_response(actix_web::http::StatusCode::OK, method))
}

/// Remove a self-registration method.
///
/// Removes a self-registration method nobody came through.
///
/// A method that terminal users or registrations came through stays: 409 `in-use`
/// (disable it instead, which stops new logins through it).
#[utoipa::path(tag = "registration-admin", operation_id = "delete_registration_method", params(("id" = String, Path, description = "Method id")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`in-use`: users or registrations came through it", body = Problem, content_type = "application/problem+json")))]
#[delete("/admin/registration-methods/{id}")]
pub async fn delete_registration_method(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .change(&admin, move |tx| methods::delete(tx, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCodeResponse {
    pub id: String,
    pub code: String,
    pub max_uses: i32,
    pub uses: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The account the code admits its holder to.
    pub account_id: Option<String>,
}

impl From<InvitationCode> for InvitationCodeResponse {
    fn from(c: InvitationCode) -> Self {
        Self {
            id: c.id,
            code: c.code,
            max_uses: c.max_uses,
            uses: c.uses,
            expires_at: c.expires_at.map(utc),
            created_at: utc(c.created_at),
            account_id: c.account_id,
        }
    }
}

/// List invitation codes.
///
/// The tenant's invitation codes, with their uses and expiry.
#[utoipa::path(tag = "registration-admin", operation_id = "list_invitation_codes", params(PageQuery),
    responses((status = 200, description = "One page of codes, oldest first", body = PageResponse<InvitationCodeResponse>)))]
#[get("/admin/invitation-codes")]
pub async fn list_invitation_codes(
    state: web::Data<AppState>,
    admin: AdminCaller,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<InvitationCodeResponse>>, ApiError> {
    let request = page.request()?;
    let codes = state
        .read(&admin, move |tx| {
            invitations::list(tx.conn, &tx.actor.tenant_id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(codes, Into::into)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationCodeRequest {
    /// 1 for single use.
    #[schema(minimum = 1, maximum = 100000)]
    pub max_uses: i32,
    pub expires_at: Option<DateTime<Utc>>,
    /// Issue the code for one existing account: a registration that redeems it and lands on
    /// that account takes effect at once (it proves the holder belongs there). Without it,
    /// a registration that claims an existing account waits for approval unless the login
    /// mobile is already one of the account's contacts'.
    #[schema(format = Uuid)]
    pub account_id: Option<String>,
}

/// Create an invitation code.
///
/// A code that registrants type when the policy requires one; it may tie the registrant to an account, expire, or be limited to a number of uses.
#[utoipa::path(tag = "registration-admin", operation_id = "create_invitation_code", request_body = CreateInvitationCodeRequest,
    responses((status = 201, description = "Created", body = InvitationCodeResponse)))]
#[post("/admin/invitation-codes")]
pub async fn create_invitation_code(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<CreateInvitationCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let code = state
        .change(&admin, move |tx| {
            invitations::create(
                tx,
                b.max_uses,
                b.expires_at.map(|t| t.naive_utc()),
                b.account_id.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(InvitationCodeResponse::from(code)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationResponse {
    pub id: String,
    pub user_id: String,
    pub method_id: String,
    pub account_name: String,
    pub contact_name: String,
    pub mobile: String,
    /// `pending`, `approved` or `rejected`.
    #[schema(value_type = Decision)]
    pub status: String,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The existing account the registration would join, if it matched one: check that the
    /// registrant belongs there before approving.
    pub claimed_account: Option<ClaimedAccount>,
    /// How it found the account: by the account name or by a device serial number (set
    /// also when the serial given matched no device: `claimed_account` is then null).
    pub claim_kind: Option<ClaimKind>,
    /// `device_serial` as the registrant typed it.
    pub device_serial: Option<String>,
    /// Why it waits: the method requires approval, or it claims an existing account without
    /// proof (the mobile is none of its contacts', no invitation code for that account).
    pub approval_reason: ApprovalReason,
}

/// The account a registration claims.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimedAccount {
    pub id: String,
    pub name: String,
}

impl From<Registration> for RegistrationResponse {
    fn from(r: Registration) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            method_id: r.method_id,
            account_name: r.input.account_name,
            contact_name: r.input.contact_name,
            mobile: r.input.mobile,
            status: r.status,
            reason: r.reason,
            decided_by: r.decided_by,
            created_at: utc(r.created_at),
            decided_at: r.decided_at.map(utc),
            claimed_account: r.claimed_account_id.map(|id| ClaimedAccount {
                name: r.claimed_account_name.unwrap_or_default(),
                id,
            }),
            claim_kind: r.claim_kind,
            device_serial: r.input.device_serial,
            approval_reason: r.approval_reason,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrationQuery {
    /// `pending` (default), `approved`, `rejected` or `all`.
    #[param(value_type = Option<RegistrationStatusFilter>, inline)]
    pub status: Option<String>,
}

/// The statuses `list_registrations` filters on (the document's enum; read as text).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RegistrationStatusFilter {
    Pending,
    Approved,
    Rejected,
    All,
}

/// List registrations awaiting approval.
///
/// Registrations by status (`pending` by default), oldest first, one page at a time.
#[utoipa::path(tag = "registration-admin", operation_id = "list_registrations", params(RegistrationQuery, PageQuery),
    responses((status = 200, description = "One page of registrations", body = PageResponse<RegistrationResponse>)))]
#[get("/admin/registrations")]
pub async fn list_registrations(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<RegistrationQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<RegistrationResponse>>, ApiError> {
    let request = page.request()?;
    let status = match query.into_inner().status.as_deref() {
        None | Some("pending") => Some("pending"),
        Some("approved") => Some("approved"),
        Some("rejected") => Some("rejected"),
        Some("all") => None,
        Some(_) => {
            return Err(baoxiu_core::DomainError::invalid(
                "status",
                "invalid",
                "pending, approved, rejected or all",
            )
            .into());
        }
    };
    let page = state
        .read(&staff, move |tx| {
            flows::list_registrations(tx.conn, &tx.actor.tenant_id, status, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        RegistrationResponse::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The roles the user gets.
    #[schema(max_items = 50, value_type = Vec<baoxiu_core::texts::RoleIdText>, inline)]
    pub role_ids: Vec<String>,
}

/// Approve a registration.
///
/// Matches or creates the account and contact, gives the chosen roles at once.
#[utoipa::path(tag = "registration-admin", operation_id = "approve_registration", request_body = ApproveRequest,
    params(("id" = String, Path, description = "Registration id")),
    responses((status = 200, description = "Approved: the user as it now is", body = TerminalView),
        (status = 404, description = "No such registration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or no seat left", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/registrations/{id}/approve")]
pub async fn approve_registration(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    body: ApiJson<ApproveRequest>,
) -> Result<web::Json<TerminalView>, ApiError> {
    let role_ids = body.0.role_ids;
    let view = state
        .change(&admin, move |tx| {
            let user = flows::approve(tx, &id, &role_ids)?;
            terminal_view(tx.conn, &tx.actor.tenant_id, &user)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the user.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Reject a registration.
///
/// Rejects a pending registration with a reason the registrant sees; a decided one answers 409.
#[utoipa::path(tag = "registration-admin", operation_id = "reject_registration", request_body = RejectRequest,
    params(("id" = String, Path, description = "Registration id")),
    responses((status = 204, description = "Rejected; the reason reaches the user through GET /me"),
        (status = 404, description = "No such registration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/registrations/{id}/reject")]
pub async fn reject_registration(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    body: ApiJson<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.0.reason;
    state
        .change(&admin, move |tx| flows::reject(tx, &id, &reason))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSeatsRequest {
    /// Terminal-user seats the tenant's licence allows.
    #[schema(minimum = 0, maximum = 1000000)]
    pub seats: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatsResponse {
    pub tenant_id: String,
    pub seats: i32,
}

/// Set a tenant's seats.
///
/// The number of active terminal users the tenant's licence allows. Lowering it below the
/// users already active refuses new activations until enough are disabled; nobody is
/// turned off.
#[utoipa::path(tag = "platform", operation_id = "set_tenant_seats", request_body = SetSeatsRequest,
    params(("id" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "Saved", body = SeatsResponse),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json")))]
#[put("/platform/tenants/{id}/seats")]
pub async fn set_tenant_seats(
    state: web::Data<AppState>,
    operator: PlatformCaller,
    id: web::Path<String>,
    body: ApiJson<SetSeatsRequest>,
) -> Result<web::Json<SeatsResponse>, ApiError> {
    let seats = body.0.seats;
    let tenant_id = baoxiu_core::TenantId(id.into_inner());
    let saved = state
        .write(&operator.in_tenant(tenant_id.clone()), move |tx| {
            baoxiu_accounts::tenants::get(tx.conn, &tx.actor.tenant_id)?;
            policy::set_seats(tx, seats)
        })
        .await?;
    Ok(web::Json(SeatsResponse {
        tenant_id: tenant_id.0,
        seats: saved.seats,
    }))
}
