//! The status machine of a work order (SPEC section 5):
//! `pending` → `accepted` → `assigned` → `in_progress` → `completed` → `closed`;
//! `cancelled` by the customer while pending; `rejected` by staff, with a reason.
//! Every change goes through `change`: one compare-and-set `UPDATE … WHERE status = <read>`
//! (exactly one row, else 409 `invalid-transition`), its timeline row and its outbox event,
//! all in the caller's transaction.

use baoxiu_core::{DomainError, DomainResult, Transition};
use baoxiu_store::schema::work_orders;
use baoxiu_store::{Event, Tx};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::timeline;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 待确认: submitted, not yet accepted.
    Pending,
    Accepted,
    /// 已分派: assigned to an engineer.
    Assigned,
    /// The engineer checked in.
    InProgress,
    /// 已完工.
    Completed,
    Closed,
    Cancelled,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Self::Pending,
        Self::Accepted,
        Self::Assigned,
        Self::InProgress,
        Self::Completed,
        Self::Closed,
        Self::Cancelled,
        Self::Rejected,
    ];

    /// Not finished yet: what the duplicate guard and the breach flag look at.
    pub const OPEN: [&'static str; 4] = ["pending", "accepted", "assigned", "in_progress"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Assigned => "assigned",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| DomainError::Internal(format!("stored work order status {text}")))
    }

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self.as_str())
    }
}

const ORDER: &str = "work order";

/// Staff accept a submitted order.
pub const ACCEPT: Transition = Transition::new(ORDER, &["pending"], "accepted");
/// Staff assign (or reassign) an engineer.
pub const ASSIGN: Transition =
    Transition::new(ORDER, &["pending", "accepted", "assigned"], "assigned");
/// The engineer checks in (or staff record that the work started).
pub const START: Transition = Transition::new(ORDER, &["assigned"], "in_progress");
/// The work is done.
pub const COMPLETE: Transition = Transition::new(ORDER, &["in_progress"], "completed");
/// Confirmed by the customer, closed by staff, or closed itself after the tenant's days.
pub const CLOSE: Transition = Transition::new(ORDER, &["completed"], "closed");
/// Staff refuse the order, with a reason.
pub const REJECT: Transition = Transition::new(ORDER, &["pending", "accepted"], "rejected");
/// The customer withdraws it while it is pending.
pub const CANCEL: Transition = Transition::new(ORDER, &["pending"], "cancelled");

/// The columns a status change may set besides the status.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = work_orders)]
pub struct Also<'a> {
    pub engineer_id: Option<&'a str>,
    pub accepted_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub reject_reason: Option<&'a str>,
    pub check_in_at: Option<NaiveDateTime>,
    pub check_in_latitude: Option<f64>,
    pub check_in_longitude: Option<f64>,
    pub check_out_at: Option<NaiveDateTime>,
    pub check_out_latitude: Option<f64>,
    pub check_out_longitude: Option<f64>,
}

/// One change of an order's status: `action` names it in the timeline and the outbox.
#[derive(Debug)]
pub struct Change<'a> {
    pub transition: &'a Transition,
    pub action: &'a str,
    pub note: Option<&'a str>,
    pub also: Also<'a>,
}

/// What the outbox says of a change: enough for a notification without reading the order.
#[derive(Debug, Serialize)]
pub struct ChangedPayload<'a> {
    pub v: i32,
    pub work_order_id: &'a str,
    pub number: &'a str,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
}

/// The one way an order's status changes: refuses a change its current status does not
/// allow, updates it only where the status read still holds (exactly one row, else 409
/// `invalid-transition`), writes the timeline row and emits the outbox event. The caller
/// has read the order as someone who may change it (others answer 404 before this).
pub fn change(
    tx: &mut Tx<'_>,
    order_id: &str,
    number: &str,
    current: Status,
    change: Change<'_>,
) -> DomainResult<()> {
    change.transition.require(current.as_str())?;
    let updated = diesel::update(
        work_orders::table
            .filter(work_orders::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(work_orders::id.eq(order_id))
            .filter(work_orders::status.eq(current.as_str()))
            .filter(work_orders::status.eq_any(change.transition.from)),
    )
    .set((
        work_orders::status.eq(change.transition.to),
        work_orders::updated_at.eq(tx.now),
        work_orders::version.eq(work_orders::version + 1),
        change.also,
    ))
    .execute(tx.conn)?;
    change.transition.applied(updated)?;
    record(
        tx,
        order_id,
        number,
        change.action,
        Some(current.as_str()),
        change.transition.to,
        change.note,
    )
}

/// Writes one timeline row and its outbox event (`work_order.<action>`): every change of
/// an order, status changes and the others (a rating, a check-out) alike.
pub fn record(
    tx: &mut Tx<'_>,
    order_id: &str,
    number: &str,
    action: &str,
    from: Option<&str>,
    to: &str,
    note: Option<&str>,
) -> DomainResult<()> {
    timeline::insert(tx, order_id, action, from, to, note)?;
    let kind = format!("work_order.{action}");
    tx.emit(Event {
        kind: &kind,
        subject_type: "work_order",
        subject_id: order_id,
        payload: &ChangedPayload {
            v: 1,
            work_order_id: order_id,
            number,
            action,
            from,
            to,
        },
    })
}
