//! The principal: who the caller is and what they may see — tenant, user, account,
//! enterprise, roles, permissions, data scope — resolved once per request, in one statement
//! (two for a WeChat login, which knows the identity, not the user), here and nowhere else.
//! The session's liveness is checked in the first.
//! Handlers and domain functions take the `Principal`; they do not work it out again.
//!
//! It lives in `registration` because what a terminal user may see depends on the tenant's
//! registration policy and the user's registration method (`access::decide`).

use baoxiu_accounts::enterprises::Enterprise;
use baoxiu_accounts::roles::{self, Permission, RoleRow};
use baoxiu_accounts::staff::{StaffRow, StaffUser};
use baoxiu_accounts::tenants::Tenant;
use baoxiu_accounts::terminal_users::{self, TerminalUser, UserRow};
use baoxiu_core::{DomainError, DomainResult, TenantId};
use baoxiu_devices::Viewer;
use baoxiu_store::DbConn;
use baoxiu_store::schema::{
    external_enterprises, refresh_tokens, registration_methods, registration_policies, staff_users,
    tenants, terminal_roles, terminal_user_roles, terminal_users as users, wechat_identities,
};
use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;

use crate::access::{Access, DataScope, decide};
use crate::methods::MethodRow;
use crate::policy::Policy;

/// What a verified token says of its caller: enough to find the rest.
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub tenant_id: &'a TenantId,
    /// A staff user (else a terminal user or the guest).
    pub staff: bool,
    pub subject: &'a str,
    /// The token's session: revoked, and the caller is not let in. None checks no session
    /// (a login answering about the user it has just let in).
    pub session_id: Option<&'a str>,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Identity {
    Staff(StaffUser),
    /// A terminal user or the guest, and what they may do now.
    Terminal {
        user: Box<TerminalUser>,
        access: Access,
    },
}

/// The caller of one request, resolved.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: Tenant,
    pub identity: Identity,
}

impl Principal {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.tenant_id()
    }

    /// The terminal user and their access; None for staff.
    pub fn terminal(&self) -> Option<(&TerminalUser, &Access)> {
        match &self.identity {
            Identity::Terminal { user, access } => Some((user, access)),
            Identity::Staff(_) => None,
        }
    }

    /// Whether the caller holds `permission` now (staff hold none of the terminal ones).
    pub fn may(&self, permission: Permission) -> bool {
        self.terminal()
            .is_some_and(|(_, access)| access.permissions.contains(&permission))
    }

    /// The caller as a viewer of devices: staff see every device; a terminal user with
    /// `view_devices` their account's and public ones; anyone else public ones. Callers who
    /// may see no data at all get `registration-required`.
    pub fn viewer(&self) -> DomainResult<Viewer> {
        let (user, access) = match &self.identity {
            Identity::Staff(_) => return Ok(Viewer::Staff),
            Identity::Terminal { user, access } => (user, access),
        };
        Ok(match access.require_data()? {
            DataScope::Own | DataScope::Enterprise
                if access.permissions.contains(&Permission::ViewDevices) =>
            {
                Viewer::Customer {
                    account_id: user.account_id.clone(),
                }
            }
            DataScope::Own | DataScope::Enterprise => Viewer::Customer { account_id: None },
            _ => Viewer::Public,
        })
    }
}

/// The revoked-session test, as diesel types it.
type Revoked = diesel::dsl::exists<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            diesel::dsl::Filter<
                refresh_tokens::table,
                diesel::dsl::Eq<refresh_tokens::tenant_id, String>,
            >,
            diesel::dsl::Eq<refresh_tokens::family_id, String>,
        >,
        diesel::dsl::IsNotNull<refresh_tokens::revoked_at>,
    >,
>;

/// Whether the session was revoked, as a column of the principal's first statement. No
/// session: a family id no token has, so nothing is found revoked.
fn revoked(tenant_id: &TenantId, session_id: Option<&str>) -> Revoked {
    exists(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant_id.as_str().to_owned()))
            .filter(refresh_tokens::family_id.eq(session_id.unwrap_or("").to_owned()))
            .filter(refresh_tokens::revoked_at.is_not_null()),
    )
}

fn ended() -> DomainError {
    DomainError::Unauthenticated("the session has ended; log in again")
}

/// Resolves the caller a token claims, in one statement (staff, terminal users and the
/// guest alike). Fails with `unauthenticated` when the token's session has ended.
pub fn resolve(conn: &mut DbConn, claimed: Claimed<'_>) -> DomainResult<Principal> {
    resolve_at(conn, claimed, None)
}

