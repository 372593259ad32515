//! Work orders over HTTP: customers submit and follow theirs (`terminal`), anyone with a
//! tracking link follows one (`tracking`), staff take, list and run them (`admin`), and
//! engineers check in and out (`engineer`). The answer types here are per audience: a
//! customer never sees another customer's contact, internal ids or the engineer's
//! coordinates.

pub mod admin;
pub mod engineer;
pub mod terminal;
pub mod tracking;

use actix_web::http::StatusCode;
use baoxiu_accounts::staff::StaffRole;
use baoxiu_core::{DomainError, DomainResult};
use baoxiu_devices::devices::WarrantyStatus;
use baoxiu_registration::access::DataScope;
use baoxiu_registration::principal::{Identity, Principal};
use baoxiu_store::{DbConn, Tx};
use baoxiu_workorders::attachments::{AttachmentRow, Uploader};
use baoxiu_workorders::orders::{
    self, Detail, DeviceRef, NewWorkOrder, OrderChannel, Reader, ServiceType, Submitted, Submitter,
    WorkOrder,
};
use baoxiu_workorders::status::Status;
use baoxiu_workorders::timeline::TimelineEntry;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::idempotency::{Answer, UnitKey};
use crate::routes::attachments::AttachmentResponse;
use crate::routes::shared::utc;

/// What a submission answers, built and kept under its `Idempotency-Key` inside the unit:
/// 201 with `created`'s view of the new order, or 200 with the open order it ran into.
pub fn submission_answer<T: Serialize>(
    tx: &mut Tx<'_>,
    key: &UnitKey,
    submitted: Submitted,
    created: impl FnOnce(WorkOrder, String, Vec<AttachmentResponse>) -> T,
) -> DomainResult<Answer> {
    match submitted {
        Submitted::Created {
            order,
            tracking_token,
            attachments,
        } => key.answer(
            tx.conn,
            tx.now,
            StatusCode::CREATED,
            &created(*order, tracking_token, photos(attachments)),
        ),
        Submitted::Duplicate(open) => key.answer(
            tx.conn,
            tx.now,
            StatusCode::OK,
            &DuplicateWorkOrderResponse::new(*open),
        ),
    }
}

/// A customer's rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingResponse {
    #[schema(minimum = 1, maximum = 5)]
    pub stars: i32,
    pub tags: Vec<String>,
    pub comment: String,
    pub rated_at: DateTime<Utc>,
}

impl From<orders::Rating> for RatingResponse {
    fn from(r: orders::Rating) -> Self {
        Self {
            stars: r.stars,
            tags: r.tags,
            comment: r.comment,
            rated_at: utc(r.rated_at),
        }
    }
}

