//! Customer accounts (the tenant's CRM records of customer companies) and their contacts.
//! Account names are stored with an exact and a fuzzy key for the duplicate check.

use baoxiu_core::{DomainError, DomainResult, Page, PageRequest, TenantId, Validator, new_id};
use baoxiu_store::Change;
use baoxiu_store::schema::{accounts, contacts};
use baoxiu_store::{DbConn, Tx, Versioned};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::company_names::{exact_key, fuzzy_key};
use crate::fields;

pub type ExtraFields = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub record_type: String,
    pub fields: ExtraFields,
    pub owner_staff_id: Option<String>,
    /// `admin`, `registration` or `guest`.
    pub source: String,
    /// Whether its contacts were activated as terminal users.
    pub activated: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    id: String,
    name: String,
    record_type: String,
    fields_json: String,
    owner_staff_id: Option<String>,
    source: String,
    activated: bool,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn parse_fields(text: &str) -> ExtraFields {
    serde_json::from_str(text).unwrap_or_default()
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Self {
            fields: parse_fields(&row.fields_json),
            id: row.id,
            name: row.name,
            record_type: row.record_type,
            owner_staff_id: row.owner_staff_id,
            source: row.source,
            activated: row.activated,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub record_type: String,
    pub fields: ExtraFields,
    pub owner_staff_id: Option<String>,
    pub source: &'static str,
}

pub fn create_account(tx: &mut Tx<'_>, input: NewAccount) -> DomainResult<Account> {
    let mut errors = Validator::new();
    let name = fields::text("name", &input.name, 128)
        .map_err(|e| errors.push(e))
        .ok();
    let record_type = fields::record_type("record_type", &input.record_type)
        .map_err(|e| errors.push(e))
        .ok();
    errors.finish()?;
    let (name, record_type) = (name.unwrap_or_default(), record_type.unwrap_or_default());
    let id = new_id();
    diesel::insert_into(accounts::table)
        .values((
            accounts::tenant_id.eq(tx.actor.tenant_id.as_str()),
            accounts::id.eq(&id),
            accounts::exact_key.eq(exact_key(&name)),
            accounts::fuzzy_key.eq(fuzzy_key(&name)),
            accounts::name.eq(&name),
            accounts::record_type.eq(&record_type),
            accounts::fields_json.eq(serde_json::Value::Object(input.fields).to_string()),
            accounts::owner_staff_id.eq(&input.owner_staff_id),
            accounts::source.eq(input.source),
            accounts::activated.eq(false),
            accounts::version.eq(1),
            accounts::created_at.eq(tx.now),
            accounts::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    let account = get_account(tx.conn, &tx.actor.tenant_id, &id)?;
    tx.audit(Change::<(), _> {
        action: "account.create",
        object_type: "account",
        object_id: &id,
        before: None,
        after: Some(&account),
    })?;
    Ok(account)
}

pub fn get_account(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Account> {
    Ok(accounts::table
        .filter(accounts::tenant_id.eq(tenant_id.as_str()))
        .filter(accounts::id.eq(id))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("account"))?
        .into())
}

/// How account names are compared when looking for an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateCheck {
    Exact,
    Fuzzy,
}

/// The oldest account whose name matches `name` under the rule.
pub fn find_account_by_name(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    name: &str,
    rule: DuplicateCheck,
) -> DomainResult<Option<Account>> {
    let query = accounts::table
        .filter(accounts::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let query = match rule {
        DuplicateCheck::Exact => query.filter(accounts::exact_key.eq(exact_key(name))),
        DuplicateCheck::Fuzzy => query.filter(accounts::fuzzy_key.eq(fuzzy_key(name))),
    };
    Ok(query
        .order((accounts::created_at.asc(), accounts::id.asc()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

#[derive(Debug, Default, Clone)]
pub struct AccountFilter {
    /// Matches names containing this text (case-insensitive for Latin letters).
    pub q: Option<String>,
}

/// How the list pages: oldest first.
pub const ACCOUNTS: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("accounts");

pub fn list_accounts(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &AccountFilter,
    page: &PageRequest,
) -> DomainResult<Page<Account>> {
    let mut query = accounts::table
        .filter(accounts::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = exact_key(q)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            accounts::exact_key
                .like(format!("%{escaped}%"))
                .escape('\\'),
        );
    }
    let rows: Vec<Account> =
        baoxiu_store::paginate(query, accounts::created_at, accounts::id, &ACCOUNTS, page)?
            .select(AccountRow::as_select())
            .load(conn)?
            .into_iter()
            .map(Into::into)
            .collect();
    Ok(page.finish(&ACCOUNTS, rows, |a| (a.created_at, a.id.clone())))
}

#[derive(Debug, Default, Clone)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub fields: Option<ExtraFields>,
    /// `Some(None)` clears the owner.
    pub owner_staff_id: Option<Option<String>>,
}

pub fn update_account(
    tx: &mut Tx<'_>,
    id: &str,
    changes: AccountChanges,
    expected_version: Option<i32>,
) -> DomainResult<Account> {
    tx.update_versioned(
        Versioned {
            action: "account.update",
            object_type: "account",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get_account(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            let name = match &changes.name {
                Some(name) => {
                    fields::text("name", name, 128).map_err(|e| DomainError::Validation(vec![e]))?
                }
                None => before.name.clone(),
            };
            if let Some(Some(owner)) = &changes.owner_staff_id {
                crate::staff::get(tx.conn, &tx.actor.tenant_id, owner).map_err(|_| {
                    DomainError::invalid("owner_staff_id", "not_found", "no such staff user")
                })?;
            }
            let rows = diesel::update(
                accounts::table
                    .filter(accounts::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(accounts::id.eq(id))
                    .filter(accounts::version.eq(before.version)),
            )
            .set((
                accounts::exact_key.eq(exact_key(&name)),
                accounts::fuzzy_key.eq(fuzzy_key(&name)),
                accounts::name.eq(&name),
                accounts::fields_json.eq(serde_json::Value::Object(
                    changes.fields.unwrap_or(before.fields.clone()),
                )
                .to_string()),
                accounts::owner_staff_id.eq(changes
                    .owner_staff_id
                    .unwrap_or(before.owner_staff_id.clone())),
                accounts::version.eq(before.version + 1),
                accounts::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)?;
            Ok(rows)
        },
    )
}

pub fn mark_activated(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    diesel::update(
        accounts::table
            .filter(accounts::tenant_id.eq(tenant_id.as_str()))
            .filter(accounts::id.eq(id)),
    )
    .set((accounts::activated.eq(true), accounts::updated_at.eq(now)))
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub mobile: Option<String>,
    pub record_type: String,
    pub fields: ExtraFields,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = contacts)]
struct ContactRow {
    id: String,
    account_id: String,
    name: String,
    mobile: Option<String>,
    record_type: String,
    fields_json: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Self {
            fields: parse_fields(&row.fields_json),
            id: row.id,
            account_id: row.account_id,
            name: row.name,
            mobile: row.mobile,
            record_type: row.record_type,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewContact {
    pub name: String,
    pub mobile: Option<String>,
    pub record_type: String,
    pub fields: ExtraFields,
}

pub fn create_contact(
    tx: &mut Tx<'_>,
    account_id: &str,
    input: NewContact,
) -> DomainResult<Contact> {
    get_account(tx.conn, &tx.actor.tenant_id, account_id)?;
    let mut errors = Validator::new();
    let name = fields::text("name", &input.name, 64)
        .map_err(|e| errors.push(e))
        .ok();
    let mobile = input
        .mobile
        .as_deref()
        .map(|m| fields::normalise_mobile("mobile", m))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let record_type = fields::record_type("record_type", &input.record_type)
        .map_err(|e| errors.push(e))
        .ok();
    errors.finish()?;
    let id = new_id();
    diesel::insert_into(contacts::table)
        .values((
            contacts::tenant_id.eq(tx.actor.tenant_id.as_str()),
            contacts::id.eq(&id),
            contacts::account_id.eq(account_id),
            contacts::name.eq(name.unwrap_or_default()),
            contacts::mobile.eq(mobile),
            contacts::record_type.eq(record_type.unwrap_or_default()),
            contacts::fields_json.eq(serde_json::Value::Object(input.fields).to_string()),
            contacts::version.eq(1),
            contacts::created_at.eq(tx.now),
            contacts::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
    let contact = get_contact(tx.conn, &tx.actor.tenant_id, &id)?;
    tx.audit(Change::<(), _> {
        action: "contact.create",
        object_type: "contact",
        object_id: &id,
        before: None,
        after: Some(&contact),
    })?;
    Ok(contact)
}

pub fn get_contact(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Contact> {
    Ok(contacts::table
        .filter(contacts::tenant_id.eq(tenant_id.as_str()))
        .filter(contacts::id.eq(id))
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("contact"))?
        .into())
}

/// How an account's contacts page: oldest first.
pub const CONTACTS: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("contacts");

/// An account's contacts, a page at a time.
pub fn list_contacts(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    account_id: &str,
    page: &PageRequest,
) -> DomainResult<Page<Contact>> {
    let query = contacts::table
        .filter(contacts::tenant_id.eq(tenant_id.as_str()))
        .filter(contacts::account_id.eq(account_id.to_owned()))
        .into_boxed();
    let rows: Vec<Contact> =
        baoxiu_store::paginate(query, contacts::created_at, contacts::id, &CONTACTS, page)?
            .select(ContactRow::as_select())
            .load(conn)?
            .into_iter()
            .map(Into::into)
            .collect();
    Ok(page.finish(&CONTACTS, rows, |c| (c.created_at, c.id.clone())))
}

/// Every contact of an account (an activation reaches all of them).
pub fn contacts_of(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    account_id: &str,
) -> DomainResult<Vec<Contact>> {
    Ok(contacts::table
        .filter(contacts::tenant_id.eq(tenant_id.as_str()))
        .filter(contacts::account_id.eq(account_id))
        .order((contacts::created_at.asc(), contacts::id.asc()))
        .select(ContactRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub fn find_contact_by_mobile(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    account_id: &str,
    mobile: &str,
) -> DomainResult<Option<Contact>> {
    Ok(contacts::table
        .filter(contacts::tenant_id.eq(tenant_id.as_str()))
        .filter(contacts::account_id.eq(account_id))
        .filter(contacts::mobile.eq(mobile))
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?
        .map(Into::into))
}

#[derive(Debug, Default, Clone)]
pub struct ContactChanges {
    pub name: Option<String>,
    /// `Some(None)` clears the mobile.
    pub mobile: Option<Option<String>>,
    pub fields: Option<ExtraFields>,
}

pub fn update_contact(
    tx: &mut Tx<'_>,
    id: &str,
    changes: ContactChanges,
    expected_version: Option<i32>,
) -> DomainResult<Contact> {
    tx.update_versioned(
        Versioned {
            action: "contact.update",
            object_type: "contact",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get_contact(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            let mut errors = Validator::new();
            let name = changes
                .name
                .as_deref()
                .map(|n| fields::text("name", n, 64))
                .transpose()
                .map_err(|e| errors.push(e))
                .ok()
                .flatten();
            let mobile = match &changes.mobile {
                Some(Some(m)) => fields::normalise_mobile("mobile", m)
                    .map(|m| Some(Some(m)))
                    .map_err(|e| errors.push(e))
                    .ok()
                    .flatten(),
                Some(None) => Some(None),
                None => None,
            };
            errors.finish()?;
            let rows = diesel::update(
                contacts::table
                    .filter(contacts::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(contacts::id.eq(id))
                    .filter(contacts::version.eq(before.version)),
            )
            .set((
                contacts::name.eq(name.unwrap_or(before.name.clone())),
                contacts::mobile.eq(mobile.unwrap_or(before.mobile.clone())),
                contacts::fields_json.eq(serde_json::Value::Object(
                    changes.fields.unwrap_or(before.fields.clone()),
                )
                .to_string()),
                contacts::version.eq(before.version + 1),
                contacts::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)?;
            Ok(rows)
        },
    )
}
