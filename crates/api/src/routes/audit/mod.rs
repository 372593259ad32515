//! Reading the audit log.

use actix_web::{get, web};
use baoxiu_audit::{AuditEntry, AuditFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::AdminCaller;
use crate::problem::ApiError;
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: String,
    /// `staff`, `platform`, `system`, `terminal` or `guest`.
    pub actor_kind: String,
    pub actor_id: String,
    /// `<object>.<verb>`, e.g. `staff.update`.
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// The object before the change (`null` on creation).
    pub before: Option<serde_json::Value>,
    /// The object after the change (`null` on deletion).
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn parse(json: Option<String>) -> Option<serde_json::Value> {
    json.and_then(|text| serde_json::from_str(&text).ok())
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            actor_kind: entry.actor_kind,
            actor_id: entry.actor_id,
            action: entry.action,
            object_type: entry.object_type,
            object_id: entry.object_id,
            before: parse(entry.before_json),
            after: parse(entry.after_json),
            request_id: entry.request_id,
            created_at: utc(entry.created_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[param(max_length = 64)]
    pub actor_id: Option<String>,
    #[param(max_length = 64)]
    pub action: Option<String>,
    #[param(max_length = 64)]
    pub object_type: Option<String>,
    #[param(max_length = 64)]
    pub object_id: Option<String>,
    /// From this time on (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// List the audit log.
///
/// Who changed what, newest first, filtered and cursor-paged.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_log",
    params(AuditQuery, PageQuery),
    responses((status = 200, description = "One page of entries", body = PageResponse<AuditEntryResponse>)),
)]
#[get("/admin/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    admin: AdminCaller,
    query: ApiQuery<AuditQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<AuditEntryResponse>>, ApiError> {
    let request = page.request()?;
    let query = query.into_inner();
    let filter = AuditFilter {
        actor_id: query.actor_id,
        action: query.action,
        object_type: query.object_type,
        object_id: query.object_id,
        since: query.since.map(|t| t.naive_utc()),
        until: query.until.map(|t| t.naive_utc()),
    };
    let page = state
        .read(&admin, move |tx| {
            baoxiu_audit::list(tx.conn, &tx.actor.tenant_id, &filter, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        AuditEntryResponse::from,
    )))
}
