//! Guest upgrade (SPEC section 3): someone who submitted as the guest, giving a mobile as
//! the order's contact phone, and later logs in by SMS code with that mobile gets those
//! orders under the identity they now have, in the login's unit of work.
//!
//! Only the tenant's guest orders move (submitted as the guest, still the guest's), and
//! only those whose contact phone is that mobile; each move is a compare-and-set on "still
//! the guest's", written to the order's timeline and the audit log. A second login finds
//! none left to move.

use baoxiu_accounts::terminal_users::TerminalUser;
use baoxiu_core::DomainResult;
use baoxiu_store::schema::{terminal_users, work_orders};
use baoxiu_store::{Change, Tx};
use diesel::prelude::*;
use serde::Serialize;

use crate::timeline;

/// The timeline action of a move.
pub const ACTION: &str = "guest_upgrade";

/// Who an order belongs to, as the audit shows it before and after a move.
#[derive(Debug, Serialize)]
struct Owner {
    terminal_user_id: Option<String>,
    account_id: Option<String>,
    contact_id: Option<String>,
    enterprise_id: Option<String>,
}

/// What a move reads of a guest order.
#[derive(Queryable, Selectable)]
#[diesel(table_name = work_orders)]
struct GuestOrder {
    id: String,
    status: String,
    contact_phone: String,
    terminal_user_id: Option<String>,
    account_id: Option<String>,
    contact_id: Option<String>,
    enterprise_id: Option<String>,
}

/// The spellings a mobile is commonly given in (the contact phone is kept as typed): the
/// eleven digits, grouped 3-4-4 by spaces or dashes, each with or without `+86`.
fn spellings(mobile: &str) -> Vec<String> {
    let mut found = vec![mobile.to_owned()];
    if mobile.len() == 11 && mobile.is_ascii() {
        let (a, b, c) = (&mobile[..3], &mobile[3..7], &mobile[7..]);
        found.push(format!("{a} {b} {c}"));
        found.push(format!("{a}-{b}-{c}"));
    }
    let with_code: Vec<String> = found
        .iter()
        .flat_map(|m| [format!("+86{m}"), format!("+86 {m}")])
        .collect();
    found.extend(with_code);
    found
}

/// Moves the tenant's guest orders whose contact phone is `mobile` to `user` (who has
/// just logged in with it): submitter, and the user's account, contact and enterprise
/// where the user has them (otherwise the guest account and contact stay). Answers how
/// many moved. `tx.actor` is the user. One statement when there is nothing to move.
pub fn move_guest_orders(
    tx: &mut Tx<'_>,
    user: &TerminalUser,
    mobile: &str,
) -> DomainResult<usize> {
    if user.is_guest {
        return Ok(0);
    }
    let tenant_id = tx.actor.tenant_id.as_str().to_owned();
    let guests = terminal_users::table
        .filter(terminal_users::tenant_id.eq(tenant_id.clone()))
        .filter(terminal_users::kind.eq("guest"))
        .select(terminal_users::id.nullable());
    let found: Vec<GuestOrder> = work_orders::table
        .filter(work_orders::tenant_id.eq(tenant_id.clone()))
        .filter(work_orders::contact_phone.eq_any(spellings(mobile)))
        .filter(work_orders::created_by_kind.eq("guest"))
        .filter(work_orders::terminal_user_id.eq_any(guests))
        .select(GuestOrder::as_select())
        .load(tx.conn)?;
    let enterprise_id = user.enterprise.as_ref().map(|e| e.id.clone());
    let mut moved = 0;
    for order in found {
        let given = baoxiu_forms::normalise_mobile("contact_phone", &order.contact_phone).ok();
        if given.as_deref() != Some(mobile) {
            continue;
        }
        let (id, status, guest_id) = (order.id, order.status, order.terminal_user_id);
        let before = Owner {
            terminal_user_id: guest_id.clone(),
            account_id: order.account_id,
            contact_id: order.contact_id,
            enterprise_id: order.enterprise_id,
        };
        let after = Owner {
            terminal_user_id: Some(user.id.clone()),
            account_id: user.account_id.clone().or(before.account_id.clone()),
            contact_id: if user.account_id.is_some() {
                user.contact_id.clone()
            } else {
                before.contact_id.clone()
            },
            enterprise_id: enterprise_id.clone().or(before.enterprise_id.clone()),
        };
        // Still the guest's: a concurrent login with the same mobile moves it once.
        let changed = diesel::update(
            work_orders::table
                .filter(work_orders::tenant_id.eq(tenant_id.clone()))
                .filter(work_orders::id.eq(id.clone()))
                .filter(work_orders::terminal_user_id.eq(guest_id)),
        )
        .set((
            work_orders::terminal_user_id.eq(after.terminal_user_id.clone()),
            work_orders::account_id.eq(after.account_id.clone()),
            work_orders::contact_id.eq(after.contact_id.clone()),
            work_orders::enterprise_id.eq(after.enterprise_id.clone()),
            work_orders::version.eq(work_orders::version + 1),
            work_orders::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
        if changed != 1 {
            continue;
        }
        timeline::insert(
            tx,
            &id,
            ACTION,
            Some(&status),
            &status,
            Some("submitted as a guest; moved to the user who logged in with its mobile"),
        )?;
        tx.audit(Change::updated(
            "work_order.guest_upgrade",
            "work_order",
            &id,
            &before,
            &after,
        ))?;
        moved += 1;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mobile_is_found_in_its_usual_spellings() {
        let all = spellings("13900139601");
        for spelled in [
            "13900139601",
            "139 0013 9601",
            "139-0013-9601",
            "+8613900139601",
            "+86 139-0013-9601",
        ] {
            assert!(all.iter().any(|s| s == spelled), "{spelled}");
        }
    }
}
