//! What every handler can reach: the database, the clock, tokens, the SMS sender, config,
//! and the job runner's waker.

use std::sync::Arc;

use actix_web::web;
use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_core::{Clock, DomainResult, TenantId};
use baoxiu_registration::principal::{self, Claimed, Principal};
use baoxiu_store::{Db, DbConn};
use baoxiu_wechat::hosts::HostVerifier;
use baoxiu_wechat::registry::BusinessRegistry;
use baoxiu_wechat::sms::{DevSmsSender, SmsSender};
use baoxiu_wechat::wechat::WechatAuth;
use chrono::NaiveDateTime;

use crate::config::Config;
use crate::extract::Caller;
use crate::hashing::PasswordHashing;
use crate::limits::AuthLimits;
use crate::problem::ApiError;
use crate::proxies::TrustedProxies;
use crate::tokens::{TokenKind, TokenService};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub tokens: Arc<TokenService>,
    pub sms: Arc<dyn SmsSender>,
    /// Present in development mode only: what the fake SMS sender "sent".
    pub dev_sms: Option<DevSmsSender>,
    pub wechat: Arc<dyn WechatAuth>,
    /// None when no registry is configured.
    pub registry: Option<Arc<dyn BusinessRegistry>>,
    /// Checks that a custom host is the tenant's before it is approved.
    pub hosts: Arc<dyn HostVerifier>,
    pub secrets_key: SecretsKey,
    /// `trusted_proxies`, parsed: who a request's client is (`proxies::client_address`).
    pub trusted_proxies: TrustedProxies,
    /// This node's request rates on the unauthenticated routes.
    pub auth_limits: Arc<AuthLimits>,
    /// This process's password-hash threads and the places to wait for them.
    pub password_hashing: PasswordHashing,
    pub config: Arc<Config>,
    /// The QR images this process may draw at once (`render_concurrency`); see `renders`.
    pub renders: Arc<tokio::sync::Semaphore>,
    /// Wakes this process's job runner after a transaction that enqueued jobs commits.
    pub jobs: baoxiu_jobs::Waker,
}

impl AppState {
    /// Now, as stored in the database (UTC).
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    /// Runs read-only domain work in one transaction, off the async workers.
    pub async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConn) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        Ok(web::block(move || db.read(work)).await??)
    }

    /// Runs read-only domain work on behalf of `caller`, whose principal (session, identity,
    /// access) is resolved first on the same connection, in its own two statements at
    /// most: the one place a request works out who is calling.
    pub async fn read_as<T: Send + 'static>(
        &self,
        caller: &Caller,
        work: impl FnOnce(&mut DbConn, &Principal) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let caller = caller.clone();
        self.read(move |conn| {
            let principal = resolve_principal(conn, &caller)?;
            work(conn, &principal)
        })
        .await
    }

    /// Runs domain work that writes in one transaction: all of it commits, or none.
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConn) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        Ok(web::block(move || db.write(work)).await??)
    }

    /// A write on behalf of a tenant, refused with `tenant-inactive` once its trial or
    /// subscription has ended. Every staff change to tenant data goes through here.
    pub async fn write_in_tenant<T: Send + 'static>(
        &self,
        tenant_id: &TenantId,
        work: impl FnOnce(&mut DbConn) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let tenant_id = tenant_id.clone();
        let now = self.now();
        self.write(move |conn| {
            baoxiu_accounts::tenants::require_active(conn, &tenant_id, now)?;
            work(conn)
        })
        .await
    }
}

/// The principal of a caller whose token was verified (and admitted) already.
pub fn resolve_principal(conn: &mut DbConn, caller: &Caller) -> DomainResult<Principal> {
    principal::resolve(
        conn,
        Claimed {
            tenant_id: &caller.tenant_id,
            staff: caller.kind == TokenKind::Staff,
            subject: &caller.subject,
            session_id: caller.session_id.as_deref(),
        },
    )
}
