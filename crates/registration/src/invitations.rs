//! Invitation codes: single- or multi-use, optionally expiring; required at registration
//! when the policy says so.

use baoxiu_accounts::customers;
use baoxiu_core::{DomainError, DomainResult, TenantId, Validator, new_id};
use baoxiu_core::{Keyset, Page, PageRequest};
use baoxiu_store::Change;
use baoxiu_store::schema::invitation_codes;
use baoxiu_store::{DbConn, Tx};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::Rng;
use serde::Serialize;

// No 0/O, 1/I/L: people type these from paper.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = invitation_codes)]
pub struct InvitationCode {
    pub id: String,
    pub code: String,
    pub max_uses: i32,
    pub uses: i32,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// The account the code was issued for: redeeming it proves the registrant belongs to
    /// that account (without it, a registration that lands on an existing account waits
    /// for approval).
    pub account_id: Option<String>,
}

pub fn create(
    tx: &mut Tx<'_>,
    max_uses: i32,
    expires_at: Option<NaiveDateTime>,
    account_id: Option<&str>,
) -> DomainResult<InvitationCode> {
    let mut errors = Validator::new();
    if let Some(account_id) = account_id {
        errors.check(
            customers::get_account(tx.conn, &tx.actor.tenant_id, account_id).is_ok(),
            "account_id",
            "not_found",
            "no such account",
        );
    }
    errors.check(
        (1..=100_000).contains(&max_uses),
        "max_uses",
        "out_of_range",
        "must be 1 to 100000",
    );
    errors.check(
        expires_at.is_none_or(|t| t > tx.now),
        "expires_at",
        "invalid",
        "must be in the future",
    );
    errors.finish()?;
    let mut rng = rand::rng();
    let code: String = (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let id = new_id();
    diesel::insert_into(invitation_codes::table)
        .values((
            invitation_codes::tenant_id.eq(tx.actor.tenant_id.as_str()),
            invitation_codes::id.eq(&id),
            invitation_codes::code.eq(&code),
            invitation_codes::max_uses.eq(max_uses),
            invitation_codes::uses.eq(0),
            invitation_codes::expires_at.eq(expires_at),
            invitation_codes::created_at.eq(tx.now),
            invitation_codes::account_id.eq(account_id),
        ))
        .execute(tx.conn)?;
    let created = invitation_codes::table
        .filter(invitation_codes::tenant_id.eq(tx.actor.tenant_id.as_str()))
        .filter(invitation_codes::id.eq(&id))
        .select(InvitationCode::as_select())
        .first(tx.conn)?;
    tx.audit(Change::<(), _> {
        action: "invitation_code.create",
        object_type: "invitation_code",
        object_id: &id,
        before: None,
        after: Some(&created),
    })?;
    Ok(created)
}

/// How the list of codes pages: oldest first.
pub const INVITATION_CODES: Keyset = Keyset::oldest_first("invitation_codes");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    page: &PageRequest,
) -> DomainResult<Page<InvitationCode>> {
    let query = invitation_codes::table
        .filter(invitation_codes::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let rows = baoxiu_store::paginate(
        query,
        invitation_codes::created_at,
        invitation_codes::id,
        &INVITATION_CODES,
        page,
    )?
    .select(InvitationCode::as_select())
    .load(conn)?;
    Ok(page.finish(&INVITATION_CODES, rows, |c| (c.created_at, c.id.clone())))
}

/// Uses a code once; fails (as a field error) when unknown, used up or expired. Answers
/// the code redeemed.
pub fn redeem(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    code: &str,
    now: NaiveDateTime,
) -> DomainResult<InvitationCode> {
    let bad = || {
        DomainError::invalid(
            "invitation_code",
            "invalid",
            "the invitation code is unknown, used up or expired",
        )
    };
    let found: InvitationCode = invitation_codes::table
        .filter(invitation_codes::tenant_id.eq(tenant_id.as_str()))
        .filter(invitation_codes::code.eq(code.trim().to_ascii_uppercase()))
        .select(InvitationCode::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(bad)?;
    if found.expires_at.is_some_and(|t| t <= now) {
        return Err(bad());
    }
    // Counted in the row, guarded on the cap: concurrent redemptions cannot exceed it.
    let updated = diesel::update(
        invitation_codes::table
            .filter(invitation_codes::tenant_id.eq(tenant_id.as_str()))
            .filter(invitation_codes::id.eq(&found.id))
            .filter(invitation_codes::uses.lt(invitation_codes::max_uses)),
    )
    .set(invitation_codes::uses.eq(invitation_codes::uses + 1))
    .execute(conn)?;
    if updated == 1 { Ok(found) } else { Err(bad()) }
}
