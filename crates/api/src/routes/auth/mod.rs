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

/// The longest SMS code a login or sign-up takes (the codes sent are 6 digits).
pub const MAX_SMS_CODE_CHARS: usize = 8;
/// The longest WeChat `wx.login` or OAuth code taken.
pub const MAX_WECHAT_CODE_CHARS: usize = 128;
/// The longest WeChat app id taken (as `create_wechat_app` allows).
pub const MAX_APP_ID_CHARS: usize = 32;
/// The longest refresh token taken (those handed out are 80 characters).
pub const MAX_REFRESH_TOKEN_CHARS: usize = 128;

/// Refuses, before any database work, every login field longer than its documented limit:
/// 422 naming each such field (`(field, value, most characters)`; absent values pass).
pub fn check_lengths(fields: &[(&str, Option<&str>, usize)]) -> Result<(), ApiError> {
    let mut errors = baoxiu_core::Validator::new();
    for (field, value, max) in fields {
        if let Some(value) = value {
            errors.check(
                value.chars().count() <= *max,
                field,
                "too_long",
                &format!("at most {max} characters"),
            );
        }
    }
    Ok(errors.finish()?)
}

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
