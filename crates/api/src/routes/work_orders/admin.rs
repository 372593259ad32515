//! Staff run the work orders: list with filters and searches, take an order from a phone
//! call, export them as CSV, read one with its timeline, and move it through the status
//! machine. Admins and dispatchers; engineers use `/engineer/work-orders`.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use baoxiu_accounts::staff::StaffRole;
use baoxiu_core::{DomainError, DomainResult};
use baoxiu_devices::Viewer;
use baoxiu_workorders::attachments::{Uploader, UploaderKind};
use baoxiu_workorders::export;
use baoxiu_workorders::orders::{self, OrderChannel, OrderFilter, Reader, StaffAction, Submitter};
use baoxiu_workorders::status::Status;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    DuplicateWorkOrderResponse, SubmitWorkOrderRequest, WorkOrderDetail, WorkOrderResponse,
    nested_under, submission_answer,
};
use crate::csv_export::CsvExport;
use crate::extract::StaffCaller;
use crate::idempotency::UnitKey;
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::attachments::AttachmentResponse;
use crate::routes::shared::{PageQuery, PageResponse};
use crate::state::AppState;

/// A staff caller who runs orders: an admin or a dispatcher. Engineers get 403 (before
/// the body is read), and use `/engineer/work-orders`.
#[derive(Debug, Clone)]
pub struct Dispatcher(pub StaffCaller);

impl FromRequest for Dispatcher {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let staff = StaffCaller::from_request(req, payload);
        Box::pin(async move {
            let staff = staff.await?;
            match staff.role {
                StaffRole::Admin | StaffRole::Dispatcher => Ok(Dispatcher(staff)),
                StaffRole::Engineer => {
                    Err(DomainError::Forbidden("engineers use /engineer/work-orders").into())
                }
            }
        })
    }
}

impl crate::state::Acting for Dispatcher {
    fn actor(&self) -> baoxiu_core::Actor {
        self.0.actor()
    }