/// An engineer's visit: when, and where (staff only).
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitResponse {
    pub at: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl From<orders::Visit> for VisitResponse {
    fn from(v: orders::Visit) -> Self {
        Self {
            at: utc(v.at),
            latitude: v.latitude,
            longitude: v.longitude,
        }
    }
}

/// A work order as staff see it: all of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderResponse {
    pub id: String,
    /// `{prefix}-{YYYYMMDD}-{NNNNN}`, per tenant and day (China Standard Time).
    #[schema(pattern = r"^[A-Z0-9]{1,8}-[0-9]{8}-[0-9]{5,}$")]
    pub number: String,
    pub status: Status,
    pub channel: OrderChannel,
    pub service_type: ServiceType,
    pub device_id: Option<String>,
    pub brand: String,
    pub category: String,
    pub model: String,
    pub machine_no: Option<String>,
    pub serial_no: Option<String>,
    pub fault_description: String,
    /// From the device's warranty end date at intake, when it has one.
    pub warranty_status: Option<WarrantyStatus>,
    pub appointment_at: Option<DateTime<Utc>>,
    pub notes: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The values of the form template's custom fields, by key.
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub enterprise_id: Option<String>,
    pub terminal_user_id: Option<String>,
    /// `terminal`, `guest` or `staff` (phone intake).
    pub created_by_kind: String,
    pub created_by_id: String,
    pub engineer_id: Option<String>,
    pub engineer_name: Option<String>,
    /// Accept by then (the tenant's response target for the service type).
    pub response_due_at: Option<DateTime<Utc>>,
    /// Complete by then (the resolution target).
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Open, and a due time is at most two hours away or past.
    pub about_to_breach: bool,
    pub accepted_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    pub check_in: Option<VisitResponse>,
    pub check_out: Option<VisitResponse>,
    pub rating: Option<RatingResponse>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WorkOrderResponse {
    pub fn new(o: WorkOrder, now: NaiveDateTime) -> Self {
        let about_to_breach = o.about_to_breach(now);
        Self {
            id: o.id,
            number: o.number,
            status: o.status,
            channel: o.channel,
            service_type: o.service_type,
            device_id: o.device_id,
            brand: o.brand,
            category: o.category,
            model: o.model,
            machine_no: o.machine_no,
            serial_no: o.serial_no,
            fault_description: o.fault_description,
            warranty_status: o.warranty_status,
            appointment_at: o.appointment_at.map(utc),
            notes: o.notes,
            contact_name: o.contact_name,
            contact_phone: o.contact_phone,
            address: o.address,
            latitude: o.latitude,
            longitude: o.longitude,
            custom_fields: o.custom_fields,
            account_id: o.account_id,
            contact_id: o.contact_id,
            enterprise_id: o.enterprise_id,
            terminal_user_id: o.terminal_user_id,
            created_by_kind: o.created_by_kind,
            created_by_id: o.created_by_id,
            engineer_id: o.engineer_id,
            engineer_name: o.engineer_name,
            response_due_at: o.response_due_at.map(utc),
            resolution_due_at: o.resolution_due_at.map(utc),
            about_to_breach,
            accepted_at: o.accepted_at.map(utc),
            completed_at: o.completed_at.map(utc),
            closed_at: o.closed_at.map(utc),
            reject_reason: o.reject_reason,
            check_in: o.check_in.map(VisitResponse::from),
            check_out: o.check_out.map(VisitResponse::from),
            rating: o.rating.map(RatingResponse::from),
            version: o.version,
            created_at: utc(o.created_at),
            updated_at: utc(o.updated_at),
        }
    }
}

/// A work order as its customer sees it: what they said, where it stands, who comes and
/// when, by when it is due; no internal ids, no engineer coordinates.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerWorkOrderResponse {
    pub id: String,
    #[schema(pattern = r"^[A-Z0-9]{1,8}-[0-9]{8}-[0-9]{5,}$")]
    pub number: String,
    pub status: Status,
    pub channel: OrderChannel,
    pub service_type: ServiceType,
    pub device_id: Option<String>,
    pub brand: String,
    pub category: String,
    pub model: String,
    pub machine_no: Option<String>,
    pub serial_no: Option<String>,
    pub fault_description: String,
    pub warranty_status: Option<WarrantyStatus>,
    pub appointment_at: Option<DateTime<Utc>>,
    pub notes: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub address: String,
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// The assigned engineer's name, once assigned.
    pub engineer_name: Option<String>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub rating: Option<RatingResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WorkOrder> for CustomerWorkOrderResponse {
    fn from(o: WorkOrder) -> Self {
        Self {
            id: o.id,
            number: o.number,
            status: o.status,
            channel: o.channel,
            service_type: o.service_type,
            device_id: o.device_id,
            brand: o.brand,
            category: o.category,
            model: o.model,
            machine_no: o.machine_no,
            serial_no: o.serial_no,
            fault_description: o.fault_description,
            warranty_status: o.warranty_status,
            appointment_at: o.appointment_at.map(utc),
            notes: o.notes,
            contact_name: o.contact_name,
            contact_phone: o.contact_phone,
            address: o.address,
            custom_fields: o.custom_fields,
            engineer_name: o.engineer_name,
            response_due_at: o.response_due_at.map(utc),
            resolution_due_at: o.resolution_due_at.map(utc),
            reject_reason: o.reject_reason,
            completed_at: o.completed_at.map(utc),
            closed_at: o.closed_at.map(utc),
            rating: o.rating.map(RatingResponse::from),
            created_at: utc(o.created_at),
            updated_at: utc(o.updated_at),
        }
    }
}

/// One step of an order's life.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntryResponse {
    /// `submit`, `accept`, `assign`, `start`, `check_in`, `check_out`, `complete`,
    /// `close`, `confirm`, `reject`, `cancel`, `rate`.
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
    /// A rejection's reason, the engineer's name on assignment, a note.
    pub note: Option<String>,
    /// Who: `staff`, `terminal`, `guest`, or `system` (a tracking link, a job).
    pub actor_kind: String,
    /// Staff see whose id; customers and tracking links do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    pub at: DateTime<Utc>,
}

