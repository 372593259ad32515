//! Terminal users: end customers' login identities. Each but the guest belongs to an
//! external enterprise (see `enterprises`), may be linked to an account and a contact,
//! holds roles, and has WeChat identities (one per WeChat app) and/or a mobile. One shared
//! user per tenant is the guest.

use baoxiu_core::{DomainError, DomainResult, Page, PageRequest, TenantId, new_id};
use baoxiu_store::schema::{
    external_enterprises, terminal_user_roles, terminal_users, wechat_identities,
};
use baoxiu_store::{DbConn, is_unique_violation};
use baoxiu_store::{Tx, Versioned};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enterprises::{self, Enterprise};
use crate::roles::{self, Permission, Role};

baoxiu_core::text_enum! {
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminalStatus {
    /// May log in and act by its roles (registered or not).
    Active = "active",
    /// Known (by WeChat or mobile) but must register before it counts as a customer.
    Unregistered = "unregistered",
    /// Registered through a method that needs staff approval; waiting.
    AwaitingApproval = "awaiting_approval",
    /// The registration was rejected; the user may register again.
    Rejected = "rejected",
    /// Turned off by an admin: cannot log in.
    Disabled = "disabled",
}
}

#[derive(Debug, Clone, Serialize)]
pub struct TerminalUser {
    pub id: String,
    pub is_guest: bool,
    /// None for the guest.
    pub enterprise: Option<Enterprise>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub mobile: Option<String>,
    pub status: TerminalStatus,
    pub method_id: Option<String>,
    pub roles: Vec<Role>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl TerminalUser {
    /// Linked to an account and a contact.
    pub fn is_registered(&self) -> bool {
        self.account_id.is_some() && self.contact_id.is_some()
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.roles
            .iter()
            .any(|r| r.permissions.contains(&permission))
    }

    pub fn role_keys(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.key.clone()).collect()
    }
}

