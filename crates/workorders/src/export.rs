//! Work orders out to a CSV file (the staff export): the columns, and one batch of rows at
//! a time through the staff list's query and filters, so that an export is streamed in
//! keyset batches and every cell a spreadsheet would run as a formula is guarded.

use baoxiu_core::csv_file::{enum_cell, safe_cell, safe_optional};
use baoxiu_core::{DomainResult, Page, PageRequest, TenantId};
use baoxiu_store::DbConn;
use chrono::{NaiveDateTime, SecondsFormat};

use crate::orders::{self, OrderFilter, Reader, WorkOrder};

/// The header row, in the order the cells are written.
pub const HEADER: [&str; 31] = [
    "number",
    "status",
    "channel",
    "service_type",
    "created_at",
    "device_id",
    "serial_no",
    "machine_no",
    "brand",
    "category",
    "model",
    "fault_description",
    "warranty_status",
    "appointment_at",
    "contact_name",
    "contact_phone",
    "address",
    "account_id",
    "contact_id",
    "engineer_id",
    "engineer_name",
    "response_due_at",
    "resolution_due_at",
    "about_to_breach",
    "accepted_at",
    "completed_at",
    "closed_at",
    "reject_reason",
    "rating_stars",
    "rating_comment",
    "id",
];

/// One batch: the rows of one page of the tenant's orders matching `filter` (the staff
/// list's one statement), newest first, and the cursor of the next batch.
pub fn batch(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &OrderFilter,
    page: &PageRequest,
    now: NaiveDateTime,
) -> DomainResult<Page<Vec<String>>> {
    Ok(orders::list(conn, tenant_id, filter, &Reader::Staff, page, now)?.map(|o| row(&o, now)))
}

/// RFC 3339 in UTC, to the second.
fn time(at: Option<NaiveDateTime>) -> String {
    at.map(|t| t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn row(o: &WorkOrder, now: NaiveDateTime) -> Vec<String> {
    let row = vec![
        o.number.clone(),
        o.status.as_str().to_owned(),
        o.channel.as_str().to_owned(),
        o.service_type.as_str().to_owned(),
        time(Some(o.created_at)),
        o.device_id.clone().unwrap_or_default(),
        safe_optional(o.serial_no.as_deref()),
        safe_optional(o.machine_no.as_deref()),
        safe_cell(&o.brand),
        safe_cell(&o.category),
        safe_cell(&o.model),
        safe_cell(&o.fault_description),
        o.warranty_status.map(enum_cell).unwrap_or_default(),
        time(o.appointment_at),
        safe_cell(&o.contact_name),
        safe_cell(&o.contact_phone),
        safe_cell(&o.address),
        o.account_id.clone().unwrap_or_default(),
        o.contact_id.clone().unwrap_or_default(),
        o.engineer_id.clone().unwrap_or_default(),
        safe_optional(o.engineer_name.as_deref()),
        time(o.response_due_at),
        time(o.resolution_due_at),
        o.about_to_breach(now).to_string(),
        time(o.accepted_at),
        time(o.completed_at),
        time(o.closed_at),
        safe_optional(o.reject_reason.as_deref()),
        o.rating
            .as_ref()
            .map(|r| r.stars.to_string())
            .unwrap_or_default(),
        safe_optional(o.rating.as_ref().map(|r| r.comment.as_str())),
        o.id.clone(),
    ];
    debug_assert_eq!(row.len(), HEADER.len());
    row
}
