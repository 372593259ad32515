//! The engineer's work orders: those assigned to them, check-in at the site (the order is
//! in progress) and check-out (done, or a visit recorded), each with their location. An
//! order not assigned to the caller answers 404.

use actix_web::{get, post, web};
use baoxiu_workorders::orders::{self, Location, OrderFilter, Reader};
use baoxiu_workorders::status::Status;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::WorkOrderResponse;
use crate::extract::StaffCaller;
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EngineerOrderQuery {
    #[param(inline)]
    pub status: Option<Status>,
}

/// List my assigned work orders.
///
/// The orders assigned to the calling staff user, newest first, optionally of one status.
#[utoipa::path(tag = "engineer", operation_id = "list_engineer_work_orders", params(EngineerOrderQuery, PageQuery),
    responses((status = 200, description = "One page of orders", body = PageResponse<WorkOrderResponse>),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json")))]
#[get("/engineer/work-orders")]
pub async fn list_engineer_work_orders(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<EngineerOrderQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<WorkOrderResponse>>, ApiError> {
    let request = page.request()?;
    let now = state.now();
    let reader = Reader::Engineer {
        staff_id: staff.caller.subject.clone(),
    };
    let filter = OrderFilter {
        status: query.into_inner().status,
        ..OrderFilter::default()
    };
    let page = state
        .read(&staff, move |tx| {
            orders::list(
                tx.conn,
                &tx.actor.tenant_id,
                &filter,
                &reader,
                &request,
                now,
            )
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(page, |o| {
        WorkOrderResponse::new(o, now)
    })))
}

/// Where the engineer is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Where the engineer is as they leave, and whether the work is done.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckOutRequest {
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    #[schema(max_length = 500)]
    pub note: Option<String>,
    /// Default `true`: the order is completed. `false` records the visit only.
    pub completed: Option<bool>,
}

/// Check in at the site.
///
/// The assigned engineer arrives: the order goes from `assigned` to `in_progress`, with the time and place recorded.
#[utoipa::path(tag = "engineer", operation_id = "check_in_work_order", request_body = CheckInRequest, params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "Checked in", body = WorkOrderResponse),
        (status = 404, description = "No such order assigned to me", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not assigned (any more)", body = Problem, content_type = "application/problem+json")))]
#[post("/engineer/work-orders/{id}/check-in")]
pub async fn check_in_work_order(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    body: ApiJson<CheckInRequest>,
) -> Result<web::Json<WorkOrderResponse>, ApiError> {
    let engineer = staff.caller.subject.clone();
    let location = Location {
        latitude: body.0.latitude,
        longitude: body.0.longitude,
        note: body.0.note,
    };
    let order = state
        .change(&staff, move |tx| {
            orders::check_in(tx, &engineer, &id, location)
        })
        .await?;
    Ok(web::Json(WorkOrderResponse::new(order, state.now())))
}

/// Check out of the site.
///
/// The assigned engineer leaves: by default the work is done (`in_progress` → `completed`); with `completed: false` only the visit is recorded.
#[utoipa::path(tag = "engineer", operation_id = "check_out_work_order", request_body = CheckOutRequest, params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "Checked out", body = WorkOrderResponse),
        (status = 404, description = "No such order assigned to me", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not in progress", body = Problem, content_type = "application/problem+json")))]
#[post("/engineer/work-orders/{id}/check-out")]
pub async fn check_out_work_order(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    body: ApiJson<CheckOutRequest>,
) -> Result<web::Json<WorkOrderResponse>, ApiError> {
    let engineer = staff.caller.subject.clone();
    let request = body.0;
    let completed = request.completed.unwrap_or(true);
    let location = Location {
        latitude: request.latitude,
        longitude: request.longitude,
        note: request.note,
    };
    let order = state
        .change(&staff, move |tx| {
            orders::check_out(tx, &engineer, &id, location, completed)
        })
        .await?;
    Ok(web::Json(WorkOrderResponse::new(order, state.now())))
}
