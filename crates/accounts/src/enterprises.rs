//! External enterprises: the organisation a terminal user belongs to (互联企业). A WeChat
//! login of an `openid_auto` method creates one per user; registering links it to the
//! account, and an account has at most one, which its users share: "my enterprise's work
//! orders" are those of the users of one enterprise.

use baoxiu_core::{DomainError, DomainResult, TenantId, new_id};
use baoxiu_store::DbConn;
use baoxiu_store::schema::{external_enterprises, terminal_users};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::customers;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = external_enterprises)]
pub struct Enterprise {
    pub id: String,
    pub name: String,
    /// The account it is linked to, once one of its users has registered.
    pub account_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A new enterprise: of its own for a user who has not registered (yet), or an account's.
pub fn create(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    name: &str,
    account_id: Option<&str>,
    now: NaiveDateTime,
) -> DomainResult<Enterprise> {
    let id = new_id();
    diesel::insert_into(external_enterprises::table)
        .values((
            external_enterprises::tenant_id.eq(tenant_id.as_str()),
            external_enterprises::id.eq(&id),
            external_enterprises::name.eq(name),
            external_enterprises::account_id.eq(account_id),
            external_enterprises::created_at.eq(now),
            external_enterprises::updated_at.eq(now),
        ))
        .execute(conn)?;
    get(conn, tenant_id, &id)
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Enterprise> {
    external_enterprises::table
        .filter(external_enterprises::tenant_id.eq(tenant_id.as_str()))
        .filter(external_enterprises::id.eq(id))
        .select(Enterprise::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("enterprise"))
}

fn of_account(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    account_id: &str,
) -> DomainResult<Option<Enterprise>> {
    Ok(external_enterprises::table
        .filter(external_enterprises::tenant_id.eq(tenant_id.as_str()))
        .filter(external_enterprises::account_id.eq(account_id))
        .select(Enterprise::as_select())
        .first(conn)
        .optional()?)
}

/// The enterprise a user joins on registering with `account_id`: the account's, if it has
/// one; else the user's own unlinked enterprise, now linked and named after the account;
/// else a new one. An own enterprise left without users is removed.
pub fn join_account(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    current: Option<&str>,
    account_id: &str,
    now: NaiveDateTime,
) -> DomainResult<Enterprise> {
    let account = customers::get_account(conn, tenant_id, account_id)?;
    let current = match current {
        Some(id) => Some(get(conn, tenant_id, id)?),
        None => None,
    };
    if let Some(existing) = of_account(conn, tenant_id, account_id)? {
        return Ok(existing);
    }
    let target =
        external_enterprises::table.filter(external_enterprises::tenant_id.eq(tenant_id.as_str()));
    match current.filter(|e| e.account_id.is_none()) {
        Some(own) => {
            diesel::update(target.filter(external_enterprises::id.eq(&own.id)))
                .set((
                    external_enterprises::account_id.eq(account_id),
                    external_enterprises::name.eq(&account.name),
                    external_enterprises::updated_at.eq(now),
                ))
                .execute(conn)?;
            get(conn, tenant_id, &own.id)
        }
        None => create(conn, tenant_id, &account.name, Some(account_id), now),
    }
}

/// Removes an enterprise no user belongs to and no account owns (a placeholder left
/// behind when its only user joined an account's enterprise).
pub fn remove_if_unused(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<()> {
    let users: i64 = terminal_users::table
        .filter(terminal_users::tenant_id.eq(tenant_id.as_str()))
        .filter(terminal_users::enterprise_id.eq(id))
        .count()
        .get_result(conn)?;
    if users == 0 {
        diesel::delete(
            external_enterprises::table
                .filter(external_enterprises::tenant_id.eq(tenant_id.as_str()))
                .filter(external_enterprises::id.eq(id))
                .filter(external_enterprises::account_id.is_null()),
        )
        .execute(conn)?;
    }
    Ok(())
}
