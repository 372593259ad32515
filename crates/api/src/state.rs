//! What every handler can reach: the database, the clock, tokens, the SMS sender, config,
//! the blob store and the job runner's waker.

use std::sync::Arc;

use actix_web::web;
use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_core::{Actor, ActorKind, Clock, DomainResult, TenantId};
use baoxiu_registration::principal::{self, Claimed, Principal};
use baoxiu_store::{Db, DbConn, Tx, Work};
use baoxiu_wechat::hosts::HostVerifier;
use baoxiu_wechat::registry::BusinessRegistry;
use baoxiu_wechat::sms::{DevSmsSender, SmsSender};
use baoxiu_wechat::wechat::WechatAuth;
use chrono::NaiveDateTime;

use crate::config::Config;
use crate::extract::{Caller, SessionCheck};
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
    /// Where stored files (attachments' photos) live; calls block.
    pub blobs: Arc<dyn baoxiu_store::blobs::BlobStore>,
}

impl AppState {
    /// Now, as stored in the database (UTC).
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    /// Runs one unit of work off the async workers (`web::block` takes the pool
    /// connection there too): the one way a request reaches the database.
    async fn run<T: Send + 'static>(
        &self,
        work: Work,
        who: &impl Acting,
        tenant_must_be_active: bool,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        let actor = who.actor();
        let session = who.session();
        let now = self.now();
        Ok(web::block(move || {
            db.run_after(
                work,
                actor,
                now,
                |conn| session.verify(conn),
                |tx| {
                    if tenant_must_be_active {
                        baoxiu_accounts::tenants::require_active(
                            tx.conn,
                            &tx.actor.tenant_id,
                            now,
                        )?;
                    }
                    f(tx)
                },
            )
        })
        .await??)
    }

    /// Checks the session `who` carries unchecked (`SessionCheck`), for a handler that
    /// acts before its first unit of work or reaches the database some other way.
    pub async fn check_session(&self, who: &impl Acting) -> Result<(), ApiError> {
        self.run(Work::Read, who, false, |_| Ok(())).await
    }

    /// Reads, without a transaction.
    pub async fn read<T: Send + 'static>(
        &self,
        who: &impl Acting,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(Work::Read, who, false, f).await
    }

    /// Reads on behalf of `caller`, whose principal (session, identity, access) is
    /// resolved first on the same connection, in one statement: the one place a
    /// request works out who is calling.
    pub async fn read_as<T: Send + 'static>(
        &self,
        caller: &Caller,
        f: impl FnOnce(&mut Tx<'_>, &Principal) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let claimed = caller.clone();
        self.run(Work::Read, caller, false, move |tx| {
            let principal = resolve_principal(tx.conn, &claimed)?;
            f(tx, &principal)
        })
        .await
    }

    /// Writes one statement that needs no transaction (see `Work::Single`).
    pub async fn write_one<T: Send + 'static>(
        &self,
        who: &impl Acting,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(Work::Single, who, false, f).await
    }

    /// Writes in one transaction whatever the tenant's subscription: logins, sessions,
    /// sign-up, the platform's own changes.
    pub async fn write<T: Send + 'static>(
        &self,
        who: &impl Acting,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(Work::Write, who, false, f).await
    }

    /// Changes tenant data in one transaction, refused with `tenant-inactive` once the
    /// tenant's trial or subscription has ended.
    pub async fn change<T: Send + 'static>(
        &self,
        who: &impl Acting,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(Work::Write, who, true, f).await
    }

    /// As `change`, on behalf of `caller`, whose principal is resolved first on the same
    /// connection: the tenant's subscription is judged on the tenant row the principal's one
    /// statement reads (`principal::resolve_active`), not read again.
    pub async fn change_as<T: Send + 'static>(
        &self,
        caller: &Caller,
        f: impl FnOnce(&mut Tx<'_>, &Principal) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let claimed = caller.clone();
        let now = self.now();
        self.run(Work::Write, caller, false, move |tx| {
            let principal = principal::resolve_active(tx.conn, claims_of(&claimed), now)?;
            f(tx, &principal)
        })
        .await
    }

    /// As `change`, for work that checks a tenant-wide rule before it writes (seats, the
    /// last admin, one account per company): the tenant's row is locked first.
    pub async fn change_locked<T: Send + 'static>(
        &self,
        who: &impl Acting,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run(Work::Locked, who, true, f).await
    }
}

