//! The registration policy: guest on/off and the account + contact that own guest data,
//! whether work orders need an account and contact, whether registration needs an
//! invitation code, and the number of terminal-user seats (licenses).

use baoxiu_accounts::customers;
use baoxiu_core::{DomainResult, TenantId, Validator};
use baoxiu_store::schema::registration_policies;
use baoxiu_store::{DbConn, is_unique_violation};
use baoxiu_store::{Tx, Versioned};
use diesel::prelude::*;
use serde::Serialize;

/// Seats a tenant has until it buys more.
pub const DEFAULT_SEATS: i32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = registration_policies)]
pub struct Policy {
    pub guest_enabled: bool,
    pub guest_account_id: Option<String>,
    pub guest_contact_id: Option<String>,
    pub require_account_on_work_orders: bool,
    pub invitation_required: bool,
    pub seats: i32,
    pub version: i32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            guest_enabled: false,
            guest_account_id: None,
            guest_contact_id: None,
            require_account_on_work_orders: false,
            invitation_required: false,
            seats: DEFAULT_SEATS,
            version: 0,
        }
    }
}

/// The tenant's policy (the default until an admin saves one).
pub fn get(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Policy> {
    Ok(registration_policies::table
        .filter(registration_policies::tenant_id.eq(tenant_id.as_str()))
        .select(Policy::as_select())
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub guest_enabled: bool,
    pub guest_account_id: Option<String>,
    pub guest_contact_id: Option<String>,
    pub require_account_on_work_orders: bool,
    pub invitation_required: bool,
}

/// Replaces the policy. Guests need an account and one of its contacts to own their data.
pub fn put(
    tx: &mut Tx<'_>,
    input: PolicyInput,
    expected_version: Option<i32>,
) -> DomainResult<Policy> {
    let tenant_id = tx.actor.tenant_id.clone();
    tx.update_versioned(
        Versioned {
            action: "registration_policy.update",
            object_type: "registration_policy",
            object_id: tenant_id.as_str(),
            expected: expected_version,
        },
        get,
        |before| before.version,
        |tx, before| write_policy(tx, before, input),
    )
}

/// Writes the policy where the version read still holds (the rows it changed).
fn write_policy(tx: &mut Tx<'_>, before: &Policy, input: PolicyInput) -> DomainResult<usize> {
    let mut errors = Validator::new();
    if input.guest_enabled {
        match (&input.guest_account_id, &input.guest_contact_id) {
            (Some(account_id), Some(contact_id)) => {
                let account = customers::get_account(tx.conn, &tx.actor.tenant_id, account_id);
                errors.check(
                    account.is_ok(),
                    "guest_account_id",
                    "not_found",
                    "no such account",
                );
                let contact = customers::get_contact(tx.conn, &tx.actor.tenant_id, contact_id);
                errors.check(
                    contact.as_ref().is_ok_and(|c| &c.account_id == account_id),
                    "guest_contact_id",
                    "not_found",
                    "no such contact of the guest account",
                );
            }
            _ => {
                errors.check(
                    input.guest_account_id.is_some(),
                    "guest_account_id",
                    "required",
                    "guests need an account to own their data",
                );
                errors.check(
                    input.guest_contact_id.is_some(),
                    "guest_contact_id",
                    "required",
                    "guests need a contact to own their data",
                );
            }
        }
    }
    errors.finish()?;
    let version = before.version + 1;
    let values = (
        registration_policies::guest_enabled.eq(input.guest_enabled),
        registration_policies::guest_account_id.eq(&input.guest_account_id),
        registration_policies::guest_contact_id.eq(&input.guest_contact_id),
        registration_policies::require_account_on_work_orders
            .eq(input.require_account_on_work_orders),
        registration_policies::invitation_required.eq(input.invitation_required),
        // Seats are the tenant's licence: the platform sets them (`set_seats`), not its admins.
        registration_policies::seats.eq(before.seats),
        registration_policies::version.eq(version),
        registration_policies::updated_at.eq(tx.now),
    );
    let written = if before.version == 0 {
        diesel::insert_into(registration_policies::table)
            .values((
                registration_policies::tenant_id.eq(tx.actor.tenant_id.as_str()),
                values,
            ))
            .execute(tx.conn)
    } else {
        diesel::update(
            registration_policies::table
                .filter(registration_policies::tenant_id.eq(tx.actor.tenant_id.as_str()))
                .filter(registration_policies::version.eq(before.version)),
        )
        .set(values)
        .execute(tx.conn)
    };
    // A first write that lost the race to insert the row is an update that lost it.
    let rows = match written {
        Err(e) if is_unique_violation(&e) => 0,
        other => other?,
    };
    // Guest off ends the guest sessions at once (refresh and data routes alike).
    if rows == 1 && before.guest_enabled && !input.guest_enabled {
        baoxiu_accounts::sessions::revoke_kind(
            tx.conn,
            &tx.actor.tenant_id,
            baoxiu_accounts::sessions::PrincipalKind::Guest,
            tx.now,
        )?;
    }
    Ok(rows)
}

/// The most seats a tenant can hold.
pub const MAX_SEATS: i32 = 1_000_000;

/// A platform operator sets a tenant's terminal-user seats (its licence). Audited in the
/// tenant's log as the platform's change.
pub fn set_seats(tx: &mut Tx<'_>, seats: i32) -> DomainResult<Policy> {
    let mut errors = Validator::new();
    errors.check(
        (0..=MAX_SEATS).contains(&seats),
        "seats",
        "out_of_range",
        "must be 0 to 1000000",
    );
    errors.finish()?;
    tx.lock_tenant()?;
    let tenant_id = tx.actor.tenant_id.clone();
    tx.update_versioned(
        Versioned {
            action: "registration_policy.set_seats",
            object_type: "registration_policy",
            object_id: tenant_id.as_str(),
            expected: None,
        },
        get,
        |before| before.version,
        |tx, before| write_seats(tx, before, seats),
    )
}

/// Writes the seats where the version read still holds (the rows it changed); the first
/// write makes the policy row.
fn write_seats(tx: &mut Tx<'_>, before: &Policy, seats: i32) -> DomainResult<usize> {
    let rows = if before.version == 0 {
        let defaults = Policy::default();
        diesel::insert_into(registration_policies::table)
            .values((
                registration_policies::tenant_id.eq(tx.actor.tenant_id.as_str()),
                registration_policies::guest_enabled.eq(defaults.guest_enabled),
                registration_policies::guest_account_id.eq(defaults.guest_account_id),
                registration_policies::guest_contact_id.eq(defaults.guest_contact_id),
                registration_policies::require_account_on_work_orders
                    .eq(defaults.require_account_on_work_orders),
                registration_policies::invitation_required.eq(defaults.invitation_required),
                registration_policies::seats.eq(seats),
                registration_policies::version.eq(1),
                registration_policies::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)?
    } else {
        diesel::update(
            registration_policies::table
                .filter(registration_policies::tenant_id.eq(tx.actor.tenant_id.as_str()))
                .filter(registration_policies::version.eq(before.version)),
        )
        .set((
            registration_policies::seats.eq(seats),
            registration_policies::version.eq(before.version + 1),
            registration_policies::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?
    };
    Ok(rows)
}
