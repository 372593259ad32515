//! The timeline of a work order: every change, who made it, when, from and to which
//! status, with a note (a rejection's reason, an engineer's words at check-out).

use baoxiu_core::{DomainResult, TenantId, new_id};
use baoxiu_store::schema::work_order_events;
use baoxiu_store::{DbConn, Tx};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// One step of an order's life.
#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = work_order_events)]
pub struct TimelineEntry {
    pub id: String,
    pub work_order_id: String,
    /// `submit`, `accept`, `assign`, `start`, `check_in`, `check_out`, `complete`,
    /// `close`, `confirm`, `auto_close`, `reject`, `cancel`, `rate`.
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
    /// `staff`, `terminal`, `guest`, `system` (the tracking link and jobs act as the system).
    pub actor_kind: String,
    pub actor_id: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = work_order_events)]
struct NewEntry<'a> {
    tenant_id: &'a str,
    id: String,
    work_order_id: &'a str,
    action: &'a str,
    from_status: Option<&'a str>,
    to_status: &'a str,
    note: Option<&'a str>,
    actor_kind: &'a str,
    actor_id: &'a str,
    created_at: NaiveDateTime,
}

pub(crate) fn insert(
    tx: &mut Tx<'_>,
    order_id: &str,
    action: &str,
    from: Option<&str>,
    to: &str,
    note: Option<&str>,
) -> DomainResult<()> {
    diesel::insert_into(work_order_events::table)
        .values(NewEntry {
            tenant_id: tx.actor.tenant_id.as_str(),
            id: new_id(),
            work_order_id: order_id,
            action,
            from_status: from,
            to_status: to,
            note,
            actor_kind: tx.actor.kind.as_str(),
            actor_id: &tx.actor.id,
            created_at: tx.now,
        })
        .execute(tx.conn)?;
    Ok(())
}

/// The whole timeline of one order, oldest first, in one statement (an order's life has a
/// few dozen steps at most: it is not paged).
pub fn of_order(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    order_id: &str,
) -> DomainResult<Vec<TimelineEntry>> {
    Ok(work_order_events::table
        .filter(work_order_events::tenant_id.eq(tenant_id.as_str()))
        .filter(work_order_events::work_order_id.eq(order_id))
        .order((
            work_order_events::created_at.asc(),
            work_order_events::id.asc(),
        ))
        .limit(500)
        .select(TimelineEntry::as_select())
        .load(conn)?)
}
