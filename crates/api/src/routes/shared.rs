//! Request and response shapes that several areas share: pages, timestamps, token pairs,
//! SMS codes, and the terminal user's view that logins, registration and `/me` answer with.

use baoxiu_accounts::roles::Permission;
use baoxiu_accounts::sessions::IssuedRefresh;
use baoxiu_accounts::terminal_users::TerminalUser;
use baoxiu_core::{DomainError, DomainResult, Page, TenantId};
use baoxiu_registration::access::{DataScope, RegistrationState};
use baoxiu_registration::flows::{self, ApprovalReason};
use baoxiu_registration::principal::{self, Principal};
use baoxiu_store::DbConn;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::tokens::AccessToken;

/// A stored UTC time as RFC 3339.
pub fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// JWT to send as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange it at `POST /auth/refresh`. Single use: each refresh returns a new one.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

impl TokenPair {
    pub fn new(access: AccessToken, refresh: IssuedRefresh) -> Self {
        Self {
            access_token: access.token,
            token_type: "Bearer".into(),
            expires_in: access.expires_in,
            refresh_token: refresh.token,
            refresh_expires_at: utc(refresh.expires_at),
        }
    }
}

/// One page of a list; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> PageResponse<T> {
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        let page = page.map(f);
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<baoxiu_core::PageRequest, baoxiu_core::DomainError> {
        baoxiu_core::PageRequest::new(self.limit, self.cursor.as_deref())
    }
}

/// Accepted: the code is on its way (the same answer whether or not the mobile is known).
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// Seconds the code stays valid.
    pub expires_in: i64,
    /// Seconds before another code may be asked for.
    pub resend_after: i64,
}

/// A mobile to send a login or sign-up code to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendCodeRequest {
    /// Mainland China mobile number.
    #[schema(example = "13800138000", max_length = 20)]
    pub mobile: String,
}

/// Reads a field that may be absent (leave as is), `null` (clear) or a value (set).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The external enterprise a terminal user belongs to (互联企业).
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseView {
    pub id: String,
    /// The account's name once registered; `微信用户` for a WeChat user's own until then.
    pub name: String,
    /// The account it is linked to, once one of its users has registered.
    pub account_id: Option<String>,
}

impl From<baoxiu_accounts::enterprises::Enterprise> for EnterpriseView {
    fn from(e: baoxiu_accounts::enterprises::Enterprise) -> Self {
        Self {
            id: e.id,
            name: e.name,
            account_id: e.account_id,
        }
    }
}

/// Where a request awaiting a decision stands (the document's enum; answered as text).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Decision {
    Pending,
    Approved,
    Rejected,
}

/// The newest registration of the caller, when it went through approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationStatus {
    /// `pending`, `approved` or `rejected`.
    #[schema(value_type = Decision)]
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
    #[schema(value_type = Vec<crate::routes::roles::PermissionDto>)]
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

/// A file's bytes, as an answer other than JSON (PNG, ZIP, photos).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryFile(pub Vec<u8>);

/// Problem answers that several operations document alike, for `responses(...)` beside the
/// operation's own: `responses((status = 200, …), Stale)`.
pub mod answers {
    use std::collections::BTreeMap;

    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

    fn problems(answers: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
        answers
            .iter()
            .map(|(status, description)| {
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build();
                let response = ResponseBuilder::new()
                    .description(*description)
                    .content("application/problem+json", content)
                    .build();
                ((*status).to_owned(), RefOr::T(response))
            })
            .collect()
    }

    /// 412: an `If-Match` naming a version older than the stored one.
    pub struct Stale;

    impl utoipa::IntoResponses for Stale {
        fn responses() -> BTreeMap<String, RefOr<Response>> {
            problems(&[("412", "Changed since it was read")])
        }
    }

    /// The limits on sending a login code (staff and terminal alike).
    pub struct SmsCodeLimits;

    impl utoipa::IntoResponses for SmsCodeLimits {
        fn responses() -> BTreeMap<String, RefOr<Response>> {
            problems(&[(
                "429",
                "Sent too often (to this mobile: one a minute and 10 a day per tenant, 20 a day over all tenants; from this client address: 30 an hour over all tenants), or too many requests to the login and SMS routes (`rate-limited`); see Retry-After",
            )])
        }
    }

    /// Why a WeChat login (Mini Program or Official Account) does not log in.
    pub struct WechatLoginRefusals;

    impl utoipa::IntoResponses for WechatLoginRefusals {
        fn responses() -> BTreeMap<String, RefOr<Response>> {
            problems(&[
                (
                    "401",
                    "The WeChat code is invalid or used (`wechat-code-invalid`)",
                ),
                ("403", "`not-activated`, or WeChat refused a high-risk user"),
                ("409", "No terminal-user seat left (`seats-exhausted`)"),
                (
                    "429",
                    "WeChat's rate limit, or too many requests to the login and SMS routes from this client address or from all clients together (`rate-limited`); see Retry-After",
                ),
                ("503", "WeChat is not answering"),
            ])
        }
    }
}
