//! Who am I, and what may I do now.

use actix_web::{get, web};
use baoxiu_accounts::roles::Permission;
use baoxiu_accounts::terminal_users::TerminalUser;
use baoxiu_core::{DomainError, DomainResult, TenantId};
use baoxiu_registration::access::{DataScope, RegistrationState};
use baoxiu_registration::flows::{self, ApprovalReason};
use baoxiu_registration::principal::{self, Identity, Principal};
use baoxiu_store::DbConn;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::EnterpriseView;
use crate::extract::PrincipalCaller;
use crate::problem::ApiError;
use crate::routes::staff::StaffResponse;
use crate::state::AppState;
use crate::tokens::TokenKind;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeTenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// False once the trial or subscription has ended (read-only).
    pub active: bool,
}

/// The newest registration of the caller, when it went through approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationStatus {
    /// `pending`, `approved` or `rejected`.
    #[schema(value_type = crate::routes::registration_admin::Decision)]
    pub status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Why it waits (or waited) for approval: `method` (the registration method requires
    /// it) or `unverified_claim` (it claims an existing account the caller has not been
    /// shown to belong to).
    pub approval_reason: ApprovalReason,
}

/// A terminal user (or the guest) and what they may do now.
#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalView {
    pub user_id: String,
    /// `guest`, `registered`, `unregistered`, `awaiting_approval` or `rejected`.
    pub registration_state: RegistrationState,
    /// Which data the caller sees: `none` (every data endpoint answers
    /// `registration-required`), `public_only` (as a guest), `own` or `enterprise`.
    pub data_scope: DataScope,
    /// Whether a work order may be submitted now.
    pub may_submit: bool,
    /// If not, the problem type a submission answers (`registration-required`, `forbidden`).
    pub submit_denied: Option<String>,
    /// Whether the registration form applies (`GET /registration/form`).
    pub may_register: bool,
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    /// Role keys.
    pub roles: Vec<String>,
    /// None for the guest.
    pub enterprise: Option<EnterpriseView>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub mobile: Option<String>,
    pub registration: Option<RegistrationStatus>,
}

/// What a terminal user (or the guest) may do now, as a login or registration answers it:
/// the principal's two statements and the newest registration.
pub fn terminal_view(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user: &TerminalUser,
) -> DomainResult<TerminalView> {
    let principal = principal::of_terminal_user(conn, tenant_id, &user.id)?;
    view_of(conn, &principal)?
        .ok_or_else(|| DomainError::Internal("a terminal user resolved as staff".into()))
}

/// The terminal part of a principal, with the newest registration (one statement); None
/// for staff.
pub fn view_of(conn: &mut DbConn, principal: &Principal) -> DomainResult<Option<TerminalView>> {
    let Some((user, access)) = principal.terminal() else {
        return Ok(None);
    };
    let registration = if user.is_guest {
        None
    } else {
        flows::latest_registration(conn, &principal.tenant_id(), &user.id)?
    };
    Ok(Some(TerminalView {
        user_id: user.id.clone(),
        registration_state: access.state,
        data_scope: access.data_scope,
        may_submit: access.may_submit,
        submit_denied: access.submit_denied.map(str::to_owned),
        may_register: access.may_register,
        permissions: access.permissions.clone(),
        roles: user.role_keys(),
        enterprise: user.enterprise.clone().map(Into::into),
        account_id: user.account_id.clone(),
        contact_id: user.contact_id.clone(),
        mobile: user.mobile.clone(),
        registration: registration.map(|r| RegistrationStatus {
            status: r.status,
            reason: r.reason,
            approval_reason: r.approval_reason,
        }),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// `staff`, `terminal` or `guest`.
    pub kind: TokenKind,
    pub tenant: MeTenant,
    /// For staff callers.
    pub staff: Option<StaffResponse>,
    /// For terminal and guest callers.
    pub terminal: Option<TerminalView>,
    pub roles: Vec<String>,
}

/// Who am I.
///
/// The caller's tenant, identity and roles; for terminal users also the registration
/// state and what they may do now (submit, which data).
#[utoipa::path(
    tag = "me",
    operation_id = "get_me",
    responses((status = 200, description = "The caller", body = MeResponse)),
)]
#[get("/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    caller: PrincipalCaller,
) -> Result<web::Json<MeResponse>, ApiError> {
    let now = state.now();
    let kind = caller.unresolved().kind;
    let token_roles = caller.unresolved().roles.clone();
    let (tenant, staff, terminal) = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let terminal = view_of(tx.conn, principal)?;
            let staff = match &principal.identity {
                Identity::Staff(staff) => Some(staff.clone()),
                Identity::Terminal { .. } => None,
            };
            Ok((principal.tenant.clone(), staff, terminal))
        })
        .await?;
    Ok(web::Json(MeResponse {
        kind,
        tenant: MeTenant {
            active: tenant.is_active(now),
            id: tenant.id,
            slug: tenant.slug,
            name: tenant.name,
        },
        roles: terminal
            .as_ref()
            .map(|t| t.roles.clone())
            .unwrap_or(token_roles),
        staff: staff.map(Into::into),
        terminal,
    }))
}