/// `resolve` for a unit that changes tenant data: refused with `tenant-inactive` once the
/// tenant's trial or subscription has ended at `now`, judged on the tenant row the same
/// statement reads, and before anything else about the caller (as the separate check it
/// replaces was). A caller not found costs one more statement, to tell that case alike.
pub fn resolve_active(
    conn: &mut DbConn,
    claimed: Claimed<'_>,
    now: NaiveDateTime,
) -> DomainResult<Principal> {
    match resolve_at(conn, claimed, Some(now)) {
        Err(DomainError::NotFound(what)) => {
            baoxiu_accounts::tenants::require_active(conn, claimed.tenant_id, now)?;
            Err(DomainError::NotFound(what))
        }
        other => other,
    }
}

/// Fails with `tenant-inactive` when `active_at` is given and the tenant is not active then.
fn require_active(tenant: &Tenant, active_at: Option<NaiveDateTime>) -> DomainResult<()> {
    match active_at {
        Some(now) if !tenant.is_active(now) => Err(DomainError::TenantInactive),
        _ => Ok(()),
    }
}

fn resolve_at(
    conn: &mut DbConn,
    claimed: Claimed<'_>,
    active_at: Option<NaiveDateTime>,
) -> DomainResult<Principal> {
    let tenant_id = claimed.tenant_id.as_str();
    if claimed.staff {
        let revoked = revoked(claimed.tenant_id, claimed.session_id);
        type Found = (StaffRow, Tenant, Option<chrono::NaiveDateTime>, bool);
        let found: Option<Found> = baoxiu_store::native!(conn, |c| staff_users::table
            .inner_join(tenants::table.on(tenants::id.eq(staff_users::tenant_id)))
            .filter(staff_users::tenant_id.eq(tenant_id))
            .filter(staff_users::id.eq(claimed.subject))
            .select((
                StaffRow::as_select(),
                Tenant::as_select(),
                staff_users::deleted_at,
                revoked,
            ))
            .first(c)
            .optional())?;
        let (row, tenant, deleted_at, revoked) =
            found.ok_or(DomainError::NotFound("staff user"))?;
        require_active(&tenant, active_at)?;
        // An ended session is told as such first (a deleted user's sessions all ended).
        if revoked {
            return Err(ended());
        }
        if deleted_at.is_some() {
            return Err(DomainError::NotFound("staff user"));
        }
        return Ok(Principal {
            tenant,
            identity: Identity::Staff(row.try_into()?),
        });
    }
    terminal(
        conn,
        claimed.tenant_id,
        Who::Id(claimed.subject),
        claimed.session_id,
        active_at,
    )?
    .ok_or(DomainError::NotFound("terminal user"))
}

/// How a terminal user is found.
#[derive(Clone, Copy)]
enum Who<'a> {
    Id(&'a str),
    Wechat { app_id: &'a str, openid: &'a str },
}

/// The tables of a terminal principal: the user with its tenant, enterprise, the tenant's
/// policy and the user's method. Written out, not boxed, so that each query built on them is
/// one prepared statement the connection keeps (a boxed query is built anew per request).
macro_rules! terminal_tables {
    () => {
        users::table
            .inner_join(tenants::table.on(tenants::id.eq(users::tenant_id)))
            .left_join(
                external_enterprises::table.on(external_enterprises::tenant_id
                    .eq(users::tenant_id)
                    .and(external_enterprises::id.nullable().eq(users::enterprise_id))),
            )
            .left_join(
                registration_policies::table
                    .on(registration_policies::tenant_id.eq(users::tenant_id)),
            )
            .left_join(
                registration_methods::table.on(registration_methods::tenant_id
                    .eq(users::tenant_id)
                    .and(registration_methods::id.nullable().eq(users::method_id))),
            )
    };
}

/// What `terminal_tables!` gives, and whether `revoked` (the session) holds.
macro_rules! terminal_columns {
    ($revoked:expr) => {
        (
            UserRow::as_select(),
            Tenant::as_select(),
            Option::<Enterprise>::as_select(),
            Option::<Policy>::as_select(),
            Option::<MethodRow>::as_select(),
            $revoked,
        )
    };
}

/// One terminal principal's rows, before its roles.
type Found = (
    UserRow,
    Tenant,
    Option<Enterprise>,
    Option<Policy>,
    Option<MethodRow>,
    bool,
);