fn timeline(entries: Vec<TimelineEntry>, with_actor_ids: bool) -> Vec<TimelineEntryResponse> {
    entries
        .into_iter()
        .map(|e| TimelineEntryResponse {
            from_status: e.from_status.as_deref().and_then(|s| Status::parse(s).ok()),
            to_status: Status::parse(&e.to_status).unwrap_or(Status::Pending),
            action: e.action,
            note: e.note,
            actor_kind: e.actor_kind,
            actor_id: with_actor_ids.then_some(e.actor_id),
            at: utc(e.created_at),
        })
        .collect()
}

/// A customer's order with its timeline and photos.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerWorkOrderDetail {
    pub work_order: CustomerWorkOrderResponse,
    pub timeline: Vec<TimelineEntryResponse>,
    /// The photos the order claimed, in upload order.
    #[schema(max_items = 9)]
    pub attachments: Vec<AttachmentResponse>,
}

impl CustomerWorkOrderDetail {
    pub fn new(detail: Detail) -> Self {
        Self {
            work_order: detail.order.into(),
            timeline: timeline(detail.timeline, false),
            attachments: photos(detail.attachments),
        }
    }
}

/// An order with its timeline and photos, for staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderDetail {
    pub work_order: WorkOrderResponse,
    pub timeline: Vec<TimelineEntryResponse>,
    /// The photos the order claimed, in upload order.
    #[schema(max_items = 9)]
    pub attachments: Vec<AttachmentResponse>,
}

impl WorkOrderDetail {
    pub fn new(detail: Detail, now: NaiveDateTime) -> Self {
        Self {
            work_order: WorkOrderResponse::new(detail.order, now),
            timeline: timeline(detail.timeline, true),
            attachments: photos(detail.attachments),
        }
    }
}

/// Photo rows as the API shows them.
pub fn photos(rows: Vec<AttachmentRow>) -> Vec<AttachmentResponse> {
    rows.into_iter().map(AttachmentResponse::from).collect()
}

/// The open order a submission ran into.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenOrderSummary {
    pub id: String,
    pub number: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
}

/// Nothing was created: the device already has an open order. Submit again with
/// `confirm_duplicate: true` (and a new `Idempotency-Key`) to create a second one.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateWorkOrderResponse {
    /// Always `open-order-exists`.
    pub code: String,
    pub detail: String,
    pub duplicate_of: OpenOrderSummary,
}

impl DuplicateWorkOrderResponse {
    fn new(open: WorkOrder) -> Self {
        Self {
            code: "open-order-exists".into(),
            detail: format!(
                "the device has an open work order, {} ({}); send confirm_duplicate: true to submit another",
                open.number,
                open.status.as_str()
            ),
            duplicate_of: OpenOrderSummary {
                id: open.id,
                number: open.number,
                status: open.status,
                created_at: utc(open.created_at),
            },
        }
    }
}

