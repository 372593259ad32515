//! Self-registration methods: one configured way to self-register, with its channels,
//! mode, account and contact form settings, owner assignment, duplicate rule, new-account
//! rule, approval, and the roles given to users who register through it.

use baoxiu_accounts::customers::DuplicateCheck;
use baoxiu_accounts::{roles, staff};
use baoxiu_core::{DomainError, DomainResult, TenantId, Validator, new_id};
use baoxiu_core::{Keyset, Page, PageRequest};
use baoxiu_store::Change;
use baoxiu_store::schema::{
    registration_method_owners, registration_method_roles, registration_methods, registrations,
    terminal_users,
};
use baoxiu_store::{DbConn, Tx, Versioned};
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
    #[schema(pattern = r"^[a-z0-9_]{1,32}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 32)]
    pub label: String,
    pub required: bool,
}

impl FormField {
    /// The field as the forms engine checks it: registration's extra fields take a text, a
    /// number or a yes/no.
    pub fn to_field(&self) -> baoxiu_forms::Field {
        baoxiu_forms::Field::new(
            &self.key,
            &self.label,
            baoxiu_forms::FieldKind::Free,
            self.required,
        )
    }
}

/// The most staff users a round robin goes over.
pub const MAX_OWNERS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OwnerAssignment {
    /// No owner.
    None,
    /// Always this staff user.
    Fixed {
        #[schema(format = Uuid)]
        staff_id: String,
    },
    /// In turn over these staff users.
    RoundRobin {
        #[schema(max_items = 50, value_type = Vec<baoxiu_core::texts::UuidText>, inline)]
        staff_ids: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountForm {
    #[schema(min_length = 1, max_length = 32)]
    pub record_type: String,
    /// Fields shown (besides the name), in order.
    #[schema(max_items = 50)]
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
    #[schema(min_length = 1, max_length = 32)]
    pub record_type: String,
    /// Fields shown (besides name and mobile), in order.
    #[schema(max_items = 50)]
    pub fields: Vec<FormField>,
    pub show_only_required: bool,
}

/// Everything a method says, besides its name and on/off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodSettings {
    #[schema(min_items = 1, max_items = 8)]
    pub channels: Vec<Channel>,
    pub mode: Mode,
    /// Registrations wait for a staff member to approve them.
    pub requires_approval: bool,
    pub account: AccountForm,
    pub contact: ContactForm,
    /// Roles given to users who register (or log in, in `openid_auto` mode) through it.
    #[schema(max_items = 50, value_type = Vec<baoxiu_core::texts::RoleIdText>, inline)]
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

/// The settings as stored: everything but the references, which are rows of
/// `registration_method_roles` and `registration_method_owners` (foreign keys, so a role a
/// method gives cannot vanish under it). Its own type, separate from the API's
/// `MethodSettings`; versioned by `v` (rows written before it had one read as version 1)
/// and read leniently: no `deny_unknown_fields`, so what a newer build added still reads.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSettings {
    #[serde(default = "first_version")]
    v: u32,
    channels: Vec<Channel>,
    mode: Mode,
    requires_approval: bool,
    account: StoredAccountForm,
    contact: StoredContactForm,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredAccountForm {
    record_type: String,
    fields: Vec<StoredField>,
    show_only_required: bool,
    owner: StoredOwner,
    duplicate_check: DuplicateCheck,
    new_account_rule: NewAccountRule,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredContactForm {
    record_type: String,
    fields: Vec<StoredField>,
    show_only_required: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredField {
    key: String,
    label: String,
    required: bool,
}

/// How owners are chosen; who they are is in `registration_method_owners`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredOwner {
    None,
    Fixed,
    RoundRobin,
}

fn stored_fields(fields: &[FormField]) -> Vec<StoredField> {
    fields
        .iter()
        .map(|f| StoredField {
            key: f.key.clone(),
            label: f.label.clone(),
            required: f.required,
        })
        .collect()
}

fn form_fields(fields: Vec<StoredField>) -> Vec<FormField> {
    fields
        .into_iter()
        .map(|f| FormField {
            key: f.key,
            label: f.label,
            required: f.required,
        })
        .collect()
}

/// The shape `StoredSettings` has now.
const STORED_VERSION: u32 = 1;

fn first_version() -> u32 {
    1
}

impl StoredSettings {
    fn of(settings: &MethodSettings) -> Self {
        Self {
            v: STORED_VERSION,
            channels: settings.channels.clone(),
            mode: settings.mode,
            requires_approval: settings.requires_approval,
            account: StoredAccountForm {
                record_type: settings.account.record_type.clone(),
                fields: stored_fields(&settings.account.fields),
                show_only_required: settings.account.show_only_required,
                owner: match settings.account.owner {
                    OwnerAssignment::None => StoredOwner::None,
                    OwnerAssignment::Fixed { .. } => StoredOwner::Fixed,
                    OwnerAssignment::RoundRobin { .. } => StoredOwner::RoundRobin,
                },
                duplicate_check: settings.account.duplicate_check,
                new_account_rule: settings.account.new_account_rule,
            },
            contact: StoredContactForm {
                record_type: settings.contact.record_type.clone(),
                fields: stored_fields(&settings.contact.fields),
                show_only_required: settings.contact.show_only_required,
            },
        }
    }

    fn into_settings(self, role_ids: Vec<String>, mut staff_ids: Vec<String>) -> MethodSettings {
        let owner = match self.account.owner {
            StoredOwner::None => OwnerAssignment::None,
            StoredOwner::Fixed => OwnerAssignment::Fixed {
                staff_id: if staff_ids.is_empty() {
                    String::new()
                } else {
                    staff_ids.swap_remove(0)
                },
            },
            StoredOwner::RoundRobin => OwnerAssignment::RoundRobin { staff_ids },
        };
        MethodSettings {
            channels: self.channels,
            mode: self.mode,
            requires_approval: self.requires_approval,
            account: AccountForm {
                record_type: self.account.record_type,
                fields: form_fields(self.account.fields),
                show_only_required: self.account.show_only_required,
                owner,
                duplicate_check: self.account.duplicate_check,
                new_account_rule: self.account.new_account_rule,
            },
            contact: ContactForm {
                record_type: self.contact.record_type,
                fields: form_fields(self.contact.fields),
                show_only_required: self.contact.show_only_required,
            },
            role_ids,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registration_methods)]
pub(crate) struct MethodRow {
    id: String,
    name: String,
    enabled: bool,
    settings_json: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Where a method's references are kept, by method id, in order.
type References = std::collections::HashMap<String, Vec<String>>;

impl MethodRow {
    fn into_method(self, roles: &mut References, owners: &mut References) -> DomainResult<Method> {
        let stored: StoredSettings = serde_json::from_str(&self.settings_json)
            .map_err(|e| DomainError::Internal(format!("stored method: {e}")))?;
        Ok(Method {
            settings: stored.into_settings(
                roles.remove(&self.id).unwrap_or_default(),
                owners.remove(&self.id).unwrap_or_default(),
            ),
            id: self.id,
            name: self.name,
            enabled: self.enabled,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl MethodRow {
    /// The method as access decisions read it (in the principal's one statement): its
    /// settings without the roles and owner staff it refers to, which live in their join
    /// tables. Anything that gives roles or owners reads them with `references`.
    pub(crate) fn without_references(self) -> DomainResult<Method> {
        self.into_method(&mut References::new(), &mut References::new())
    }
}

/// The roles and owner staff of the tenant's methods (of one method when `method` names it).
fn references(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    method: Option<&str>,
) -> DomainResult<(References, References)> {
    let mut roles_query = registration_method_roles::table
        .filter(registration_method_roles::tenant_id.eq(tenant_id.as_str()))
        .select((
            registration_method_roles::method_id,
            registration_method_roles::role_id,
        ))
        .order((
            registration_method_roles::method_id.asc(),
            registration_method_roles::position.asc(),
        ))
        .into_boxed();
    let mut owners_query = registration_method_owners::table
        .filter(registration_method_owners::tenant_id.eq(tenant_id.as_str()))
        .select((
            registration_method_owners::method_id,
            registration_method_owners::staff_id,
        ))
        .order((
            registration_method_owners::method_id.asc(),
            registration_method_owners::position.asc(),
        ))
        .into_boxed();
    if let Some(id) = method {
        roles_query = roles_query.filter(registration_method_roles::method_id.eq(id.to_owned()));
        owners_query = owners_query.filter(registration_method_owners::method_id.eq(id.to_owned()));
    }
    let group = |rows: Vec<(String, String)>| {
        let mut map = References::new();
        for (method, id) in rows {
            map.entry(method).or_default().push(id);
        }
        map
    };
    Ok((
        group(roles_query.load(conn)?),
        group(owners_query.load(conn)?),
    ))
}

/// Writes the method's references: its roles and owner staff, in the settings' order.
fn save_references(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    method_id: &str,
    settings: &MethodSettings,
) -> DomainResult<()> {
    diesel::delete(
        registration_method_roles::table
            .filter(registration_method_roles::tenant_id.eq(tenant_id.as_str()))
            .filter(registration_method_roles::method_id.eq(method_id)),
    )
    .execute(conn)?;
    diesel::delete(
        registration_method_owners::table
            .filter(registration_method_owners::tenant_id.eq(tenant_id.as_str()))
            .filter(registration_method_owners::method_id.eq(method_id)),
    )
    .execute(conn)?;
    let mut seen = std::collections::HashSet::new();
    let roles: Vec<_> = settings
        .role_ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .zip(0..)
        .map(|(id, position)| {
            (
                registration_method_roles::tenant_id.eq(tenant_id.as_str()),
                registration_method_roles::method_id.eq(method_id),
                registration_method_roles::role_id.eq(id.as_str()),
                registration_method_roles::position.eq(position),
            )
        })
        .collect();
    // One statement per row: batch inserts do not go through MultiConnection.
    for row in roles {
        diesel::insert_into(registration_method_roles::table)
            .values(row)
            .execute(conn)?;
    }
    let staff: &[String] = match &settings.account.owner {
        OwnerAssignment::None => &[],
        OwnerAssignment::Fixed { staff_id } => std::slice::from_ref(staff_id),
        OwnerAssignment::RoundRobin { staff_ids } => staff_ids,
    };
    let mut seen = std::collections::HashSet::new();
    let owners: Vec<_> = staff
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .zip(0..)
        .map(|(id, position)| {
            (
                registration_method_owners::tenant_id.eq(tenant_id.as_str()),
                registration_method_owners::method_id.eq(method_id),
                registration_method_owners::staff_id.eq(id.as_str()),
                registration_method_owners::position.eq(position),
            )
        })
        .collect();
    // One statement per row: batch inserts do not go through MultiConnection.
    for row in owners {
        diesel::insert_into(registration_method_owners::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

fn stored_json(settings: &MethodSettings) -> String {
    serde_json::to_string(&StoredSettings::of(settings)).unwrap_or_default()
}

/// The most entries a method's channel list may have.
pub const MAX_CHANNELS: usize = 8;

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
    errors.check(
        settings.channels.len() <= MAX_CHANNELS,
        "settings.channels",
        "too_many",
        "at most 8 channels",
    );
    for (form, record_type) in [
        ("account", &settings.account.record_type),
        ("contact", &settings.contact.record_type),
    ] {
        if let Err(error) = baoxiu_accounts::fields::record_type(
            &format!("settings.{form}.record_type"),
            record_type,
        ) {
            errors.push(error);
        }
    }
    for (form, fields) in [
        ("account", &settings.account.fields),
        ("contact", &settings.contact.fields),
    ] {
        let rules = baoxiu_forms::Rules {
            reserved: &["name", "mobile"],
            ..baoxiu_forms::Rules::default()
        };
        let fields: Vec<_> = fields.iter().map(FormField::to_field).collect();
        baoxiu_forms::check_definition(&format!("settings.{form}.fields"), &fields, &rules)
            .into_iter()
            .for_each(|e| errors.push(e));
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
            errors.check(
                staff_ids.len() <= MAX_OWNERS,
                "settings.account.owner.staff_ids",
                "too_many",
                "at most 50 staff users",
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
    tx: &mut Tx<'_>,
    name: &str,
    enabled: bool,
    settings: MethodSettings,
) -> DomainResult<Method> {
    check(tx.conn, &tx.actor.tenant_id, name, &settings)?;
    let id = new_id();
    diesel::insert_into(registration_methods::table)
        .values((
            registration_methods::tenant_id.eq(tx.actor.tenant_id.as_str()),
            registration_methods::id.eq(&id),
            registration_methods::name.eq(name.trim()),
            registration_methods::enabled.eq(enabled),
            registration_methods::settings_json.eq(stored_json(&settings)),
            registration_methods::owner_cursor.eq(0),
            registration_methods::version.eq(1),
            registration_methods::created_at.eq(tx.now),
            registration_methods::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    save_references(tx.conn, &tx.actor.tenant_id, &id, &settings)?;
    let method = get(tx.conn, &tx.actor.tenant_id, &id)?;
    tx.audit(Change::<(), _> {
        action: "registration_method.create",
        object_type: "registration_method",
        object_id: &id,
        before: None,
        after: Some(&method),
    })?;
    Ok(method)
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Method> {
    let row = registration_methods::table
        .filter(registration_methods::tenant_id.eq(tenant_id.as_str()))
        .filter(registration_methods::id.eq(id))
        .select(MethodRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("registration method"))?;
    let (mut roles, mut owners) = references(conn, tenant_id, Some(id))?;
    row.into_method(&mut roles, &mut owners)
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
    .load(conn)?;
    let (mut roles, mut owners) = references(conn, tenant_id, None)?;
    let rows = rows
        .into_iter()
        .map(|row| row.into_method(&mut roles, &mut owners))
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
        if row
            .clone()
            .without_references()?
            .settings
            .channels
            .contains(&channel)
        {
            // With the roles it gives and the owners it assigns, for the login it decides:
            // the chosen method's references, the method itself not read again.
            let (mut roles, mut owners) = references(conn, tenant_id, Some(&row.id))?;
            return row.into_method(&mut roles, &mut owners).map(Some);
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
    tx: &mut Tx<'_>,
    id: &str,
    changes: MethodChanges,
    expected_version: Option<i32>,
) -> DomainResult<Method> {
    tx.update_versioned(
        Versioned {
            action: "registration_method.update",
            object_type: "registration_method",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            let name = changes.name.unwrap_or(before.name.clone());
            let settings = changes.settings.unwrap_or(before.settings.clone());
            check(tx.conn, &tx.actor.tenant_id, &name, &settings)?;
            let rows = diesel::update(
                registration_methods::table
                    .filter(registration_methods::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(registration_methods::id.eq(id))
                    .filter(registration_methods::version.eq(before.version)),
            )
            .set((
                registration_methods::name.eq(name.trim()),
                registration_methods::enabled.eq(changes.enabled.unwrap_or(before.enabled)),
                registration_methods::settings_json.eq(stored_json(&settings)),
                registration_methods::version.eq(before.version + 1),
                registration_methods::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)?;
            save_references(tx.conn, &tx.actor.tenant_id, id, &settings)?;
            Ok(rows)
        },
    )
}

/// Deletes a method nobody came through; one that registrations or users refer to stays
/// (409 `in-use`): disabling it stops new logins through it and keeps the history.
pub fn delete(tx: &mut Tx<'_>, id: &str) -> DomainResult<()> {
    let before = get(tx.conn, &tx.actor.tenant_id, id)?;
    let registrations: i64 = registrations::table
        .filter(registrations::tenant_id.eq(tx.actor.tenant_id.as_str()))
        .filter(registrations::method_id.eq(id))
        .count()
        .get_result(tx.conn)?;
    let users: i64 = terminal_users::table
        .filter(terminal_users::tenant_id.eq(tx.actor.tenant_id.as_str()))
        .filter(terminal_users::method_id.eq(id))
        .count()
        .get_result(tx.conn)?;
    if registrations + users > 0 {
        return Err(DomainError::conflict(
            "in-use",
            format!(
                "{users} terminal user(s) and {registrations} registration(s) came through the \
             method \"{}\"; disable it instead",
                before.name
            ),
        ));
    }
    let deleted = diesel::delete(
        registration_methods::table
            .filter(registration_methods::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(registration_methods::id.eq(id)),
    )
    .execute(tx.conn)?;
    baoxiu_core::removed(deleted, "registration method")?;
    tx.audit(Change::<_, ()> {
        action: "registration_method.delete",
        object_type: "registration_method",
        object_id: id,
        before: Some(&before),
        after: None,
    })?;
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
