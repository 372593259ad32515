//! Who am I, and what may I do now.

use actix_web::{get, web};
use baoxiu_registration::principal::Identity;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::PrincipalCaller;
use crate::problem::ApiError;
use crate::routes::shared::{TerminalView, view_of};
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