/// Where a submission came from; staff intake is `phone`, which customers cannot send.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmitChannel {
    MiniProgram,
    OfficialAccount,
    H5,
    Web,
    Api,
}

impl From<SubmitChannel> for OrderChannel {
    fn from(c: SubmitChannel) -> Self {
        match c {
            SubmitChannel::MiniProgram => Self::MiniProgram,
            SubmitChannel::OfficialAccount => Self::OfficialAccount,
            SubmitChannel::H5 => Self::H5,
            SubmitChannel::Web => Self::Web,
            SubmitChannel::Api => Self::Api,
        }
    }
}

/// A submission. Name the device one way at most: `device_id`, `qr_code` (a scanned
/// code) or `serial` (a serial or machine number); or none, where the provider repairs
/// without a serial, with `brand`, `category` and `model` instead.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitWorkOrderRequest {
    #[schema(format = Uuid)]
    pub device_id: Option<String>,
    /// A scanned code (an unknown one answers 422 naming it).
    #[schema(max_length = 64)]
    pub qr_code: Option<String>,
    /// A serial or machine number (an unknown one answers 422 naming it).
    #[schema(max_length = 64)]
    pub serial: Option<String>,
    /// Without a device: required.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub brand: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub category: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub model: String,
    #[schema(max_length = 64)]
    pub machine_no: Option<String>,
    #[schema(max_length = 64)]
    pub serial_no: Option<String>,
    /// Required.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub fault_description: String,
    /// Default `repair`.
    pub service_type: Option<ServiceType>,
    /// Without a device only: a device's warranty comes from the device.
    pub warranty_status: Option<WarrantyStatus>,
    pub appointment_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub contact_name: String,
    /// Required unless the caller logged in with a mobile (which is then used).
    #[serde(default)]
    #[schema(max_length = 32)]
    pub contact_phone: String,
    /// Default: the device's install address.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub address: String,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// The form template's custom fields: key → text, number, boolean or list of texts.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// Default `api`.
    pub channel: Option<SubmitChannel>,
    /// Create the order even though the device has an open one.
    #[serde(default)]
    pub confirm_duplicate: bool,
    /// Photos to attach: ids of the caller's own uploads (`POST /attachments`) that no
    /// order has claimed yet, at most 9. Another caller's, an unknown or a claimed one
    /// answers 422 naming `attachment_ids` (a photo claimed by another of the caller's
    /// orders meanwhile: 409 `attachment-claimed`); nothing is created then.
    #[serde(default)]
    #[schema(max_items = 9, value_type = Vec<uuid::Uuid>)]
    pub attachment_ids: Vec<String>,
}

impl SubmitWorkOrderRequest {
    /// The domain's submission; two ways of naming the device at once is a bad field.
    pub fn into_input(self, channel: OrderChannel) -> DomainResult<NewWorkOrder> {
        let named: Vec<(&str, String)> = [
            ("device_id", self.device_id),
            ("qr_code", self.qr_code),
            ("serial", self.serial),
        ]
        .into_iter()
        .filter_map(|(field, value)| {
            value
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (field, v))
        })
        .collect();
        let device = match named.as_slice() {
            [] => DeviceRef::None,
            [("device_id", id)] => DeviceRef::Id(id.clone()),
            [("qr_code", code)] => DeviceRef::Code(code.clone()),
            [(_, serial)] => DeviceRef::Serial(serial.clone()),
            [_, (second, _), ..] => {
                return Err(DomainError::invalid(
                    second,
                    "conflicting",
                    "name the device one way: device_id, qr_code or serial",
                ));
            }
        };
        Ok(NewWorkOrder {
            device,
            brand: self.brand,
            category: self.category,
            model: self.model,
            machine_no: self.machine_no,
            serial_no: self.serial_no,
            fault_description: self.fault_description,
            service_type: self.service_type.unwrap_or(ServiceType::Repair),
            warranty_status: self.warranty_status,
            appointment_at: self.appointment_at.map(|t| t.naive_utc()),
            notes: self.notes,
            contact_name: self.contact_name,
            contact_phone: self.contact_phone,
            address: self.address,
            latitude: self.latitude,
            longitude: self.longitude,
            custom_fields: self.custom_fields,
            channel: self.channel.map(OrderChannel::from).unwrap_or(channel),
            confirm_duplicate: self.confirm_duplicate,
            attachment_ids: self.attachment_ids,
        })
    }
}