    fn session(&self) -> crate::extract::SessionCheck {
        self.0.session.clone()
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminOrderQuery {
    #[param(inline)]
    pub status: Option<Status>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    #[param(format = Uuid)]
    pub device_id: Option<String>,
    #[param(format = Uuid)]
    pub account_id: Option<String>,
    #[param(format = Uuid)]
    pub engineer_id: Option<String>,
    #[param(inline)]
    pub channel: Option<OrderChannel>,
    /// `true`: only open orders whose due time is at most two hours away, or past.
    pub about_to_breach: Option<bool>,
    /// The whole number (`BX-20261201-00001`), any case.
    #[param(max_length = 64)]
    pub number: Option<String>,
    /// The whole serial number (compared ignoring case, width, spaces and dashes).
    #[param(max_length = 64)]
    pub serial: Option<String>,
    /// Text in the fault description or the contact's name.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

impl From<AdminOrderQuery> for OrderFilter {
    fn from(q: AdminOrderQuery) -> Self {
        Self {
            status: q.status,
            from: q.from.map(|t| t.naive_utc()),
            to: q.to.map(|t| t.naive_utc()),
            device_id: q.device_id,
            account_id: q.account_id,
            engineer_id: q.engineer_id,
            channel: q.channel,
            about_to_breach: q.about_to_breach.unwrap_or(false),
            number: q.number,
            serial: q.serial,
            q: q.q,
        }
    }
}

/// List work orders (staff).
///
/// Every order of the tenant, newest first, filtered by status, creation time, device, account, engineer, channel or `about_to_breach`, searched by whole number, whole serial, or text (`q`).
#[utoipa::path(tag = "work-orders", operation_id = "list_admin_work_orders", params(AdminOrderQuery, PageQuery),
    responses((status = 200, description = "One page of orders", body = PageResponse<WorkOrderResponse>),
        (status = 403, description = "Not an admin or dispatcher", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/work-orders")]
pub async fn list_admin_work_orders(
    state: web::Data<AppState>,
    staff: Dispatcher,
    query: ApiQuery<AdminOrderQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<WorkOrderResponse>>, ApiError> {
    let request = page.request()?;
    let filter = OrderFilter::from(query.into_inner());
    let now = state.now();
    let page = state
        .read(&staff, move |tx| {
            orders::list(
                tx.conn,
                &tx.actor.tenant_id,
                &filter,
                &Reader::Staff,
                &request,
                now,
            )
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(page, |o| {
        WorkOrderResponse::new(o, now)
    })))
}

/// Export work orders as CSV (staff).
///
/// The orders the staff list would show for the same filters and searches, newest first, as one file: UTF-8 with a BOM (so Excel reads it as UTF-8), a header row, then one order per row with its number, status, channel, service type, times (RFC 3339, UTC), device, fault, contact, account, engineer, due times, `about_to_breach`, rating and id. Text cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) get a leading `'`. The file is streamed, `export_batch_rows` orders per batch (one statement each), so any number of orders can be exported.
#[utoipa::path(tag = "work-orders", operation_id = "export_work_orders", params(AdminOrderQuery),
    responses((status = 200, description = "The CSV file", content((String = "text/csv"))),
        (status = 403, description = "Not an admin or dispatcher", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter, named", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/work-orders/export")]
pub async fn export_work_orders(
    state: web::Data<AppState>,
    staff: Dispatcher,
    query: ApiQuery<AdminOrderQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = OrderFilter::from(query.into_inner());
    let now = state.now();
    let export = CsvExport {
        filename: "work-orders.csv",
        header: export::HEADER.to_vec(),
    };
    export
        .respond(state, &staff, move |tx, page| {
            export::batch(tx.conn, &tx.actor.tenant_id, &filter, page, now)
        })
        .await
}

/// A phone call recorded as an order: for an account (and one of its contacts), with
/// the same fields a customer sends.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkOrderRequest {
    #[schema(format = Uuid)]
    pub account_id: String,
    /// A contact of the account.
    #[schema(format = Uuid)]
    pub contact_id: Option<String>,
    /// The order, as a customer would submit it (`channel` is `phone` and is not sent).
    pub order: SubmitWorkOrderRequest,
}

/// An order staff created, with its tracking token (shown this once: pass it on to the
/// customer).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWorkOrderResponse {
    pub work_order: WorkOrderResponse,
    pub tracking_token: String,
    /// The photos it claimed (`attachment_ids`), in the order named.
    pub attachments: Vec<AttachmentResponse>,
}

/// Take a work order (phone intake).
///
/// A dispatcher records a customer's call: for an account and contact, a device of the tenant or none, with the same validation, numbering, duplicate guard and timeline as a submission; the channel is `phone`. Audited.
#[utoipa::path(tag = "work-orders", operation_id = "create_work_order", request_body = CreateWorkOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422. A retry sent while the first request runs waits for it and answers its answer.")),
    responses((status = 201, description = "Created", body = CreatedWorkOrderResponse),
        (status = 200, description = "Not created: the device has an open order", body = DuplicateWorkOrderResponse),
        (status = 403, description = "Not an admin or dispatcher", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields, every one named", body = Problem, content_type = "application/problem+json")))]
#[post(
    "/admin/work-orders",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::in_unit)"
)]
pub async fn create_work_order(
    state: web::Data<AppState>,
    staff: Dispatcher,
    key: UnitKey,
    body: ApiJson<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    // Read as this type only now: an engineer is refused before the body is judged.
    let request: CreateWorkOrderRequest = crate::json::from_value(body.0)?;
    if request.order.channel.is_some() {
        return Err(DomainError::invalid(
            "order.channel",
            "not_allowed",
            "an order staff take is always channel phone",
        )
        .into());
    }
    let input = request
        .order
        .into_input(OrderChannel::Phone)
        .map_err(|e| nested_under("order", e))?;
    let (account_id, contact_id) = (request.account_id, request.contact_id);
    let answer = state
        .change(&staff, move |tx| {
            orders::check_customer(
                tx.conn,
                &tx.actor.tenant_id,
                &account_id,
                contact_id.as_deref(),
            )?;
            let submitter = Submitter {
                kind: "staff",
                terminal_user_id: None,
                account_id: Some(account_id),
                contact_id,
                enterprise_id: None,
                devices: Viewer::Staff,
                mobile: None,
                uploader: Uploader {
                    tenant_id: tx.actor.tenant_id.clone(),
                    kind: UploaderKind::Staff,
                    id: tx.actor.id.clone(),
                },
            };
            let submitted =
                orders::submit(tx, &submitter, input).map_err(|e| nested_under("order", e))?;
            let now = tx.now;
            submission_answer(tx, &key, submitted, |order, tracking_token, attachments| {
                CreatedWorkOrderResponse {
                    work_order: WorkOrderResponse::new(order, now),
                    tracking_token,
                    attachments,
                }
            })
        })
        .await?;
    Ok(answer.respond())
}

/// Get a work order (staff).
///
/// The whole order with its timeline (who, when, from, to, note); another tenant's id answers 404.
#[utoipa::path(tag = "work-orders", operation_id = "get_admin_work_order", params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "The order and its timeline", body = WorkOrderDetail),
        (status = 403, description = "Not an admin or dispatcher", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/work-orders/{id}")]
pub async fn get_admin_work_order(
    state: web::Data<AppState>,
    staff: Dispatcher,
    id: web::Path<String>,
) -> Result<web::Json<WorkOrderDetail>, ApiError> {
    let now = state.now();
    let detail = state
        .read(&staff, move |tx| {
            orders::get_detail(tx.conn, &tx.actor.tenant_id, &id, &Reader::Staff)
        })
        .await?;
    Ok(web::Json(WorkOrderDetail::new(detail, now)))
}

/// What staff do to an order.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransitionAction {
    /// pending → accepted.
    Accept,
    /// pending, accepted or assigned → assigned (to `engineer_id`).
    Assign,
    /// assigned → in_progress (the engineer's check-in does it too).
    Start,
    /// in_progress → completed.
    Complete,
    /// completed → closed.
    Close,
    /// pending or accepted → rejected (with `reason`).
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub action: TransitionAction,
    /// For `assign`: a staff user with the engineer role.
    #[schema(format = Uuid)]
    pub engineer_id: Option<String>,
    /// For `reject`: required.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// Kept in the timeline.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

impl TransitionRequest {
    fn into_action(self) -> DomainResult<(StaffAction, Option<String>)> {
        let action = match self.action {
            TransitionAction::Accept => StaffAction::Accept,
            TransitionAction::Assign => StaffAction::Assign {
                engineer_id: self.engineer_id.ok_or_else(|| {
                    DomainError::invalid("engineer_id", "required", "assign to which engineer")
                })?,
            },
            TransitionAction::Start => StaffAction::Start,
            TransitionAction::Complete => StaffAction::Complete,
            TransitionAction::Close => StaffAction::Close,
            TransitionAction::Reject => StaffAction::Reject {
                reason: self.reason.unwrap_or_default(),
            },
        };
        Ok((action, self.note))
    }
}

/// Move a work order on.
///
/// One step of the status machine: `accept`, `assign` (with `engineer_id`), `start`, `complete`, `close`, `reject` (with `reason`). A step the current status does not allow answers 409 `invalid-transition`. Each step is kept in the timeline, emitted to the outbox and audited.
#[utoipa::path(tag = "work-orders", operation_id = "transition_work_order", request_body = TransitionRequest, params(("id" = String, Path, description = "Work order id")),
    responses((status = 200, description = "Moved on", body = WorkOrderResponse),
        (status = 403, description = "Not an admin or dispatcher", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No engineer, no such engineer, or no reason", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/work-orders/{id}/transitions")]
pub async fn transition_work_order(
    state: web::Data<AppState>,
    staff: Dispatcher,
    id: web::Path<String>,
    body: ApiJson<TransitionRequest>,
) -> Result<web::Json<WorkOrderResponse>, ApiError> {
    let (action, note) = body.0.into_action()?;
    let order = state
        .change(&staff, move |tx| orders::transition(tx, &id, action, note))
        .await?;
    Ok(web::Json(WorkOrderResponse::new(order, state.now())))
}
