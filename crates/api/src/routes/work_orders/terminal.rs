//! The customer's work orders: submit, list mine, read one with its timeline, cancel while
//! pending, confirm the repair, rate it once completed.

use actix_web::{HttpResponse, get, post, web};
use baoxiu_workorders::orders::{self, OrderChannel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    CustomerWorkOrderDetail, CustomerWorkOrderResponse, DuplicateWorkOrderResponse,
    RateWorkOrderRequest, SubmitWorkOrderRequest, reader_of, submission_answer, submitter_of,
};
use crate::extract::TerminalCaller;
use crate::idempotency::UnitKey;
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::attachments::{AttachmentResponse, uploader_of};
use crate::routes::shared::{PageQuery, PageResponse};
use crate::state::AppState;

/// A created order and its tracking link's token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmittedWorkOrderResponse {
    pub work_order: CustomerWorkOrderResponse,
    /// Follow and rate the order without logging in: `GET /api/v1/track/{token}` (with
    /// the tenant's `X-Tenant` or host). Only its hash is kept: it is not shown again.
    pub tracking_token: String,
    /// The photos it claimed (`attachment_ids`), in the order named.
    #[schema(max_items = 9)]
    pub attachments: Vec<AttachmentResponse>,
}

/// Submit a work order.
///
/// For a device (`device_id`, a scanned `qr_code`, or a `serial`/machine number) or, where the provider repairs without a serial, for `brand`, `category` and `model`. Every bad field answers at once (422). The warranty status comes from the device; the due times from the provider's targets for the service type. A device with an open order answers **200** with that order (`DuplicateWorkOrderResponse`) and creates nothing; send `confirm_duplicate: true` (with a new `Idempotency-Key`) to create a second one. A guest's order belongs to the guest account: the guest follows it by its tracking link.
#[utoipa::path(tag = "work-orders", operation_id = "submit_work_order", request_body = SubmitWorkOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422. A retry sent while the first request runs waits for it and answers its answer.")),
    responses((status = 201, description = "Created", body = SubmittedWorkOrderResponse),
        (status = 200, description = "Not created: the device has an open order", body = DuplicateWorkOrderResponse),
        (status = 403, description = "`registration-required` (register first), `tenant-inactive`, or a role that may not submit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields, every one named", body = Problem, content_type = "application/problem+json")))]
#[post(
    "/work-orders",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::in_unit)"
)]
pub async fn submit_work_order(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    key: UnitKey,
    body: ApiJson<SubmitWorkOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0.into_input(OrderChannel::Api)?;
    let claimed = caller.unresolved().clone();
    let answer = state
        .change_as(caller.unresolved(), move |tx, principal| {
            let uploader = uploader_of(&claimed, principal);
            let submitter = submitter_of(tx.conn, principal, uploader)?;
            let submitted = orders::submit(tx, &submitter, input)?;
            submission_answer(tx, &key, submitted, |order, tracking_token, attachments| {
                SubmittedWorkOrderResponse {
                    work_order: order.into(),
                    tracking_token,
                    attachments,
                }
            })
        })
        .await?;
    Ok(answer.respond())
}

/// List my work orders.
///
/// Newest first. A terminal user sees their own orders, or with the `view_enterprise_work_orders` permission every order of their account; the guest identity, shared by all guests, lists none (each guest follows their own by its tracking link).
#[utoipa::path(tag = "work-orders", operation_id = "list_work_orders", params(PageQuery),
    responses((status = 200, description = "One page of orders", body = PageResponse<CustomerWorkOrderResponse>),
        (status = 403, description = "`registration-required` before registering (when the policy says so); staff use /admin/work-orders", body = Problem, content_type = "application/problem+json")))]
#[get("/work-orders")]
pub async fn list_work_orders(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<CustomerWorkOrderResponse>>, ApiError> {
    let request = page.request()?;
    let now = state.now();
    let page = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let reader = reader_of(principal)?;
            orders::list(
                tx.conn,
                &principal.tenant_id(),
                &orders::OrderFilter::default(),
                &reader,
                &request,
                now,
            )
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        CustomerWorkOrderResponse::from,
    )))
}

