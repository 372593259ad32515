//! Terminal roles: named sets of permissions for terminal users. `guest` and
//! `end_customer` are built in; the guest role cannot be changed or removed.

use baoxiu_core::{DomainError, DomainResult, TenantId, Validator, new_id};
use baoxiu_core::{Keyset, Page, PageRequest};
use baoxiu_store::schema::{
    registration_method_roles, registration_methods, terminal_roles, terminal_user_roles,
};
use baoxiu_store::{Change, Tx, Versioned};
use baoxiu_store::{DbConn, is_unique_violation};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

pub const GUEST: &str = "guest";
pub const END_CUSTOMER: &str = "end_customer";

pub use baoxiu_core::Permission;

#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: String,
    pub key: String,
    pub name: String,
    pub permissions: Vec<Permission>,
    pub built_in: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A role as stored: read with `RoleRow::as_select()` where a role joins another query (the
/// principal), turned into a `Role` with `try_from`.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = terminal_roles)]
pub struct RoleRow {
    id: String,
    key: String,
    name: String,
    permissions_json: String,
    built_in: bool,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<RoleRow> for Role {
    type Error = DomainError;

    fn try_from(row: RoleRow) -> DomainResult<Self> {
        Ok(Self {
            permissions: serde_json::from_str(&row.permissions_json)
                .map_err(|e| DomainError::Internal(format!("stored permissions: {e}")))?,
            id: row.id,
            key: row.key,
            name: row.name,
            built_in: row.built_in,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A role row to insert.
struct RoleRecord<'a> {
    id: &'a str,
    key: &'a str,
    name: &'a str,
    permissions: &'a [Permission],
    built_in: bool,
}

fn insert(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    role: RoleRecord<'_>,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let RoleRecord {
        id,
        key,
        name,
        permissions,
        built_in,
    } = role;
    let inserted = diesel::insert_into(terminal_roles::table)
        .values((
            terminal_roles::tenant_id.eq(tenant_id.as_str()),
            terminal_roles::id.eq(id),
            terminal_roles::key.eq(key),
            terminal_roles::name.eq(name),
            terminal_roles::permissions_json
                .eq(serde_json::to_string(permissions).unwrap_or_else(|_| "[]".into())),
            terminal_roles::built_in.eq(built_in),
            terminal_roles::version.eq(1),
            terminal_roles::created_at.eq(now),
            terminal_roles::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(DomainError::invalid(
            "key",
            "taken",
            "another role has this key",
        )),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Creates the built-in roles of a new tenant (ids as the migration gives older tenants).
pub fn seed_built_in(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    now: NaiveDateTime,
) -> DomainResult<()> {
    use Permission::*;
    let guest_id = format!("{tenant_id}-guest");
    insert(
        conn,
        tenant_id,
        RoleRecord {
            id: &guest_id,
            key: GUEST,
            name: "Guest",
            permissions: &[SubmitWorkOrder, ViewKnowledgeBase],
            built_in: true,
        },
        now,
    )?;
    let end_customer_id = format!("{tenant_id}-end-customer");
    insert(
        conn,
        tenant_id,
        RoleRecord {
            id: &end_customer_id,
            key: END_CUSTOMER,
            name: "End customer",
            permissions: &[
                SubmitWorkOrder,
                ViewOwnWorkOrders,
                ViewDevices,
                ViewKnowledgeBase,
            ],
            built_in: true,
        },
        now,
    )
}

/// How the list of roles pages: oldest first (the built-in ones lead).
pub const ROLES: Keyset = Keyset::oldest_first("terminal_roles");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    page: &PageRequest,
) -> DomainResult<Page<Role>> {
    let query = terminal_roles::table
        .filter(terminal_roles::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let rows = baoxiu_store::paginate(
        query,
        terminal_roles::created_at,
        terminal_roles::id,
        &ROLES,
        page,
    )?
    .select(RoleRow::as_select())
    .load(conn)?
    .into_iter()
    .map(Role::try_from)
    .collect::<DomainResult<Vec<_>>>()?;
    Ok(page.finish(&ROLES, rows, |r| (r.created_at, r.id.clone())))
}

/// The roles of each of `user_ids`, in one statement, each user's sorted by key (users
/// without roles are absent).
pub fn of_users(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_ids: &[String],
) -> DomainResult<std::collections::HashMap<String, Vec<Role>>> {
    let mut roles: std::collections::HashMap<String, Vec<Role>> = Default::default();
    if user_ids.is_empty() {
        return Ok(roles);
    }
    let rows: Vec<(String, RoleRow)> = terminal_user_roles::table
        .inner_join(
            terminal_roles::table.on(terminal_roles::tenant_id
                .eq(terminal_user_roles::tenant_id)
                .and(terminal_roles::id.eq(terminal_user_roles::role_id))),
        )
        .filter(terminal_user_roles::tenant_id.eq(tenant_id.as_str()))
        .filter(terminal_user_roles::user_id.eq_any(user_ids))
        .select((terminal_user_roles::user_id, RoleRow::as_select()))
        .load(conn)?;
    for (user_id, row) in rows {
        roles.entry(user_id).or_default().push(row.try_into()?);
    }
    for list in roles.values_mut() {
        list.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(roles)
}

/// One user's roles (sorted by key) and the tenant's guest role, in one statement: what a
/// terminal principal needs of roles.
pub fn of_user_and_guest(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_id: &str,
) -> DomainResult<(Vec<Role>, Option<Role>)> {
    let rows: Vec<(RoleRow, Option<String>)> = terminal_roles::table
        .left_join(
            terminal_user_roles::table.on(terminal_user_roles::tenant_id
                .eq(terminal_roles::tenant_id)
                .and(terminal_user_roles::role_id.eq(terminal_roles::id))
                .and(terminal_user_roles::user_id.eq(user_id))),
        )
        .filter(terminal_roles::tenant_id.eq(tenant_id.as_str()))
        .filter(
            terminal_user_roles::user_id
                .nullable()
                .is_not_null()
                .or(terminal_roles::key.eq(GUEST)),
        )
        .select((
            RoleRow::as_select(),
            terminal_user_roles::user_id.nullable(),
        ))
        .load(conn)?;
    own_and_guest(
        rows.into_iter()
            .map(|(row, holder)| (row, holder.is_some())),
    )
}

/// A user's roles (by key) and the guest role, from rows of roles that the user holds or
/// that are the guest role, each with whether the user holds it.
pub fn own_and_guest(
    rows: impl IntoIterator<Item = (RoleRow, bool)>,
) -> DomainResult<(Vec<Role>, Option<Role>)> {
    let mut own = Vec::new();
    let mut guest = None;
    for (row, held) in rows {
        let role = Role::try_from(row)?;
        if role.key == GUEST {
            guest = Some(role.clone());
        }
        if held {
            own.push(role);
        }
    }
    own.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((own, guest))
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Role> {
    terminal_roles::table
        .filter(terminal_roles::tenant_id.eq(tenant_id.as_str()))
        .filter(terminal_roles::id.eq(id))
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("role"))?
        .try_into()
}

pub fn by_key(conn: &mut DbConn, tenant_id: &TenantId, key: &str) -> DomainResult<Role> {
    terminal_roles::table
        .filter(terminal_roles::tenant_id.eq(tenant_id.as_str()))
        .filter(terminal_roles::key.eq(key))
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("role"))?
        .try_into()
}

/// The most roles one user, registration or method may be given.
pub const MAX_ROLES_AT_ONCE: usize = 50;

/// The most permissions a role's list may name (each once; the list is de-duplicated).
pub const MAX_PERMISSIONS: usize = 64;

fn check_permissions(errors: &mut Validator, permissions: Option<&[Permission]>) {
    if let Some(permissions) = permissions {
        errors.check(
            permissions.len() <= MAX_PERMISSIONS,
            "permissions",
            "too_many",
            &format!("at most {MAX_PERMISSIONS} permissions"),
        );
    }
}

/// Checks that every id names a role of the tenant that may be given (not `guest`);
/// answers a field error naming the bad ones.
pub fn check_assignable(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    field: &str,
    ids: &[String],
) -> DomainResult<Vec<Role>> {
    if ids.len() > MAX_ROLES_AT_ONCE {
        return Err(DomainError::invalid(
            field,
            "too_many",
            format!("at most {MAX_ROLES_AT_ONCE} roles"),
        ));
    }
    let mut roles = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match get(conn, tenant_id, id) {
            Ok(role) if role.key != GUEST => roles.push(role),
            Ok(_) => {
                return Err(DomainError::invalid(
                    &format!("{field}.{i}"),
                    "invalid",
                    "the guest role cannot be given",
                ));
            }
            Err(DomainError::NotFound(_)) => {
                return Err(DomainError::invalid(
                    &format!("{field}.{i}"),
                    "not_found",
                    "no such role",
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(roles)
}

#[derive(Debug, Clone)]
pub struct NewRole {
    pub key: String,
    pub name: String,
    pub permissions: Vec<Permission>,
}

fn check_key_and_name(errors: &mut Validator, key: Option<&str>, name: Option<&str>) {
    if let Some(key) = key {
        errors.check(
            (2..=32).contains(&key.len())
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "key",
            "invalid",
            "2-32 characters of a-z, 0-9 and _",
        );
    }
    if let Some(name) = name {
        errors.check(
            !name.trim().is_empty() && name.chars().count() <= 32,
            "name",
            "invalid",
            "1-32 characters",
        );
    }
}

pub fn create(tx: &mut Tx<'_>, input: NewRole) -> DomainResult<Role> {
    let mut errors = Validator::new();
    check_key_and_name(&mut errors, Some(&input.key), Some(&input.name));
    check_permissions(&mut errors, Some(&input.permissions));
    errors.finish()?;
    let id = new_id();
    let mut permissions = input.permissions;
    permissions.sort();
    permissions.dedup();
    insert(
        tx.conn,
        &tx.actor.tenant_id,
        RoleRecord {
            id: &id,
            key: &input.key,
            name: input.name.trim(),
            permissions: &permissions,
            built_in: false,
        },
        tx.now,
    )?;
    let role = get(tx.conn, &tx.actor.tenant_id, &id)?;
    tx.audit(Change::<(), _> {
        action: "role.create",
        object_type: "role",
        object_id: &id,
        before: None,
        after: Some(&role),
    })?;
    Ok(role)
}

#[derive(Debug, Default, Clone)]
pub struct RoleChanges {
    pub name: Option<String>,
    pub permissions: Option<Vec<Permission>>,
}

pub fn update(
    tx: &mut Tx<'_>,
    id: &str,
    changes: RoleChanges,
    expected_version: Option<i32>,
) -> DomainResult<Role> {
    tx.update_versioned(
        Versioned {
            action: "role.update",
            object_type: "role",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            if before.key == GUEST {
                return Err(DomainError::conflict(
                    "guest-role-fixed",
                    "the guest role's permissions cannot be changed",
                ));
            }
            let mut errors = Validator::new();
            check_key_and_name(&mut errors, None, changes.name.as_deref());
            check_permissions(&mut errors, changes.permissions.as_deref());
            errors.finish()?;
            let mut permissions = changes.permissions.unwrap_or(before.permissions.clone());
            permissions.sort();
            permissions.dedup();
            let rows = diesel::update(
                terminal_roles::table
                    .filter(terminal_roles::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(terminal_roles::id.eq(id))
                    .filter(terminal_roles::version.eq(before.version)),
            )
            .set((
                terminal_roles::name.eq(changes
                    .name
                    .map(|n| n.trim().to_owned())
                    .unwrap_or(before.name.clone())),
                terminal_roles::permissions_json
                    .eq(serde_json::to_string(&permissions).unwrap_or_else(|_| "[]".into())),
                terminal_roles::version.eq(before.version + 1),
                terminal_roles::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)?;
            Ok(rows)
        },
    )
}

pub fn delete(tx: &mut Tx<'_>, id: &str) -> DomainResult<()> {
    let before = get(tx.conn, &tx.actor.tenant_id, id)?;
    if before.built_in {
        return Err(DomainError::conflict(
            "built-in-role",
            format!("the built-in role `{}` cannot be removed", before.key),
        ));
    }
    // Registration methods that give the role keep it (409 naming them): their next login
    // would otherwise hand out a role that is gone. Users merely holding it lose it, as
    // they would if an admin took it from each of them.
    let methods: Vec<String> = registration_method_roles::table
        .inner_join(
            registration_methods::table.on(registration_methods::tenant_id
                .eq(registration_method_roles::tenant_id)
                .and(registration_methods::id.eq(registration_method_roles::method_id))),
        )
        .filter(registration_method_roles::tenant_id.eq(tx.actor.tenant_id.as_str()))
        .filter(registration_method_roles::role_id.eq(id))
        .order(registration_methods::name.asc())
        .select(registration_methods::name)
        .load(tx.conn)?;
    if !methods.is_empty() {
        let names: Vec<String> = methods.iter().map(|n| format!("\"{n}\"")).collect();
        return Err(DomainError::conflict(
            "in-use",
            format!(
                "the role is given by the registration method{} {}; take it off there first",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
        ));
    }
    diesel::delete(
        terminal_user_roles::table
            .filter(terminal_user_roles::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(terminal_user_roles::role_id.eq(id)),
    )
    .execute(tx.conn)?;
    let deleted = diesel::delete(
        terminal_roles::table
            .filter(terminal_roles::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(terminal_roles::id.eq(id)),
    )
    .execute(tx.conn)?;
    baoxiu_core::removed(deleted, "role")?;
    tx.audit(Change::<_, ()> {
        action: "role.delete",
        object_type: "role",
        object_id: id,
        before: Some(&before),
        after: None,
    })?;
    Ok(())
}
