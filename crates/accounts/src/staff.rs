//! Staff users: a tenant's own people (admin, dispatcher, engineer), how they are managed,
//! and password login. A tenant always keeps at least one active admin.

use baoxiu_core::{
    DomainError, DomainResult, FieldError, Page, PageRequest, TenantId, Validator, new_id,
};
use baoxiu_store::Change;
use baoxiu_store::schema::{password_failures, staff_users};
use baoxiu_store::{DbConn, MultiBackend, is_unique_violation};
use baoxiu_store::{Tx, Versioned};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::{fields, passwords};

baoxiu_core::text_enum! {
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Admin = "admin",
    Dispatcher = "dispatcher",
    Engineer = "engineer",
}
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff_users)]
pub struct StaffRow {
    tenant_id: String,
    id: String,
    mobile: String,
    name: String,
    role: String,
    password_hash: Option<String>,
    disabled: bool,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A staff user as the rest of the system sees it (never with the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct StaffUser {
    pub tenant_id: String,
    pub id: String,
    pub mobile: String,
    pub name: String,
    pub role: StaffRole,
    pub has_password: bool,
    pub disabled: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl TryFrom<StaffRow> for StaffUser {
    type Error = DomainError;

    fn try_from(row: StaffRow) -> DomainResult<Self> {
        Ok(Self {
            role: StaffRole::parse(&row.role)
                .ok_or_else(|| DomainError::Internal(format!("unknown staff role {}", row.role)))?,
            tenant_id: row.tenant_id,
            id: row.id,
            mobile: row.mobile,
            name: row.name,
            has_password: row.password_hash.is_some(),
            disabled: row.disabled,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Live (not deleted) staff of one tenant.
fn live(tenant_id: &TenantId) -> staff_users::BoxedQuery<'static, MultiBackend> {
    staff_users::table
        .filter(staff_users::tenant_id.eq(tenant_id.0.clone()))
        .filter(staff_users::deleted_at.is_null())
        .into_boxed()
}

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub mobile: String,
    pub name: String,
    pub role: StaffRole,
    /// Without one, the user logs in by SMS code only.
    pub password: Option<String>,
}

pub fn create(tx: &mut Tx<'_>, input: NewStaff) -> DomainResult<StaffUser> {
    let mut errors = Validator::new();
    let mobile = fields::normalise_mobile("mobile", &input.mobile)
        .map_err(|e| errors.push(e))
        .ok();
    let name = fields::text("name", &input.name, 64)
        .map_err(|e| errors.push(e))
        .ok();
    if let Some(password) = &input.password
        && let Err(e) = fields::check_password("password", password)
    {
        errors.push(e);
    }
    errors.finish()?;
    let (Some(mobile), Some(name)) = (mobile, name) else {
        return Err(DomainError::Internal(
            "validation left a field unset".into(),
        ));
    };
    let password_hash = input.password.as_deref().map(passwords::hash).transpose()?;
    let id = new_id();
    let inserted = diesel::insert_into(staff_users::table)
        .values((
            staff_users::tenant_id.eq(tx.actor.tenant_id.as_str()),
            staff_users::id.eq(&id),
            staff_users::mobile.eq(&mobile),
            staff_users::name.eq(&name),
            staff_users::role.eq(input.role.as_str()),
            staff_users::password_hash.eq(password_hash),
            staff_users::disabled.eq(false),
            staff_users::version.eq(1),
            staff_users::created_at.eq(tx.now),
            staff_users::updated_at.eq(tx.now),
        ))
        .execute(tx.conn);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(DomainError::invalid(
                "mobile",
                "taken",
                "another staff user has this mobile",
            ));
        }
        other => other?,
    };
    let created = get(tx.conn, &tx.actor.tenant_id, &id)?;
    tx.audit(Change::<(), _> {
        action: "staff.create",
        object_type: "staff",
        object_id: &id,
        before: None,
        after: Some(&created),
    })?;
    Ok(created)
}

/// One live staff user of the tenant; another tenant's answers not-found.
pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<StaffUser> {
    live(tenant_id)
        .filter(staff_users::id.eq(id.to_owned()))
        .select(StaffRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("staff user"))?
        .try_into()
}

/// A live, enabled staff user: who a staff token may act as.
pub fn get_active(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<StaffUser> {
    let user = get(conn, tenant_id, id)?;
    if user.disabled {
        Err(DomainError::Unauthenticated("the staff user is disabled"))
    } else {
        Ok(user)
    }
}

pub fn find_by_mobile(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    mobile: &str,
) -> DomainResult<Option<StaffUser>> {
    live(tenant_id)
        .filter(staff_users::mobile.eq(mobile.to_owned()))
        .select(StaffRow::as_select())
        .first(conn)
        .optional()?
        .map(StaffUser::try_from)
        .transpose()
}

/// Wrong passwords one client address may have for a mobile within
/// `PASSWORD_FAILURE_WINDOW_MINUTES`; at this many, password login for that mobile pauses
/// for that address until the oldest of them leaves the window. Keyed on the address too,
/// so that nobody can pause a staff member's login from elsewhere with five guesses.
pub const PASSWORD_FAILURES_ALLOWED: usize = 5;
pub const PASSWORD_FAILURE_WINDOW_MINUTES: i64 = 15;

/// When password login pauses: after `per_client` wrong passwords from one address, for
/// that address; after `per_mobile` from all addresses together, for everyone (SMS login
/// still works then). Both within `PASSWORD_FAILURE_WINDOW_MINUTES`.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPause {
    pub per_client: usize,
    pub per_mobile: usize,
}

/// What a password login came to. A wrong password is recorded, and that record must be
/// committed although the request fails: so it is a value, not an error.
#[derive(Debug)]
pub enum PasswordLogin {
    LoggedIn(StaffUser),
    WrongCredentials,
}

/// A password login in three steps, so that no transaction stays open (and, on SQLite,
/// no write waits) while the deliberately slow hash is checked: `begin_password_login`
/// reads, `PasswordAttempt::matches` hashes outside the database, and
/// `finish_password_login` records the outcome. Unknown mobiles, disabled staff and wrong
/// passwords look the same (and take as long); all count towards the pause, which is
/// checked first so that a guessing caller also stops costing password hashes.
// No Debug: it holds the password hash.
pub struct PasswordAttempt {
    mobile: String,
    client_ip: String,
    pause: PasswordPause,
    row: Option<StaffRow>,
}

impl PasswordAttempt {
    /// Whether `password` is this staff user's (for an unknown mobile, a decoy hash is
    /// checked so that the answer takes as long).
    pub fn matches(&self, password: &str) -> bool {
        let stored = self
            .row
            .as_ref()
            .and_then(|r| r.password_hash.as_deref())
            .unwrap_or_else(|| passwords::decoy());
        passwords::verify(password, stored)
    }
}

fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::minutes(PASSWORD_FAILURE_WINDOW_MINUTES)
}

/// Refuses with `rate-limited` while this address, or all addresses together, have used
/// up the mobile's wrong passwords.
fn check_password_pause(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    mobile: &str,
    client_ip: &str,
    pause: PasswordPause,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let recent: Vec<(NaiveDateTime, String)> = password_failures::table
        .filter(password_failures::tenant_id.eq(tenant_id.as_str()))
        .filter(password_failures::mobile.eq(mobile))
        .filter(password_failures::failed_at.gt(window_start(now)))
        .select((password_failures::failed_at, password_failures::client_ip))
        .order(password_failures::failed_at.asc())
        .load(conn)?;
    let everyone: Vec<NaiveDateTime> = recent.iter().map(|(at, _)| *at).collect();
    let this_client: Vec<NaiveDateTime> = recent
        .iter()
        .filter(|(_, ip)| ip == client_ip)
        .map(|(at, _)| *at)
        .collect();
    // Oldest first: below `allowed` again once all but `allowed - 1` of them have left.
    let paused_until = |failures: &[NaiveDateTime], allowed: usize| {
        failures
            .len()
            .checked_sub(allowed)
            .and_then(|i| failures.get(i))
            .map(|at| *at + Duration::minutes(PASSWORD_FAILURE_WINDOW_MINUTES))
    };
    let until = [
        paused_until(&this_client, pause.per_client),
        paused_until(&everyone, pause.per_mobile),
    ]
    .into_iter()
    .flatten()
    .max();
    match until {
        Some(until) => Err(DomainError::RateLimited {
            retry_after_secs: crate::sms::seconds_until(until, now),
        }),
        None => Ok(()),
    }
}

/// Reads what a password login from `client_ip` needs; `None` for a mobile that is not
/// one at all.
pub fn begin_password_login(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    mobile: &str,
    client_ip: &str,
    pause: PasswordPause,
    now: NaiveDateTime,
) -> DomainResult<Option<PasswordAttempt>> {
    let Ok(mobile) = fields::normalise_mobile("mobile", mobile) else {
        return Ok(None);
    };
    check_password_pause(conn, tenant_id, &mobile, client_ip, pause, now)?;
    let row = live(tenant_id)
        .filter(staff_users::mobile.eq(&mobile))
        .select(StaffRow::as_select())
        .first(conn)
        .optional()?;
    Ok(Some(PasswordAttempt {
        mobile,
        client_ip: client_ip.to_owned(),
        pause,
        row,
    }))
}

/// Records a checked attempt: success clears this address's wrong tries for the mobile,
/// anything else adds one. Guesses sent side by side all passed the first check, so the
/// pause is checked again here, where the tries are written: past the limit, even a right
/// password waits. Writing a failure also purges the tenant's failures that have left the
/// window (unknown mobiles' included), so the table holds at most one window's worth.
pub fn finish_password_login(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    attempt: PasswordAttempt,
    matched: bool,
    now: NaiveDateTime,
) -> DomainResult<PasswordLogin> {
    // Short, and it makes the count exact on PostgreSQL too.
    baoxiu_store::lock_tenant(conn, tenant_id.as_str())?;
    check_password_pause(
        conn,
        tenant_id,
        &attempt.mobile,
        &attempt.client_ip,
        attempt.pause,
        now,
    )?;
    let tenants_failures =
        password_failures::table.filter(password_failures::tenant_id.eq(tenant_id.as_str()));
    match attempt.row {
        Some(row) if matched && !row.disabled && row.password_hash.is_some() => {
            diesel::delete(
                tenants_failures
                    .filter(password_failures::mobile.eq(&attempt.mobile))
                    .filter(password_failures::client_ip.eq(&attempt.client_ip)),
            )
            .execute(conn)?;
            Ok(PasswordLogin::LoggedIn(row.try_into()?))
        }
        _ => {
            diesel::delete(
                tenants_failures.filter(password_failures::failed_at.le(window_start(now))),
            )
            .execute(conn)?;
            diesel::insert_into(password_failures::table)
                .values((
                    password_failures::tenant_id.eq(tenant_id.as_str()),
                    password_failures::id.eq(new_id()),
                    password_failures::mobile.eq(&attempt.mobile),
                    password_failures::failed_at.eq(now),
                    password_failures::client_ip.eq(&attempt.client_ip),
                ))
                .execute(conn)?;
            Ok(PasswordLogin::WrongCredentials)
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct StaffFilter {
    pub role: Option<StaffRole>,
}

/// How the list pages: oldest first.
pub const STAFF: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("staff_users");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &StaffFilter,
    page: &PageRequest,
) -> DomainResult<Page<StaffUser>> {
    let mut query = live(tenant_id);
    if let Some(role) = filter.role {
        query = query.filter(staff_users::role.eq(role.as_str()));
    }
    let rows = baoxiu_store::paginate(
        query,
        staff_users::created_at,
        staff_users::id,
        &STAFF,
        page,
    )?
    .select(StaffRow::as_select())
    .load(conn)?
    .into_iter()
    .map(StaffUser::try_from)
    .collect::<DomainResult<Vec<_>>>()?;
    Ok(page.finish(&STAFF, rows, |u| (u.created_at, u.id.clone())))
}

#[derive(Debug, Default, Clone)]
pub struct StaffChanges {
    pub name: Option<String>,
    pub role: Option<StaffRole>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

fn active_admins(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<i64> {
    Ok(live(tenant_id)
        .filter(staff_users::role.eq(StaffRole::Admin.as_str()))
        .filter(staff_users::disabled.eq(false))
        .count()
        .get_result(conn)?)
}

pub fn update(
    tx: &mut Tx<'_>,
    id: &str,
    changes: StaffChanges,
    expected_version: Option<i32>,
) -> DomainResult<StaffUser> {
    tx.update_versioned(
        Versioned {
            action: "staff.update",
            object_type: "staff",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| write_changes(tx, before, changes),
    )
}

/// Writes a staff user's changes where the version read still holds (the rows changed).
fn write_changes(
    tx: &mut Tx<'_>,
    before: &StaffUser,
    changes: StaffChanges,
) -> DomainResult<usize> {
    let mut errors = Validator::new();
    let name = changes
        .name
        .as_deref()
        .map(|n| fields::text("name", n, 64))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if let Some(password) = &changes.password
        && let Err(e) = fields::check_password("password", password)
    {
        errors.push(e);
    }
    errors.finish()?;
    let role = changes.role.unwrap_or(before.role);
    let disabled = changes.disabled.unwrap_or(before.disabled);
    let stops_being_admin = before.role == StaffRole::Admin
        && !before.disabled
        && (role != StaffRole::Admin || disabled);
    if stops_being_admin {
        tx.lock_tenant()?;
    }
    if stops_being_admin && active_admins(tx.conn, &tx.actor.tenant_id)? <= 1 {
        return Err(DomainError::conflict(
            "last-admin",
            "a tenant keeps at least one active admin",
        ));
    }
    let password_hash = changes
        .password
        .as_deref()
        .map(passwords::hash)
        .transpose()?;
    let target = staff_users::table
        .filter(staff_users::tenant_id.eq(tx.actor.tenant_id.as_str()))
        .filter(staff_users::id.eq(&before.id));
    let updated = diesel::update(target.filter(staff_users::version.eq(before.version)))
        .set((
            staff_users::name.eq(name.unwrap_or(before.name.clone())),
            staff_users::role.eq(role.as_str()),
            staff_users::disabled.eq(disabled),
            staff_users::version.eq(before.version + 1),
            staff_users::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    if updated != 1 {
        return Ok(updated);
    }
    if let Some(hash) = password_hash {
        diesel::update(target)
            .set(staff_users::password_hash.eq(hash))
            .execute(tx.conn)?;
    }
    // Access tokens carry the role, so a new role (or a new password, or being disabled)
    // ends the sessions made under the old one: the next request logs in again.
    let ends_sessions =
        (disabled && !before.disabled) || role != before.role || changes.password.is_some();
    if ends_sessions {
        crate::sessions::revoke_subject(tx.conn, &tx.actor.tenant_id, &before.id, tx.now)?;
    }
    Ok(updated)
}

/// Removes a staff user (kept as a deleted row so the audit log still resolves).
pub fn delete(tx: &mut Tx<'_>, id: &str) -> DomainResult<()> {
    let before = get(tx.conn, &tx.actor.tenant_id, id)?;
    if before.id == tx.actor.id {
        return Err(DomainError::conflict(
            "self-delete",
            "staff users cannot delete themselves",
        ));
    }
    let removes_an_admin = before.role == StaffRole::Admin && !before.disabled;
    if removes_an_admin {
        tx.lock_tenant()?;
    }
    if removes_an_admin && active_admins(tx.conn, &tx.actor.tenant_id)? <= 1 {
        return Err(DomainError::conflict(
            "last-admin",
            "a tenant keeps at least one active admin",
        ));
    }
    let deleted = diesel::update(
        staff_users::table
            .filter(staff_users::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(staff_users::id.eq(id))
            .filter(staff_users::deleted_at.is_null()),
    )
    .set((
        staff_users::deleted_at.eq(tx.now),
        staff_users::updated_at.eq(tx.now),
    ))
    .execute(tx.conn)?;
    baoxiu_core::removed(deleted, "staff user")?;
    crate::sessions::revoke_subject(tx.conn, &tx.actor.tenant_id, id, tx.now)?;
    tx.audit(Change::<_, ()> {
        action: "staff.delete",
        object_type: "staff",
        object_id: id,
        before: Some(&before),
        after: None,
    })?;
    Ok(())
}

/// A field error for a role that is not one of the three.
pub fn unknown_role(field: &str) -> FieldError {
    FieldError::new(field, "invalid", "must be admin, dispatcher or engineer")
}
