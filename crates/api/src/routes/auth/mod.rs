//! Signing in and out: staff logins, terminal logins (WeChat, SMS, guest), refresh and logout.
//!
//! Every login (and the provider sign-up, and a refresh) answers the same token pair,
//! made in one place: [`login_answer`].

use baoxiu_accounts::sessions::IssuedRefresh;
use baoxiu_accounts::staff::StaffUser;
use baoxiu_accounts::terminal_users::TerminalUser;
use baoxiu_core::TenantId;

use crate::problem::ApiError;
use crate::routes::shared::TokenPair;
use crate::state::AppState;
use crate::tokens::{TokenKind, WechatClaim};

pub mod staff;
pub mod terminal;

/// Whom a login's tokens are for: what the access token carries.
pub struct LoginSubject {
    pub tenant_id: TenantId,
    pub kind: TokenKind,
    pub id: String,
    pub roles: Vec<String>,
    /// The WeChat identity the session came from, if any.
    pub wx: Option<WechatClaim>,
}

impl LoginSubject {
    /// A staff user, with their role.
    pub fn staff(staff: &StaffUser) -> Self {
        Self {
            tenant_id: TenantId(staff.tenant_id.clone()),
            kind: TokenKind::Staff,
            id: staff.id.clone(),
            roles: vec![staff.role.as_str().to_owned()],
            wx: None,
        }
    }

    /// A terminal user (or the guest), with their roles.
    pub fn terminal(tenant_id: &TenantId, user: &TerminalUser, wx: Option<WechatClaim>) -> Self {
        Self {
            tenant_id: tenant_id.clone(),
            kind: if user.is_guest {
                TokenKind::Guest
            } else {
                TokenKind::Terminal
            },
            id: user.id.clone(),
            roles: user.role_keys(),
            wx,
        }
    }
}

/// The token pair a login answers: an access token for `subject`, bound to the session
/// the refresh token belongs to.
pub fn login_answer(
    state: &AppState,
    subject: LoginSubject,
    refresh: IssuedRefresh,
) -> Result<TokenPair, ApiError> {
    let access = state.tokens.issue(
        &subject.tenant_id,
        subject.kind,
        &subject.id,
        subject.roles,
        Some(refresh.session_id.clone()),
        subject.wx,
    )?;
    Ok(TokenPair::new(access, refresh))
}