/// A terminal user's row as stored (with `assemble`, what other crates' joins build a
/// `TerminalUser` from).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = terminal_users)]
pub struct UserRow {
    id: String,
    kind: String,
    enterprise_id: Option<String>,
    account_id: Option<String>,
    contact_id: Option<String>,
    mobile: Option<String>,
    status: String,
    method_id: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A user from its row, its enterprise (joined) and its roles (`roles::of_users`).
pub fn assemble(
    row: UserRow,
    enterprise: Option<Enterprise>,
    roles: Vec<Role>,
) -> DomainResult<TerminalUser> {
    Ok(TerminalUser {
        is_guest: row.kind == "guest",
        status: TerminalStatus::from_stored(&row.status)?,
        id: row.id,
        enterprise: enterprise.filter(|_| row.enterprise_id.is_some()),
        account_id: row.account_id,
        contact_id: row.contact_id,
        mobile: row.mobile,
        method_id: row.method_id,
        roles,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Users of a tenant with their enterprise (left joined), boxed: one statement however
/// many rows. Filter and order it, then `load_many`.
macro_rules! with_enterprise {
    ($tenant_id:expr) => {
        terminal_users::table
            .left_join(
                external_enterprises::table.on(external_enterprises::tenant_id
                    .eq(terminal_users::tenant_id)
                    .and(
                        external_enterprises::id
                            .nullable()
                            .eq(terminal_users::enterprise_id),
                    )),
            )
            .filter(terminal_users::tenant_id.eq($tenant_id.as_str().to_owned()))
            .into_boxed()
    };
}

type Joined = (UserRow, Option<Enterprise>);

/// Users from joined rows, their roles loaded in one more statement.
fn load_many(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    rows: Vec<Joined>,
) -> DomainResult<Vec<TerminalUser>> {
    let ids: Vec<String> = rows.iter().map(|(row, _)| row.id.clone()).collect();
    let mut roles = roles::of_users(conn, tenant_id, &ids)?;
    rows.into_iter()
        .map(|(row, enterprise)| {
            let mine = roles.remove(&row.id).unwrap_or_default();
            assemble(row, enterprise, mine)
        })
        .collect()
}

fn load(conn: &mut DbConn, tenant_id: &TenantId, row: Joined) -> DomainResult<TerminalUser> {
    load_many(conn, tenant_id, vec![row])?
        .pop()
        .ok_or(DomainError::NotFound("terminal user"))
}

/// Replaces a user's roles.
pub fn set_roles(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_id: &str,
    role_ids: &[String],
) -> DomainResult<()> {
    diesel::delete(
        terminal_user_roles::table
            .filter(terminal_user_roles::tenant_id.eq(tenant_id.as_str()))
            .filter(terminal_user_roles::user_id.eq(user_id)),
    )
    .execute(conn)?;
    let mut unique: Vec<&String> = role_ids.iter().collect();
    unique.sort();
    unique.dedup();
    for role_id in unique {
        diesel::insert_into(terminal_user_roles::table)
            .values((
                terminal_user_roles::tenant_id.eq(tenant_id.as_str()),
                terminal_user_roles::user_id.eq(user_id),
                terminal_user_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NewTerminalUser {
    pub enterprise_id: Option<String>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub mobile: Option<String>,
    pub status: TerminalStatus,
    pub method_id: Option<String>,
    pub role_ids: Vec<String>,
}

pub fn create(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    input: NewTerminalUser,
    now: NaiveDateTime,
) -> DomainResult<TerminalUser> {
    let id = new_id();
    insert(conn, tenant_id, &id, "user", &input, now)?;
    set_roles(conn, tenant_id, &id, &input.role_ids)?;
    get(conn, tenant_id, &id)
}

fn insert(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    kind: &str,
    input: &NewTerminalUser,
    now: NaiveDateTime,
) -> DomainResult<()> {
    diesel::insert_into(terminal_users::table)
        .values((
            terminal_users::tenant_id.eq(tenant_id.as_str()),
            terminal_users::id.eq(id),
            terminal_users::kind.eq(kind),
            terminal_users::enterprise_id.eq(&input.enterprise_id),
            terminal_users::account_id.eq(&input.account_id),
            terminal_users::contact_id.eq(&input.contact_id),
            terminal_users::mobile.eq(&input.mobile),
            terminal_users::status.eq(input.status.as_str()),
            terminal_users::method_id.eq(&input.method_id),
            terminal_users::version.eq(1),
            terminal_users::created_at.eq(now),
            terminal_users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<TerminalUser> {
    let row = with_enterprise!(tenant_id)
        .filter(terminal_users::id.eq(id.to_owned()))
        .select((UserRow::as_select(), Option::<Enterprise>::as_select()))
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("terminal user"))?;
    load(conn, tenant_id, row)
}

/// The tenant's one guest user, created on first use with the guest role.
pub fn guest(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    now: NaiveDateTime,
) -> DomainResult<TerminalUser> {
    let existing = with_enterprise!(tenant_id)
        .filter(terminal_users::kind.eq("guest"))
        .select((UserRow::as_select(), Option::<Enterprise>::as_select()))
        .first(conn)
        .optional()?;
    if let Some(row) = existing {
        return load(conn, tenant_id, row);
    }
    let guest_role = roles::by_key(conn, tenant_id, roles::GUEST)?;
    let id = format!("{tenant_id}-guest");
    let input = NewTerminalUser {
        enterprise_id: None,
        account_id: None,
        contact_id: None,
        mobile: None,
        status: TerminalStatus::Active,
        method_id: None,
        role_ids: vec![guest_role.id],
    };
    insert(conn, tenant_id, &id, "guest", &input, now)?;
    set_roles(conn, tenant_id, &id, &input.role_ids)?;
    get(conn, tenant_id, &id)
}

pub fn find_by_identity(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    app_id: &str,
    openid: &str,
) -> DomainResult<Option<TerminalUser>> {
    let user_id: Option<String> = wechat_identities::table
        .filter(wechat_identities::tenant_id.eq(tenant_id.as_str()))
        .filter(wechat_identities::app_id.eq(app_id))
        .filter(wechat_identities::openid.eq(openid))
        .select(wechat_identities::user_id)
        .first(conn)
        .optional()?;
    user_id.map(|id| get(conn, tenant_id, &id)).transpose()
}

/// Binds a WeChat identity to a user; one identity belongs to one user.
pub fn add_identity(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_id: &str,
    app_id: &str,
    openid: &str,
    unionid: Option<&str>,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let inserted = diesel::insert_into(wechat_identities::table)
        .values((
            wechat_identities::tenant_id.eq(tenant_id.as_str()),
            wechat_identities::id.eq(new_id()),
            wechat_identities::user_id.eq(user_id),
            wechat_identities::app_id.eq(app_id),
            wechat_identities::openid.eq(openid),
            wechat_identities::unionid.eq(unionid),
            wechat_identities::created_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(DomainError::conflict(
            "wechat-identity-taken",
            "this WeChat identity belongs to another user",
        )),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// The non-guest user with this mobile, if any (the newest, should there be several).
pub fn find_by_mobile(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    mobile: &str,
) -> DomainResult<Option<TerminalUser>> {
    let row = with_enterprise!(tenant_id)
        .filter(terminal_users::kind.eq("user"))
        .filter(terminal_users::mobile.eq(mobile.to_owned()))
        .order(terminal_users::created_at.desc())
        .select((UserRow::as_select(), Option::<Enterprise>::as_select()))
        .first(conn)
        .optional()?;
    row.map(|row| load(conn, tenant_id, row)).transpose()
}

pub fn find_by_contact(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    contact_id: &str,
) -> DomainResult<Option<TerminalUser>> {
    let row = with_enterprise!(tenant_id)
        .filter(terminal_users::contact_id.eq(contact_id.to_owned()))
        .select((UserRow::as_select(), Option::<Enterprise>::as_select()))
        .first(conn)
        .optional()?;
    row.map(|row| load(conn, tenant_id, row)).transpose()
}

/// Seats in use: active, non-guest users.
pub fn seats_in_use(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<i64> {
    Ok(terminal_users::table
        .filter(terminal_users::tenant_id.eq(tenant_id.as_str()))
        .filter(terminal_users::kind.eq("user"))
        .filter(terminal_users::status.eq(TerminalStatus::Active.as_str()))
        .count()
        .get_result(conn)?)
}

/// Links a user to an account and contact and sets its status (registration, activation).
/// Moves a user to `status` (linking it to an account, contact and mobile when `link` is
/// given), only where its status is still one of `from`: answers the rows changed (0 when
/// another request changed the user first, such as an admin's disable).
pub fn set_registration(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    from: &[TerminalStatus],
    link: Option<(&str, &str, &str)>,
    status: TerminalStatus,
    now: NaiveDateTime,
) -> DomainResult<usize> {
    let target = terminal_users::table
        .filter(terminal_users::tenant_id.eq(tenant_id.as_str()))
        .filter(terminal_users::id.eq(id));
    let changed = diesel::update(
        target.filter(terminal_users::status.eq_any(from.iter().map(|s| s.as_str()))),
    )
    .set((
        terminal_users::status.eq(status.as_str()),
        terminal_users::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(0);
    }
    if let Some((account_id, contact_id, mobile)) = link {
        let before: Option<String> = target.select(terminal_users::enterprise_id).first(conn)?;
        let enterprise =
            enterprises::join_account(conn, tenant_id, before.as_deref(), account_id, now)?;
        diesel::update(target)
            .set((
                terminal_users::account_id.eq(account_id),
                terminal_users::contact_id.eq(contact_id),
                terminal_users::mobile.eq(mobile),
                terminal_users::enterprise_id.eq(&enterprise.id),
            ))
            .execute(conn)?;
        if let Some(old) = before.filter(|old| *old != enterprise.id) {
            enterprises::remove_if_unused(conn, tenant_id, &old)?;
        }
    }
    Ok(changed)
}

#[derive(Debug, Default, Clone)]
pub struct TerminalUserFilter {
    pub status: Option<TerminalStatus>,
    pub account_id: Option<String>,
}

/// How the list pages: oldest first.
pub const TERMINAL_USERS: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("terminal_users");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &TerminalUserFilter,
    page: &PageRequest,
) -> DomainResult<Page<TerminalUser>> {
    let mut query = with_enterprise!(tenant_id).filter(terminal_users::kind.eq("user"));
    if let Some(status) = filter.status {
        query = query.filter(terminal_users::status.eq(status.as_str()));
    }
    if let Some(account_id) = &filter.account_id {
        query = query.filter(terminal_users::account_id.eq(account_id.clone()));
    }
    let rows = baoxiu_store::paginate(
        query,
        terminal_users::created_at,
        terminal_users::id,
        &TERMINAL_USERS,
        page,
    )?
    .select((UserRow::as_select(), Option::<Enterprise>::as_select()))
    .load(conn)?;
    let users = load_many(conn, tenant_id, rows)?;
    Ok(page.finish(&TERMINAL_USERS, users, |u| (u.created_at, u.id.clone())))
}

#[derive(Debug, Default, Clone)]
pub struct TerminalUserChanges {
    pub role_ids: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// An admin changes a user's roles or turns it off (which ends its sessions).
pub fn update(
    tx: &mut Tx<'_>,
    id: &str,
    changes: TerminalUserChanges,
    expected_version: Option<i32>,
) -> DomainResult<TerminalUser> {
    tx.update_versioned(
        Versioned {
            action: "terminal_user.update",
            object_type: "terminal_user",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            if before.is_guest {
                return Err(DomainError::NotFound("terminal user"));
            }
            if let Some(role_ids) = &changes.role_ids {
                roles::check_assignable(tx.conn, &tx.actor.tenant_id, "role_ids", role_ids)?;
                set_roles(tx.conn, &tx.actor.tenant_id, id, role_ids)?;
            }
            let status = match changes.disabled {
                Some(true) => TerminalStatus::Disabled,
                // Re-enabling takes a seat again.
                Some(false) if before.status == TerminalStatus::Disabled => TerminalStatus::Active,
                _ => before.status,
            };
            let rows = diesel::update(
                terminal_users::table
                    .filter(terminal_users::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(terminal_users::id.eq(id))
                    .filter(terminal_users::version.eq(before.version)),
            )
            .set((
                terminal_users::status.eq(status.as_str()),
                terminal_users::version.eq(before.version + 1),
                terminal_users::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)?;
            if status == TerminalStatus::Disabled && before.status != TerminalStatus::Disabled {
                crate::sessions::revoke_subject(tx.conn, &tx.actor.tenant_id, id, tx.now)?;
            }
            Ok(rows)
        },
    )
}