/// Bad fields of a submission nested under `prefix` in the request (the phone intake's
/// `order`) are named as the request has them: `order.custom_fields.room`.
pub fn nested_under(prefix: &str, error: DomainError) -> DomainError {
    match error {
        DomainError::Validation(errors) => DomainError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("{prefix}.{}", e.field);
                    e
                })
                .collect(),
        ),
        other => other,
    }
}

/// A rating.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateWorkOrderRequest {
    #[schema(minimum = 1, maximum = 5)]
    pub stars: i32,
    /// From the provider's tags for that star level (`GET /provider` lists them).
    #[serde(default)]
    #[schema(max_items = 12, value_type = Vec<baoxiu_core::texts::RatingTagText>, inline)]
    pub tags: Vec<String>,
    /// Required (the reason) at or below the provider's threshold.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub comment: String,
}

impl From<RateWorkOrderRequest> for orders::NewRating {
    fn from(r: RateWorkOrderRequest) -> Self {
        Self {
            stars: r.stars,
            tags: r.tags,
            comment: r.comment,
        }
    }
}

/// Who a terminal caller reads orders as: their own, their enterprise's (with the
/// permission), or none (the guest).
pub fn reader_of(principal: &Principal) -> DomainResult<Reader> {
    let (user, access) = principal
        .terminal()
        .ok_or(DomainError::Forbidden("this route is for customers"))?;
    let scope = access.require_data()?;
    if user.is_guest {
        return Ok(Reader::Guest);
    }
    Ok(Reader::Customer {
        user_id: user.id.clone(),
        account_id: user.account_id.clone(),
        enterprise: scope == DataScope::Enterprise,
    })
}

/// Who any caller reads orders as: the tenant's admins and dispatchers every order, an
/// engineer the orders assigned to them, a terminal caller as `reader_of` says (none while
/// they may not read data).
pub fn any_reader_of(principal: &Principal) -> Reader {
    match &principal.identity {
        Identity::Staff(staff) if staff.role == StaffRole::Engineer => Reader::Engineer {
            staff_id: staff.id.clone(),
        },
        Identity::Staff(_) => Reader::Staff,
        Identity::Terminal { .. } => reader_of(principal).unwrap_or(Reader::Guest),
    }
}

/// Who a terminal caller submits as, once the registration policy lets them
/// (`registration-required` otherwise); a guest's order goes to the guest account and
/// contact of the policy.
pub fn submitter_of(
    conn: &mut DbConn,
    principal: &Principal,
    uploader: Uploader,
) -> DomainResult<Submitter> {
    let (user, access) = principal
        .terminal()
        .ok_or(DomainError::Forbidden("this route is for customers"))?;
    access.require_submit()?;
    let devices = principal.viewer()?;
    if user.is_guest {
        let policy = baoxiu_registration::policy::get(conn, &principal.tenant_id())?;
        return Ok(Submitter {
            kind: "guest",
            terminal_user_id: Some(user.id.clone()),
            account_id: policy.guest_account_id,
            contact_id: policy.guest_contact_id,
            enterprise_id: None,
            devices,
            mobile: None,
            uploader,
        });
    }
    Ok(Submitter {
        kind: "terminal",
        terminal_user_id: Some(user.id.clone()),
        account_id: user.account_id.clone(),
        contact_id: user.contact_id.clone(),
        enterprise_id: user.enterprise.as_ref().map(|e| e.id.clone()),
        devices,
        mobile: user.mobile.clone(),
        uploader,
    })
}