/// Get one of my work orders.
///
/// With its timeline: every step, who (kind) and when. Another user's order (or another tenant's) answers 404.
#[utoipa::path(tag = "work-orders", operation_id = "get_work_order", params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "The order and its timeline", body = CustomerWorkOrderDetail),
        (status = 404, description = "No such order of mine", body = Problem, content_type = "application/problem+json")))]
#[get("/work-orders/{id}")]
pub async fn get_work_order(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    id: web::Path<String>,
) -> Result<web::Json<CustomerWorkOrderDetail>, ApiError> {
    let detail = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let reader = reader_of(principal)?;
            let detail = orders::get_detail(tx.conn, &principal.tenant_id(), &id, &reader)?;
            Ok(CustomerWorkOrderDetail::new(detail))
        })
        .await?;
    Ok(web::Json(detail))
}

/// Why a customer cancels.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelWorkOrderRequest {
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Cancel my work order.
///
/// Only while it is pending: once staff accepted it, 409 `invalid-transition`.
#[utoipa::path(tag = "work-orders", operation_id = "cancel_work_order", request_body = CancelWorkOrderRequest, params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "Cancelled", body = CustomerWorkOrderResponse),
        (status = 404, description = "No such order of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not pending any more", body = Problem, content_type = "application/problem+json")))]
#[post("/work-orders/{id}/cancel")]
pub async fn cancel_work_order(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    id: web::Path<String>,
    body: ApiJson<CancelWorkOrderRequest>,
) -> Result<web::Json<CustomerWorkOrderResponse>, ApiError> {
    let reason = body.0.reason;
    let order = state
        .change_as(caller.unresolved(), move |tx, principal| {
            let reader = reader_of(principal)?;
            orders::cancel(tx, &reader, &id, reason)
        })
        .await?;
    Ok(web::Json(order.into()))
}

/// Confirm the repair.
///
/// The customer confirms a completed order: it closes. (Unconfirmed, it closes by itself after the provider's `auto_close_days`.)
#[utoipa::path(tag = "work-orders", operation_id = "confirm_work_order", params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "Closed", body = CustomerWorkOrderResponse),
        (status = 404, description = "No such order of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not completed", body = Problem, content_type = "application/problem+json")))]
#[post("/work-orders/{id}/confirm")]
pub async fn confirm_work_order(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    id: web::Path<String>,
) -> Result<web::Json<CustomerWorkOrderResponse>, ApiError> {
    let order = state
        .change_as(caller.unresolved(), move |tx, principal| {
            let reader = reader_of(principal)?;
            orders::confirm(tx, &reader, &id)
        })
        .await?;
    Ok(web::Json(order.into()))
}

/// Rate my work order.
///
/// Once, when it is completed (or closed after), if the provider takes ratings: 1 to 5 stars, tags from the provider's list for that star level, a comment — required as the reason at or below the provider's threshold.
#[utoipa::path(tag = "work-orders", operation_id = "rate_work_order", request_body = RateWorkOrderRequest, params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "Rated", body = CustomerWorkOrderResponse),
        (status = 404, description = "No such order of mine", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-completed`, `already-rated` or `ratings-off`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad stars, a tag not in the list, or a missing reason", body = Problem, content_type = "application/problem+json")))]
#[post("/work-orders/{id}/rating")]
pub async fn rate_work_order(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    id: web::Path<String>,
    body: ApiJson<RateWorkOrderRequest>,
) -> Result<web::Json<CustomerWorkOrderResponse>, ApiError> {
    let rating = orders::NewRating::from(body.0);
    let order = state
        .change_as(caller.unresolved(), move |tx, principal| {
            let reader = reader_of(principal)?;
            orders::rate(tx, &reader, &id, rating)
        })
        .await?;
    Ok(web::Json(order.into()))
}
