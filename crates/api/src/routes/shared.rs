//! Response shapes shared by many routes: token pairs, pages, timestamps.

use baoxiu_accounts::sessions::IssuedRefresh;
use baoxiu_core::Page;
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

/// Reads a field that may be absent (leave as is), `null` (clear) or a value (set).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A file's bytes, as an answer other than JSON (PNG, ZIP).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryFile(pub Vec<u8>);

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
