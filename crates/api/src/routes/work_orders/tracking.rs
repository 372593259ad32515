//! Tracking links: the holder of an order's token sees its status and timeline and, once
//! it is completed, rates it — without logging in. The tenant comes from `X-Tenant` or the
//! host, as for every call without a token. A token no order of the tenant has answers 404.

use actix_web::{get, post, web};
use baoxiu_workorders::orders::{self, WorkOrder};
use baoxiu_workorders::status::Status;
use baoxiu_workorders::timeline::TimelineEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{RateWorkOrderRequest, RatingResponse, TimelineEntryResponse, timeline};
use crate::extract::TenantScope;
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::shared::utc;
use crate::state::AppState;

/// What a tracking link shows: where the order stands, who comes and when, its timeline
/// and rating; not the contact's phone or address (a link can be passed on).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackedWorkOrderResponse {
    pub number: String,
    pub status: Status,
    pub service_type: baoxiu_workorders::orders::ServiceType,
    pub brand: String,
    pub category: String,
    pub model: String,
    pub fault_description: String,
    pub engineer_name: Option<String>,
    pub appointment_at: Option<DateTime<Utc>>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// Whether the link may rate it now (completed or closed, not rated yet).
    pub may_rate: bool,
    pub rating: Option<RatingResponse>,
    pub created_at: DateTime<Utc>,
    pub timeline: Vec<TimelineEntryResponse>,
}

impl TrackedWorkOrderResponse {
    fn new(o: WorkOrder, entries: Vec<TimelineEntry>) -> Self {
        Self {
            may_rate: o.rating.is_none() && matches!(o.status, Status::Completed | Status::Closed),
            number: o.number,
            status: o.status,
            service_type: o.service_type,
            brand: o.brand,
            category: o.category,
            model: o.model,
            fault_description: o.fault_description,
            engineer_name: o.engineer_name,
            appointment_at: o.appointment_at.map(utc),
            response_due_at: o.response_due_at.map(utc),
            resolution_due_at: o.resolution_due_at.map(utc),
            reject_reason: o.reject_reason,
            rating: o.rating.map(RatingResponse::from),
            created_at: utc(o.created_at),
            timeline: timeline(entries, false),
        }
    }
}

/// Follow a work order by its tracking link.
///
/// Anyone holding the token (given once, when the order was submitted) sees the order's status and timeline. The tenant comes from `X-Tenant` or the host. A wrong token, or another tenant's, answers 404.
#[utoipa::path(tag = "tracking", operation_id = "get_tracked_work_order",
    params(("token" = String, Path, description = "The tracking token"), ("X-Tenant" = Option<String>, Header, description = "Tenant slug (else the host)")),
    responses((status = 200, description = "The order", body = TrackedWorkOrderResponse),
        (status = 404, description = "No order has this token", body = Problem, content_type = "application/problem+json")),
    security(()))]
#[get("/track/{token}")]
pub async fn get_tracked_work_order(
    state: web::Data<AppState>,
    scope: TenantScope,
    token: web::Path<String>,
) -> Result<web::Json<TrackedWorkOrderResponse>, ApiError> {
    let (order, entries) = state
        .read(&scope, move |tx| {
            orders::by_tracking_token(tx.conn, &tx.actor.tenant_id, &token)
        })
        .await?;
    Ok(web::Json(TrackedWorkOrderResponse::new(order, entries)))
}

/// Rate a work order by its tracking link.
///
/// As `rate_work_order`: once, when completed, with tags from the provider's list and a reason for a low rating. The timeline records it as done by the `system` (the link's holder is not known).
#[utoipa::path(tag = "tracking", operation_id = "rate_tracked_work_order", request_body = RateWorkOrderRequest,
    params(("token" = String, Path, description = "The tracking token"), ("X-Tenant" = Option<String>, Header, description = "Tenant slug (else the host)")),
    responses((status = 200, description = "Rated", body = TrackedWorkOrderResponse),
        (status = 404, description = "No order has this token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-completed`, `already-rated` or `ratings-off`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad stars, a tag not in the list, or a missing reason", body = Problem, content_type = "application/problem+json")),
    security(()))]
#[post("/track/{token}/rating")]
pub async fn rate_tracked_work_order(
    state: web::Data<AppState>,
    scope: TenantScope,
    token: web::Path<String>,
    body: ApiJson<RateWorkOrderRequest>,
) -> Result<web::Json<TrackedWorkOrderResponse>, ApiError> {
    let rating = orders::NewRating::from(body.0);
    let (order, entries) = state
        .change(&scope, move |tx| {
            orders::rate_by_token(tx, &token, rating)?;
            orders::by_tracking_token(tx.conn, &tx.actor.tenant_id, &token)
        })
        .await?;
    Ok(web::Json(TrackedWorkOrderResponse::new(order, entries)))
}