/// The terminal principal `who` names. By id, in one statement: the user with its tenant,
/// enterprise, the tenant's policy, the user's method and whether `revoked` (the session)
/// holds, once for each role the user holds and for the guest role. By WeChat identity, in
/// two: the user first, then its roles and the guest role's.
fn terminal(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    who: Who<'_>,
    session_id: Option<&str>,
    active_at: Option<NaiveDateTime>,
) -> DomainResult<Option<Principal>> {
    let revoked = revoked(tenant_id, session_id);
    let tenant = tenant_id.as_str();
    let (found, own, guest) = match who {
        Who::Id(id) => {
            // Owned: a join's ON clause keeps no borrowed binds.
            let held = terminal_user_roles::table
                .filter(terminal_user_roles::tenant_id.eq(tenant.to_owned()))
                .filter(terminal_user_roles::user_id.eq(id.to_owned()))
                .select(terminal_user_roles::role_id);
            type Row = (
                UserRow,
                Tenant,
                Option<Enterprise>,
                Option<Policy>,
                Option<MethodRow>,
                bool,
                Option<RoleRow>,
                Option<String>,
            );
            let rows: Vec<Row> = baoxiu_store::native!(conn, |c| terminal_tables!()
                .left_join(
                    terminal_roles::table.on(terminal_roles::tenant_id.eq(users::tenant_id).and(
                        terminal_roles::key
                            .eq(roles::GUEST)
                            .or(terminal_roles::id.eq_any(held)),
                    )),
                )
                .left_join(
                    terminal_user_roles::table.on(terminal_user_roles::tenant_id
                        .eq(users::tenant_id)
                        .and(terminal_user_roles::user_id.eq(users::id))
                        .and(terminal_user_roles::role_id.eq(terminal_roles::id))),
                )
                .filter(users::tenant_id.eq(tenant))
                .filter(users::id.eq(id))
                .select((
                    UserRow::as_select(),
                    Tenant::as_select(),
                    Option::<Enterprise>::as_select(),
                    Option::<Policy>::as_select(),
                    Option::<MethodRow>::as_select(),
                    revoked,
                    Option::<RoleRow>::as_select(),
                    terminal_user_roles::role_id.nullable(),
                ))
                .load(c))?;
            let mut found = None;
            let mut roles = Vec::new();
            for (row, tenant, enterprise, policy, method, revoked, role, holder) in rows {
                if let Some(role) = role {
                    roles.push((role, holder.is_some()));
                }
                found.get_or_insert((row, tenant, enterprise, policy, method, revoked));
            }
            let Some(found) = found else {
                return Ok(None);
            };
            require_active(&found.1, active_at)?;
            if found.5 {
                return Err(ended());
            }
            let (own, guest) = roles::own_and_guest(roles)?;
            (found, own, guest)
        }
        Who::Wechat { app_id, openid } => {
            let found: Option<Found> = terminal_tables!()
                .filter(users::tenant_id.eq(tenant))
                .filter(
                    users::id.eq_any(
                        wechat_identities::table
                            .filter(wechat_identities::tenant_id.eq(tenant))
                            .filter(wechat_identities::app_id.eq(app_id))
                            .filter(wechat_identities::openid.eq(openid))
                            .select(wechat_identities::user_id),
                    ),
                )
                .select(terminal_columns!(revoked))
                .first(conn)
                .optional()?;
            let Some(found) = found else {
                return Ok(None);
            };
            require_active(&found.1, active_at)?;
            if found.5 {
                return Err(ended());
            }
            let (own, guest) = roles::of_user_and_guest(conn, tenant_id, found.0.id())?;
            (found, own, guest)
        }
    };
    let (row, tenant, enterprise, policy, method, _) = found;
    let user = terminal_users::assemble(row, enterprise, own)?;
    let policy = policy.unwrap_or_default();
    // A method that can no longer be read counts as one that requires registration.
    let method = method.and_then(|row| row.without_references().ok());
    let guest_permissions = guest.map(|g| g.permissions).unwrap_or_default();
    let access = decide(&user, &policy, &guest_permissions, method.as_ref());
    Ok(Some(Principal {
        tenant,
        identity: Identity::Terminal {
            user: Box::new(user),
            access,
        },
    }))
}

/// The terminal user a WeChat identity belongs to, as a principal (no session yet: a
/// login), in two statements; None for an identity nobody has.
pub fn of_wechat_identity(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    app_id: &str,
    openid: &str,
) -> DomainResult<Option<Principal>> {
    terminal(conn, tenant_id, Who::Wechat { app_id, openid }, None, None)
}

/// A terminal user as a principal, without a session (a login or registration answering
/// about the user it has just let in): the same one statement.
pub fn of_terminal_user(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_id: &str,
) -> DomainResult<Principal> {
    resolve(
        conn,
        Claimed {
            tenant_id,
            staff: false,
            subject: user_id,
            session_id: None,
        },
    )
}
