//! The audit log: who changed what, when, with the object before and after. Entries are
//! written by the unit of work (`Tx::audit`, in the transaction of the change itself, so a
//! change and its entry commit together or not at all); this crate reads them.

use baoxiu_core::{DomainResult, Page, PageRequest, TenantId};
pub use baoxiu_store::Change;
use baoxiu_store::DbConn;
use baoxiu_store::schema::audit_log;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub tenant_id: String,
    pub id: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub request_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Filters of the audit log list; all optional, combined with AND.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// How the list pages: newest first (a feed).
pub const AUDIT_LOG: baoxiu_core::Keyset = baoxiu_core::Keyset::newest_first("audit_log");

/// Entries of one tenant, newest first (a feed), cursor-paged.
pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &AuditFilter,
    page: &PageRequest,
) -> DomainResult<Page<AuditEntry>> {
    let mut query = audit_log::table
        .filter(audit_log::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    if let Some(actor_id) = &filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor_id.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(object_type) = &filter.object_type {
        query = query.filter(audit_log::object_type.eq(object_type.clone()));
    }
    if let Some(object_id) = &filter.object_id {
        query = query.filter(audit_log::object_id.eq(object_id.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::created_at.lt(until));
    }
    let rows = baoxiu_store::paginate(
        query,
        audit_log::created_at,
        audit_log::id,
        &AUDIT_LOG,
        page,
    )?
    .select(AuditEntry::as_select())
    .load(conn)?;
    Ok(page.finish(&AUDIT_LOG, rows, |row| (row.created_at, row.id.clone())))
}