/// Who acts in a unit of work: every caller extractor, and `Anonymous` for the routes a
/// caller reaches before logging in.
pub trait Acting {
    fn actor(&self) -> Actor;

    /// The caller's session when it is still to be checked (staff callers): with the
    /// first unit of work the request runs.
    fn session(&self) -> SessionCheck {
        SessionCheck::default()
    }
}

impl Acting for Actor {
    fn actor(&self) -> Actor {
        self.clone()
    }
}

/// Nobody logged in yet, in a tenant (logins, scanning, sign-up): the system acts.
#[derive(Debug, Clone)]
pub struct Anonymous {
    pub tenant_id: TenantId,
    pub request_id: String,
}

impl Acting for Anonymous {
    fn actor(&self) -> Actor {
        Actor {
            tenant_id: self.tenant_id.clone(),
            kind: ActorKind::System,
            id: "anonymous".into(),
            request_id: Some(self.request_id.clone()),
        }
    }
}

impl Acting for crate::extract::Caller {
    fn actor(&self) -> Actor {
        crate::extract::Caller::actor(self)
    }
}

impl Acting for crate::extract::StaffCaller {
    fn actor(&self) -> Actor {
        self.caller.actor()
    }

    fn session(&self) -> SessionCheck {
        self.session.clone()
    }
}

impl Acting for crate::extract::AdminCaller {
    fn actor(&self) -> Actor {
        self.0.caller.actor()
    }

    fn session(&self) -> SessionCheck {
        self.0.session.clone()
    }
}

impl Acting for crate::extract::TerminalCaller {
    fn actor(&self) -> Actor {
        self.unresolved().actor()
    }
}

impl Acting for crate::extract::RegistrantCaller {
    fn actor(&self) -> Actor {
        self.0.actor()
    }
}

impl Acting for crate::extract::TenantScope {
    fn actor(&self) -> Actor {
        Anonymous {
            tenant_id: self.tenant_id.clone(),
            request_id: self.request_id.clone(),
        }
        .actor()
    }
}

impl Acting for crate::extract::PlatformCaller {
    /// The operator, outside any tenant (the platform's own rows live under `platform`).
    fn actor(&self) -> Actor {
        self.in_tenant(TenantId(PLATFORM_TENANT.into()))
    }
}

/// The tenant id the platform's own rows (jobs, audit) are kept under.
pub const PLATFORM_TENANT: &str = "platform";

impl crate::extract::PlatformCaller {
    /// The operator acting on one tenant.
    pub fn in_tenant(&self, tenant_id: TenantId) -> Actor {
        Actor {
            tenant_id,
            kind: ActorKind::Platform,
            id: self.operator.clone(),
            request_id: Some(self.request_id.clone()),
        }
    }
}

/// No one, in no tenant: the routes that find their tenant from what they are sent (a
/// refresh token, a sign-up) and write no audit entry before they know it.
#[derive(Debug, Clone, Copy)]
pub struct Nobody;

impl Acting for Nobody {
    fn actor(&self) -> Actor {
        Actor {
            tenant_id: TenantId(PLATFORM_TENANT.into()),
            kind: ActorKind::System,
            id: "anonymous".into(),
            request_id: None,
        }
    }
}

/// The principal of a caller whose token was verified (and admitted) already.
pub fn resolve_principal(conn: &mut DbConn, caller: &Caller) -> DomainResult<Principal> {
    principal::resolve(conn, claims_of(caller))
}

fn claims_of(caller: &Caller) -> Claimed<'_> {
    Claimed {
        tenant_id: &caller.tenant_id,
        staff: caller.kind == TokenKind::Staff,
        subject: &caller.subject,
        session_id: caller.session_id.as_deref(),
    }
}
