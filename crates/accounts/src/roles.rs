//! Terminal roles: named sets of permissions for terminal users. `guest` and
//! `end_customer` are built in; the guest role cannot be changed or removed.

use baoxiu_audit::Change;
use baoxiu_core::version;
use baoxiu_core::{
    Actor, DomainError, DomainResult, Keyset, Page, PageRequest, TenantId, Validator, new_id,
};
use baoxiu_store::schema::{terminal_roles, terminal_user_roles};
use baoxiu_store::{DbConn, is_unique_violation};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

pub const GUEST: &str = "guest";
pub const END_CUSTOMER: &str = "end_customer";

/// What a terminal role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    SubmitWorkOrder,
    ViewOwnWorkOrders,
    /// All work orders of the user's enterprise, not only their own.
    ViewEnterpriseWorkOrders,
    /// Devices of the user's account.
    ViewDevices,
    /// Bind a blank QR code to a device.
    RegisterBlankCode,
    ViewKnowledgeBase,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Self::SubmitWorkOrder,
        Self::ViewOwnWorkOrders,
        Self::ViewEnterpriseWorkOrders,
        Self::ViewDevices,
        Self::RegisterBlankCode,
        Self::ViewKnowledgeBase,
    ];
}

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

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = terminal_roles)]
struct RoleRow {
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

/// Checks that every id names a role of the tenant that may be given (not `guest`);
/// answers a field error naming the bad ones.
pub fn check_assignable(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    field: &str,
    ids: &[String],
) -> DomainResult<Vec<Role>> {
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

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    input: NewRole,
    now: NaiveDateTime,
) -> DomainResult<Role> {
    let mut errors = Validator::new();
    check_key_and_name(&mut errors, Some(&input.key), Some(&input.name));
    errors.finish()?;
    let id = new_id();
    let mut permissions = input.permissions;
    permissions.sort();
    permissions.dedup();
    insert(
        conn,
        &actor.tenant_id,
        RoleRecord {
            id: &id,
            key: &input.key,
            name: input.name.trim(),
            permissions: &permissions,
            built_in: false,
        },
        now,
    )?;
    let role = get(conn, &actor.tenant_id, &id)?;
    baoxiu_audit::record(
        conn,
        actor,
        Change::<(), _> {
            action: "role.create",
            object_type: "role",
            object_id: &id,
            before: None,
            after: Some(&role),
        },
        now,
    )?;
    Ok(role)
}

#[derive(Debug, Default, Clone)]
pub struct RoleChanges {
    pub name: Option<String>,
    pub permissions: Option<Vec<Permission>>,
}

pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    changes: RoleChanges,
    expected_version: Option<i32>,
    now: NaiveDateTime,
) -> DomainResult<Role> {
    let before = get(conn, &actor.tenant_id, id)?;
    if before.key == GUEST {
        return Err(DomainError::Conflict(
            "the guest role's permissions cannot be changed".into(),
        ));
    }
    version::check(before.version, expected_version)?;
    let mut errors = Validator::new();
    check_key_and_name(&mut errors, None, changes.name.as_deref());
    errors.finish()?;
    let mut permissions = changes.permissions.unwrap_or(before.permissions.clone());
    permissions.sort();
    permissions.dedup();
    let updated = diesel::update(
        terminal_roles::table
            .filter(terminal_roles::tenant_id.eq(actor.tenant_id.as_str()))
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
        terminal_roles::updated_at.eq(now),
    ))
    .execute(conn)?;
    version::updated(updated, expected_version)?;
    let after = get(conn, &actor.tenant_id, id)?;
    baoxiu_audit::record(
        conn,
        actor,
        Change {
            action: "role.update",
            object_type: "role",
            object_id: id,
            before: Some(&before),
            after: Some(&after),
        },
        now,
    )?;
    Ok(after)
}

pub fn delete(conn: &mut DbConn, actor: &Actor, id: &str, now: NaiveDateTime) -> DomainResult<()> {
    let before = get(conn, &actor.tenant_id, id)?;
    if before.built_in {
        return Err(DomainError::Conflict(format!(
            "the built-in role `{}` cannot be removed",
            before.key
        )));
    }
    diesel::delete(
        terminal_user_roles::table
            .filter(terminal_user_roles::tenant_id.eq(actor.tenant_id.as_str()))
            .filter(terminal_user_roles::role_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        terminal_roles::table
            .filter(terminal_roles::tenant_id.eq(actor.tenant_id.as_str()))
            .filter(terminal_roles::id.eq(id)),
    )
    .execute(conn)?;
    baoxiu_audit::record(
        conn,
        actor,
        Change::<_, ()> {
            action: "role.delete",
            object_type: "role",
            object_id: id,
            before: Some(&before),
            after: None,
        },
        now,
    )?;
    Ok(())
}
