//! Self-registration methods: one configured way to self-register, with its channels,
//! mode, account and contact form settings, owner assignment, duplicate rule, new-account
//! rule, approval, and the roles given to users who register through it.

use baoxiu_accounts::customers::DuplicateCheck;
use baoxiu_accounts::{roles, staff};
use baoxiu_audit::Change;
use baoxiu_core::version;
use baoxiu_core::{
    Actor, DomainError, DomainResult, Keyset, Page, PageRequest, TenantId, Validator, new_id,
};
use baoxiu_store::DbConn;
use baoxiu_store::schema::registration_methods;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A WeChat login silently creates the external enterprise and the terminal user.
    OpenidAuto,
    /// The user fills the registration form before anything else.
    RequireRegistration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewAccountRule {
    /// The user names the account; a match by the duplicate rule is reused, else created.
    UserDefined,
    /// The name must match an existing account.
    ExistingOnly,
    /// The name is looked up in a business registry (an HTTP service) first.
    BusinessRegistry,
}

/// A field of the registration form beyond the fixed ones (account name; contact name and
/// mobile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The key the value is sent and stored under (a-z, 0-9, _).
    pub key: String,
    pub label: String,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OwnerAssignment {
    /// No owner.
    None,
    /// Always this staff user.
    Fixed { staff_id: String },
    /// In turn over these staff users.
    RoundRobin { staff_ids: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountForm {
    pub record_type: String,
    /// Fields shown (besides the name), in order.
    pub fields: Vec<FormField>,
    /// Show only the required fields.
    pub show_only_required: bool,
    pub owner: OwnerAssignment,
    pub duplicate_check: DuplicateCheck,
    pub new_account_rule: NewAccountRule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactForm {
    pub record_type: String,
    /// Fields shown (besides name and mobile), in order.
    pub fields: Vec<FormField>,
    pub show_only_required: bool,
}

/// Everything a method says, besides its name and on/off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodSettings {
    #[schema(min_items = 1)]
    pub channels: Vec<Channel>,
    pub mode: Mode,
    /// Registrations wait for a staff member to approve them.
    pub requires_approval: bool,
    pub account: AccountForm,
    pub contact: ContactForm,
    /// Roles given to users who register (or log in, in `openid_auto` mode) through it.
    pub role_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Method {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub settings: MethodSettings,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Method {
    /// How the method works under the tenant's policy. An invitation code is asked on the
    /// registration form, so while the policy requires one even an `openid_auto` method
    /// makes its users register (with a code) before they are in.
    pub fn effective_mode(&self, policy: &crate::policy::Policy) -> Mode {
        if policy.invitation_required {
            Mode::RequireRegistration
        } else {
            self.settings.mode
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = registration_methods)]
struct MethodRow {
    id: String,
    name: String,
    enabled: bool,
    settings_json: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<MethodRow> for Method {
    type Error = DomainError;

    fn try_from(row: MethodRow) -> DomainResult<Self> {
        Ok(Self {
            settings: serde_json::from_str(&row.settings_json)
                .map_err(|e| DomainError::Internal(format!("stored method: {e}")))?,
            id: row.id,
            name: row.name,
            enabled: row.enabled,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn check(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    name: &str,
    settings: &MethodSettings,
) -> DomainResult<()> {
    let mut errors = Validator::new();
    errors.check(
        !name.trim().is_empty() && name.chars().count() <= 64,
        "name",
        "invalid",
        "1-64 characters",
    );
    errors.check(
        !settings.channels.is_empty(),
        "settings.channels",
        "required",
        "name at least one channel",
    );
    for (form, fields) in [
        ("account", &settings.account.fields),
        ("contact", &settings.contact.fields),
    ] {
        let mut keys = std::collections::HashSet::new();
        for (i, field) in fields.iter().enumerate() {
            let ok = (1..=32).contains(&field.key.len())
                && field
                    .key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !["name", "mobile"].contains(&field.key.as_str())
                && keys.insert(field.key.clone());
            errors.check(
                ok,
                &format!("settings.{form}.fields.{i}.key"),
                "invalid",
                "a unique key of a-z, 0-9 and _ (not name or mobile)",
            );
            errors.check(
                !field.label.trim().is_empty() && field.label.chars().count() <= 32,
                &format!("settings.{form}.fields.{i}.label"),
                "invalid",
                "1-32 characters",
            );
        }
    }
    match &settings.account.owner {
        OwnerAssignment::None => {}
        OwnerAssignment::Fixed { staff_id } => {
            errors.check(
                staff::get(conn, tenant_id, staff_id).is_ok(),
                "settings.account.owner.staff_id",
                "not_found",
                "no such staff user",
            );
        }
        OwnerAssignment::RoundRobin { staff_ids } => {
            errors.check(
                !staff_ids.is_empty(),
                "settings.account.owner.staff_ids",
                "required",
                "name at least one staff user",
            );
            for (i, id) in staff_ids.iter().enumerate() {
                errors.check(
                    staff::get(conn, tenant_id, id).is_ok(),
                    &format!("settings.account.owner.staff_ids.{i}"),
                    "not_found",
                    "no such staff user",
                );
            }
        }
    }
    if let Err(DomainError::Validation(role_errors)) =
        roles::check_assignable(conn, tenant_id, "settings.role_ids", &settings.role_ids)
    {
        role_errors.into_iter().for_each(|e| errors.push(e));
    }
    errors.finish()
}

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    name: &str,
    enabled: bool,
    settings: MethodSettings,
    now: NaiveDateTime,
) -> DomainResult<Method> {
    check(conn, &actor.tenant_id, name, &settings)?;
    let id = new_id();
    diesel::insert_into(registration_methods::table)
        .values((
            registration_methods::tenant_id.eq(actor.tenant_id.as_str()),
            registration_methods::id.eq(&id),
            registration_methods::name.eq(name.trim()),
            registration_methods::enabled.eq(enabled),
            registration_methods::settings_json
                .eq(serde_json::to_string(&settings).unwrap_or_default()),
            registration_methods::owner_cursor.eq(0),
            registration_methods::version.eq(1),
            registration_methods::created_at.eq(now),
            registration_methods::updated_at.eq(now),
        ))
        .execute(conn)?;
    let method = get(conn, &actor.tenant_id, &id)?;
    baoxiu_audit::record(
        conn,
        actor,
        Change::<(), _> {
            action: "registration_method.create",
            object_type: "registration_method",
            object_id: &id,
            before: None,
            after: Some(&method),
        },
        now,
    )?;
    Ok(method)
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Method> {
    registration_methods::table
        .filter(registration_methods::tenant_id.eq(tenant_id.as_str()))
        .filter(registration_methods::id.eq(id))
        .select(MethodRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("registration method"))?
        .try_into()
}

/// How the list of methods pages: oldest first.
pub const METHODS: Keyset = Keyset::oldest_first("registration_methods");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    page: &PageRequest,
) -> DomainResult<Page<Method>> {
    let query = registration_methods::table
        .filter(registration_methods::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let rows = baoxiu_store::paginate(
        query,
        registration_methods::created_at,
        registration_methods::id,
        &METHODS,
        page,
    )?
    .select(MethodRow::as_select())
    .load(conn)?
    .into_iter()
    .map(Method::try_from)
    .collect::<DomainResult<Vec<_>>>()?;
    Ok(page.finish(&METHODS, rows, |m| (m.created_at, m.id.clone())))
}

/// The first enabled method that applies to a channel: self-registration is off for the
/// channel when there is none.
pub fn for_channel(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    channel: Channel,
) -> DomainResult<Option<Method>> {
    let enabled = registration_methods::table
        .filter(registration_methods::tenant_id.eq(tenant_id.as_str()))
        .filter(registration_methods::enabled.eq(true))
        .order((
            registration_methods::created_at.asc(),
            registration_methods::id.asc(),
        ))
        .select(MethodRow::as_select())
        .load(conn)?;
    for row in enabled {
        let method = Method::try_from(row)?;
        if method.settings.channels.contains(&channel) {
            return Ok(Some(method));
        }
    }
    Ok(None)
}

#[derive(Debug, Default, Clone)]
pub struct MethodChanges {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub settings: Option<MethodSettings>,
}

pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    changes: MethodChanges,
    expected_version: Option<i32>,
    now: NaiveDateTime,
) -> DomainResult<Method> {
    let before = get(conn, &actor.tenant_id, id)?;
    version::check(before.version, expected_version)?;
    let name = changes.name.unwrap_or(before.name.clone());
    let settings = changes.settings.unwrap_or(before.settings.clone());
    check(conn, &actor.tenant_id, &name, &settings)?;
    let updated = diesel::update(
        registration_methods::table
            .filter(registration_methods::tenant_id.eq(actor.tenant_id.as_str()))
            .filter(registration_methods::id.eq(id))
            .filter(registration_methods::version.eq(before.version)),
    )
    .set((
        registration_methods::name.eq(name.trim()),
        registration_methods::enabled.eq(changes.enabled.unwrap_or(before.enabled)),
        registration_methods::settings_json
            .eq(serde_json::to_string(&settings).unwrap_or_default()),
        registration_methods::version.eq(before.version + 1),
        registration_methods::updated_at.eq(now),
    ))
    .execute(conn)?;
    version::updated(updated, expected_version)?;
    let after = get(conn, &actor.tenant_id, id)?;
    baoxiu_audit::record(
        conn,
        actor,
        Change {
            action: "registration_method.update",
            object_type: "registration_method",
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
    diesel::delete(
        registration_methods::table
            .filter(registration_methods::tenant_id.eq(actor.tenant_id.as_str()))
            .filter(registration_methods::id.eq(id)),
    )
    .execute(conn)?;
    baoxiu_audit::record(
        conn,
        actor,
        Change::<_, ()> {
            action: "registration_method.delete",
            object_type: "registration_method",
            object_id: id,
            before: Some(&before),
            after: None,
        },
        now,
    )?;
    Ok(())
}

/// The owner a newly registered account gets, moving a round-robin on by one.
pub fn next_owner(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    method: &Method,
) -> DomainResult<Option<String>> {
    let candidates = match &method.settings.account.owner {
        OwnerAssignment::None => return Ok(None),
        OwnerAssignment::Fixed { staff_id } => std::slice::from_ref(staff_id),
        OwnerAssignment::RoundRobin { staff_ids } => staff_ids.as_slice(),
    };
    // Staff deleted or disabled since the method was set up are passed over; with nobody
    // left, the account gets no owner rather than a departed one.
    let mut available = Vec::new();
    for id in candidates {
        match staff::get(conn, tenant_id, id) {
            Ok(user) if !user.disabled => available.push(user.id),
            Ok(_) | Err(DomainError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if available.len() <= 1 {
        return Ok(available.pop());
    }
    // Increment first: the update holds the row, so registrations at the same time take
    // turns instead of reading the same position.
    let target = registration_methods::table
        .filter(registration_methods::tenant_id.eq(tenant_id.as_str()))
        .filter(registration_methods::id.eq(&method.id));
    diesel::update(target)
        .set(registration_methods::owner_cursor.eq(registration_methods::owner_cursor + 1))
        .execute(conn)?;
    let turn: i32 = target
        .select(registration_methods::owner_cursor)
        .first::<i32>(conn)?
        - 1;
    let index =
        usize::try_from(turn.rem_euclid(i32::try_from(available.len()).unwrap_or(1))).unwrap_or(0);
    Ok(available.get(index).cloned())
}
