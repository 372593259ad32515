//! Work orders: submission (for a device by id, scanned code or serial, or without one
//! where the tenant allows it), who may read which order, the staff list with its filters,
//! the staff transitions, the engineer's check-in and check-out, the customer's cancel,
//! confirmation and rating, and the tracking link.
//!
//! Every change of an order goes through `status::change` or `status::record`: its
//! timeline row and outbox event are written in the same transaction.

use baoxiu_accounts::customers;
use baoxiu_accounts::staff::{self, StaffRole};
use baoxiu_core::{
    DomainError, DomainResult, FieldError, Keyset, Page, PageRequest, TenantId, Validator, new_id,
};
use baoxiu_devices::devices::{self as device_store, Device, WarrantyStatus};
use baoxiu_devices::keys::code_key;
use baoxiu_devices::qr::{self, Scanned};
use baoxiu_store::schema::{staff_users, work_orders};
use baoxiu_store::{Change as Audit, DbConn, Tx};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attachments;
use crate::numbering;
use crate::settings::{self, Settings};
use crate::status::{self, Also, Change, Status};
use crate::templates::{self, Template};
use crate::timeline::{self, TimelineEntry};
use crate::tracking;

/// What kind of service an order asks for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    Repair,
    Install,
    Maintenance,
    Inspection,
    Other,
}

impl ServiceType {
    pub const ALL: [ServiceType; 5] = [
        Self::Repair,
        Self::Install,
        Self::Maintenance,
        Self::Inspection,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repair => "repair",
            Self::Install => "install",
            Self::Maintenance => "maintenance",
            Self::Inspection => "inspection",
            Self::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Where an order came from: the customer's channels, or `phone` for one staff recorded
/// from a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderChannel {
    MiniProgram,
    OfficialAccount,
    H5,
    Web,
    Api,
    Phone,
}

impl OrderChannel {
    pub const ALL: [OrderChannel; 6] = [
        Self::MiniProgram,
        Self::OfficialAccount,
        Self::H5,
        Self::Web,
        Self::Api,
        Self::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MiniProgram => "mini_program",
            Self::OfficialAccount => "official_account",
            Self::H5 => "h5",
            Self::Web => "web",
            Self::Api => "api",
            Self::Phone => "phone",
        }
    }

    fn parse(text: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| DomainError::Internal(format!("stored channel {text}")))
    }
}

fn warranty_text(w: WarrantyStatus) -> &'static str {
    match w {
        WarrantyStatus::InWarranty => "in_warranty",
        WarrantyStatus::OutOfWarranty => "out_of_warranty",
        WarrantyStatus::Contract => "contract",
        WarrantyStatus::Factory => "factory",
    }
}

fn parse_warranty(text: &str) -> DomainResult<WarrantyStatus> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| DomainError::Internal(format!("stored warranty status {text}")))
}

/// A customer's rating of a completed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rating {
    pub stars: i32,
    pub tags: Vec<String>,
    pub comment: String,
    pub rated_at: NaiveDateTime,
}

/// Where someone was, at a check-in or check-out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Visit {
    pub at: NaiveDateTime,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// One work order, whole (staff see all of it; the API shows customers less).
#[derive(Debug, Clone, Serialize)]
pub struct WorkOrder {
    pub id: String,
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
    pub appointment_at: Option<NaiveDateTime>,
    pub notes: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The values of the form template's custom fields.
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub enterprise_id: Option<String>,
    pub terminal_user_id: Option<String>,
    /// `terminal`, `guest` or `staff`, and who.
    pub created_by_kind: String,
    pub created_by_id: String,
    pub engineer_id: Option<String>,
    pub engineer_name: Option<String>,
    pub response_due_at: Option<NaiveDateTime>,
    pub resolution_due_at: Option<NaiveDateTime>,
    pub accepted_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub reject_reason: Option<String>,
    pub check_in: Option<Visit>,
    pub check_out: Option<Visit>,
    pub rating: Option<Rating>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// How soon before a due time an open order counts as about to breach it.
pub const BREACH_WARNING: Duration = Duration::hours(2);

impl WorkOrder {
    /// Open, and its response (while pending) or resolution due time is at most
    /// `BREACH_WARNING` away, or past.
    pub fn about_to_breach(&self, now: NaiveDateTime) -> bool {
        let soon = now + BREACH_WARNING;
        self.status.is_open()
            && ((self.status == Status::Pending && self.response_due_at.is_some_and(|d| d <= soon))
                || self.resolution_due_at.is_some_and(|d| d <= soon))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = work_orders)]
struct WorkOrderRow {
    tenant_id: String,
    id: String,
    number: String,
    tracking_hash: String,
    status: String,
    channel: String,
    service_type: String,
    device_id: Option<String>,
    brand: String,
    category: String,
    model: String,
    machine_no: Option<String>,
    serial_no: Option<String>,
    serial_key: Option<String>,
    fault_description: String,
    warranty_status: Option<String>,
    appointment_at: Option<NaiveDateTime>,
    notes: String,
    contact_name: String,
    contact_phone: String,
    address: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    custom_fields: String,
    account_id: Option<String>,
    contact_id: Option<String>,
    enterprise_id: Option<String>,
    terminal_user_id: Option<String>,
    created_by_kind: String,
    created_by_id: String,
    engineer_id: Option<String>,
    response_due_at: Option<NaiveDateTime>,
    resolution_due_at: Option<NaiveDateTime>,
    accepted_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    reject_reason: Option<String>,
    check_in_at: Option<NaiveDateTime>,
    check_in_latitude: Option<f64>,
    check_in_longitude: Option<f64>,
    check_out_at: Option<NaiveDateTime>,
    check_out_latitude: Option<f64>,
    check_out_longitude: Option<f64>,
    rating_stars: Option<i32>,
    rating_tags: Option<String>,
    rating_comment: Option<String>,
    rated_at: Option<NaiveDateTime>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The stored form of an order's custom field values: its own versioned JSON, read
/// leniently (a document that cannot be read shows no values).
#[derive(Serialize, Deserialize)]
struct StoredCustomFields {
    v: i32,
    #[serde(default)]
    values: serde_json::Map<String, serde_json::Value>,
}

fn read_custom_fields(text: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str::<StoredCustomFields>(text)
        .map(|s| s.values)
        .unwrap_or_default()
}

fn write_custom_fields(values: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(&StoredCustomFields {
        v: 1,
        values: values.clone(),
    })
    .unwrap_or_else(|_| r#"{"v":1,"values":{}}"#.into())
}

fn visit(
    at: Option<NaiveDateTime>,
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Option<Visit> {
    at.map(|at| Visit {
        at,
        latitude,
        longitude,
    })
}

impl WorkOrderRow {
    fn into_order(self, engineer_name: Option<String>) -> DomainResult<WorkOrder> {
        let rating = match (self.rating_stars, self.rated_at) {
            (Some(stars), Some(rated_at)) => Some(Rating {
                stars,
                tags: self
                    .rating_tags
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default(),
                comment: self.rating_comment.clone().unwrap_or_default(),
                rated_at,
            }),
            _ => None,
        };
        Ok(WorkOrder {
            status: Status::parse(&self.status)?,
            channel: OrderChannel::parse(&self.channel)?,
            service_type: ServiceType::parse(&self.service_type).ok_or_else(|| {
                DomainError::Internal(format!("stored service type {}", self.service_type))
            })?,
            warranty_status: self
                .warranty_status
                .as_deref()
                .map(parse_warranty)
                .transpose()?,
            custom_fields: read_custom_fields(&self.custom_fields),
            check_in: visit(
                self.check_in_at,
                self.check_in_latitude,
                self.check_in_longitude,
            ),
            check_out: visit(
                self.check_out_at,
                self.check_out_latitude,
                self.check_out_longitude,
            ),
            rating,
            id: self.id,
            number: self.number,
            device_id: self.device_id,
            brand: self.brand,
            category: self.category,
            model: self.model,
            machine_no: self.machine_no,
            serial_no: self.serial_no,
            fault_description: self.fault_description,
            appointment_at: self.appointment_at,
            notes: self.notes,
            contact_name: self.contact_name,
            contact_phone: self.contact_phone,
            address: self.address,
            latitude: self.latitude,
            longitude: self.longitude,
            account_id: self.account_id,
            contact_id: self.contact_id,
            enterprise_id: self.enterprise_id,
            terminal_user_id: self.terminal_user_id,
            created_by_kind: self.created_by_kind,
            created_by_id: self.created_by_id,
            engineer_id: self.engineer_id,
            engineer_name,
            response_due_at: self.response_due_at,
            resolution_due_at: self.resolution_due_at,
            accepted_at: self.accepted_at,
            completed_at: self.completed_at,
            closed_at: self.closed_at,
            reject_reason: self.reject_reason,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Who reads (or acts on) orders, and so which orders exist for them.
#[derive(Debug, Clone)]
pub enum Reader {
    /// The tenant's staff: every order.
    Staff,
    /// An engineer on the engineer routes: the orders assigned to them.
    Engineer { staff_id: String },
    /// A terminal user: their own orders, or with `enterprise` (the permission to see the
    /// enterprise's orders) every order of their account.
    Customer {
        user_id: String,
        account_id: Option<String>,
        enterprise: bool,
    },
    /// The guest identity, shared by every guest: no order is theirs to list or open (each
    /// guest follows their own by its tracking link).
    Guest,
}

/// Orders with their engineer's name (left joined), of one tenant, boxed: one statement.
macro_rules! with_engineer {
    ($tenant_id:expr) => {
        work_orders::table
            .left_join(
                staff_users::table.on(staff_users::tenant_id
                    .eq(work_orders::tenant_id)
                    .and(staff_users::id.nullable().eq(work_orders::engineer_id))),
            )
            .filter(work_orders::tenant_id.eq($tenant_id.as_str().to_owned()))
            .into_boxed()
    };
}

/// Narrows a `with_engineer!` query to what `reader` may see (`None`: nothing at all).
macro_rules! visible_to {
    ($query:expr, $reader:expr) => {
        match $reader {
            Reader::Staff => Some($query),
            Reader::Engineer { staff_id } => {
                Some($query.filter(work_orders::engineer_id.eq(staff_id.clone())))
            }
            Reader::Customer {
                account_id: Some(account_id),
                enterprise: true,
                ..
            } => Some($query.filter(work_orders::account_id.eq(account_id.clone()))),
            Reader::Customer { user_id, .. } => {
                Some($query.filter(work_orders::terminal_user_id.eq(user_id.clone())))
            }
            Reader::Guest => None,
        }
    };
}

type Joined = (WorkOrderRow, Option<String>);

/// One order the reader may see (others, and other tenants', answer not-found).
pub fn get(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    reader: &Reader,
) -> DomainResult<WorkOrder> {
    let query = with_engineer!(tenant_id).filter(work_orders::id.eq(id.to_owned()));
    let query = visible_to!(query, reader).ok_or(DomainError::NotFound("work order"))?;
    let (row, engineer): Joined = query
        .select((WorkOrderRow::as_select(), staff_users::name.nullable()))
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("work order"))?;
    row.into_order(engineer)
}

/// Whether the reader may see order `id` (one statement).
pub fn visible(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    reader: &Reader,
) -> DomainResult<bool> {
    let query = with_engineer!(tenant_id).filter(work_orders::id.eq(id.to_owned()));
    let Some(query) = visible_to!(query, reader) else {
        return Ok(false);
    };
    Ok(query
        .select(work_orders::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// An order with its timeline and the photos it claimed.
#[derive(Debug)]
pub struct Detail {
    pub order: WorkOrder,
    pub timeline: Vec<TimelineEntry>,
    pub attachments: Vec<attachments::AttachmentRow>,
}

/// An order the reader may see with its timeline and photos, in three statements.
pub fn get_detail(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    reader: &Reader,
) -> DomainResult<Detail> {
    let order = get(conn, tenant_id, id, reader)?;
    let timeline = timeline::of_order(conn, tenant_id, &order.id)?;
    let attachments = attachments::of_work_order(conn, tenant_id, &order.id)?;
    Ok(Detail {
        order,
        timeline,
        attachments,
    })
}

/// The order a tracking token names, with its timeline; a token no order has answers
/// not-found.
pub fn by_tracking_token(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    token: &str,
) -> DomainResult<(WorkOrder, Vec<TimelineEntry>)> {
    let order = order_of_token(conn, tenant_id, token)?;
    let timeline = timeline::of_order(conn, tenant_id, &order.id)?;
    Ok((order, timeline))
}

fn order_of_token(conn: &mut DbConn, tenant_id: &TenantId, token: &str) -> DomainResult<WorkOrder> {
    if !tracking::well_formed(token) {
        return Err(DomainError::NotFound("work order"));
    }
    let (row, engineer): Joined = with_engineer!(tenant_id)
        .filter(work_orders::tracking_hash.eq(tracking::hash(token)))
        .select((WorkOrderRow::as_select(), staff_users::name.nullable()))
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("work order"))?;
    row.into_order(engineer)
}

/// What the staff list filters on; every filter is served by an index that leads with
/// `tenant_id`, and the number and serial searches are exact (normalised) matches.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub status: Option<Status>,
    /// Created at or after.
    pub from: Option<NaiveDateTime>,
    /// Created before.
    pub to: Option<NaiveDateTime>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub engineer_id: Option<String>,
    pub channel: Option<OrderChannel>,
    /// Open orders whose due time is at most `BREACH_WARNING` away, or past.
    pub about_to_breach: bool,
    /// The whole number (`BX-20261201-00001`), in any case.
    pub number: Option<String>,
    /// The whole serial number, compared as device serials are (case, width, dashes).
    pub serial: Option<String>,
    /// Text in the fault description or the contact's name.
    pub q: Option<String>,
}

fn like(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// How order lists page: newest first.
pub const WORK_ORDERS: Keyset = Keyset::newest_first("work_orders");

/// One page of the orders `reader` may see, filtered; one statement.
pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &OrderFilter,
    reader: &Reader,
    page: &PageRequest,
    now: NaiveDateTime,
) -> DomainResult<Page<WorkOrder>> {
    let Some(mut query) = visible_to!(with_engineer!(tenant_id), reader) else {
        return Ok(page.finish(&WORK_ORDERS, Vec::new(), |o: &WorkOrder| {
            (o.created_at, o.id.clone())
        }));
    };
    if let Some(status) = filter.status {
        query = query.filter(work_orders::status.eq(status.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(work_orders::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(work_orders::created_at.lt(to));
    }
    if let Some(device_id) = &filter.device_id {
        query = query.filter(work_orders::device_id.eq(device_id.clone()));
    }
    if let Some(account_id) = &filter.account_id {
        query = query.filter(work_orders::account_id.eq(account_id.clone()));
    }
    if let Some(engineer_id) = &filter.engineer_id {
        query = query.filter(work_orders::engineer_id.eq(engineer_id.clone()));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(work_orders::channel.eq(channel.as_str()));
    }
    if filter.about_to_breach {
        let soon = now + BREACH_WARNING;
        query = query
            .filter(work_orders::status.eq_any(Status::OPEN))
            .filter(
                work_orders::status
                    .eq("pending")
                    .and(work_orders::response_due_at.le(soon))
                    .or(work_orders::resolution_due_at.le(soon)),
            );
    }
    if let Some(number) = filter
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        query = query.filter(work_orders::number.eq(number.to_uppercase()));
    }
    if let Some(serial) = filter
        .serial
        .as_deref()
        .map(code_key)
        .filter(|k| !k.is_empty())
    {
        query = query.filter(work_orders::serial_key.eq(serial));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = like(q);
        query = query.filter(
            work_orders::fault_description
                .like(pattern.clone())
                .escape('\\')
                .or(work_orders::contact_name.like(pattern).escape('\\')),
        );
    }
    let rows: Vec<Joined> = baoxiu_store::paginate(
        query,
        work_orders::created_at,
        work_orders::id,
        &WORK_ORDERS,
        page,
    )?
    .select((WorkOrderRow::as_select(), staff_users::name.nullable()))
    .load(conn)?;
    let orders = rows
        .into_iter()
        .map(|(row, engineer)| row.into_order(engineer))
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(page.finish(&WORK_ORDERS, orders, |o| (o.created_at, o.id.clone())))
}

/// Which device an order is for.
#[derive(Debug, Clone, Default)]
pub enum DeviceRef {
    /// None: brand, category and model are given instead (where the tenant allows it).
    #[default]
    None,
    Id(String),
    /// A scanned QR code.
    Code(String),
    /// A serial or machine number typed in (the device lookup's rules).
    Serial(String),
}

/// Who submits, and for whom.
#[derive(Debug, Clone)]
pub struct Submitter {
    /// `terminal`, `guest` or `staff`.
    pub kind: &'static str,
    /// The terminal user the order belongs to (the guest identity for guests; none for
    /// staff intake).
    pub terminal_user_id: Option<String>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub enterprise_id: Option<String>,
    /// The devices the submitter may report on.
    pub devices: baoxiu_devices::Viewer,
    /// The mobile the submitter logged in with, for the contact phone when none is given.
    pub mobile: Option<String>,
    /// Whose unclaimed photos the order may claim (`attachment_ids`).
    pub uploader: attachments::Uploader,
}

/// A submission, as the caller sends it.
#[derive(Debug, Clone)]
pub struct NewWorkOrder {
    pub device: DeviceRef,
    pub brand: String,
    pub category: String,
    pub model: String,
    pub machine_no: Option<String>,
    pub serial_no: Option<String>,
    pub fault_description: String,
    pub service_type: ServiceType,
    pub warranty_status: Option<WarrantyStatus>,
    pub appointment_at: Option<NaiveDateTime>,
    pub notes: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub channel: OrderChannel,
    /// Create it even though the device has an open order.
    pub confirm_duplicate: bool,
    /// The submitter's own unclaimed photos the order claims, at most
    /// `attachments::MAX_PER_WORK_ORDER`.
    pub attachment_ids: Vec<String>,
}

/// What a submission did.
#[derive(Debug)]
pub enum Submitted {
    /// Created; the tracking token is shown this once.
    Created {
        order: Box<WorkOrder>,
        tracking_token: String,
        /// The photos it claimed, in the order named.
        attachments: Vec<attachments::AttachmentRow>,
    },
    /// Nothing created: the device has this open order; submit again with
    /// `confirm_duplicate` to create a second one.
    Duplicate(Box<WorkOrder>),
}

const MAX_CUSTOM_FIELDS: usize = 50;

/// Checks the shape of custom field values: an object of at most 50 keys (1-64 characters
/// of a-z, 0-9 and `_`), each a string (at most 2000 characters), a number, a boolean, or a
/// list of at most 50 strings. What the form template asks is checked against it besides.
pub fn check_custom_fields(
    values: &serde_json::Map<String, serde_json::Value>,
    errors: &mut Validator,
) {
    errors.check(
        values.len() <= MAX_CUSTOM_FIELDS,
        "custom_fields",
        "too_many",
        "at most 50 custom fields",
    );
    for (key, value) in values {
        let field = format!("custom_fields.{key}");
        let good_key = (1..=64).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let good_value = match value {
            serde_json::Value::String(s) => s.chars().count() <= 2000,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => true,
            serde_json::Value::Array(items) => {
                items.len() <= 50
                    && items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| s.chars().count() <= 200))
            }
            _ => false,
        };
        errors.check(
            good_key,
            &field,
            "invalid",
            "custom field keys are 1-64 characters of a-z, 0-9 and _",
        );
        errors.check(
            good_value,
            &field,
            "invalid",
            "a text (at most 2000 characters), a number, a boolean or a list of texts",
        );
    }
}

/// The custom field values checked against the form template that applies (required,
/// kind, options, shown), normalised; every bad one named `custom_fields.{key}`. A tenant
/// without a template takes no custom fields.
fn template_values(
    template: Option<&Template>,
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, Vec<FieldError>> {
    match template {
        Some(template) => templates::validate_values(template, values).map(|s| s.values),
        None => baoxiu_forms::validate(templates::CUSTOM_PREFIX, &[], values),
    }
}

fn trimmed(text: &str) -> String {
    text.trim().to_owned()
}

fn optional(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn check_length(errors: &mut Validator, field: &str, value: &str, max: usize) {
    errors.check(
        value.chars().count() <= max,
        field,
        "too_long",
        &format!("at most {max} characters"),
    );
}

fn good_phone(phone: &str) -> bool {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
}

fn check_location(
    errors: &mut Validator,
    prefix: &str,
    latitude: Option<f64>,
    longitude: Option<f64>,
) {
    if let Some(lat) = latitude {
        errors.check(
            (-90.0..=90.0).contains(&lat),
            &format!("{prefix}latitude"),
            "out_of_range",
            "must be -90 to 90",
        );
    }
    if let Some(lng) = longitude {
        errors.check(
            (-180.0..=180.0).contains(&lng),
            &format!("{prefix}longitude"),
            "out_of_range",
            "must be -180 to 180",
        );
    }
    errors.check(
        latitude.is_some() == longitude.is_some(),
        &format!("{prefix}longitude"),
        "invalid",
        "give latitude and longitude together",
    );
}

/// The day in the tenants' time zone (numbers count days the same way).
fn today(now: NaiveDateTime) -> NaiveDate {
    (now + Duration::hours(numbering::DAY_OFFSET_HOURS)).date()
}

/// The warranty status of a device at intake: from its warranty end date when it has one.
fn warranty_of(device: &Device, now: NaiveDateTime) -> WarrantyStatus {
    match device.warranty_ends_on {
        Some(end) if end >= today(now) => WarrantyStatus::InWarranty,
        Some(_) => WarrantyStatus::OutOfWarranty,
        None => device.warranty_status,
    }
}

/// The device a submission names, as the submitter may see it; an unknown one is a bad
/// field (422), not a missing page.
fn find_device(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    device: &DeviceRef,
    viewer: &baoxiu_devices::Viewer,
) -> DomainResult<Option<Device>> {
    let not_found = |field: &str| DomainError::invalid(field, "not_found", "no such device");
    match device {
        DeviceRef::None => Ok(None),
        DeviceRef::Id(id) => device_store::get_for(conn, tenant_id, id, viewer)
            .ok()
            .filter(|d| d.retired_at.is_none())
            .map(Some)
            .ok_or_else(|| not_found("device_id")),
        DeviceRef::Code(code) => match qr::scan(conn, tenant_id, code, viewer) {
            Ok(Scanned::Device(device)) => Ok(Some(*device)),
            Ok(Scanned::Blank) => Err(DomainError::invalid(
                "qr_code",
                "blank",
                "the code is not bound to a device yet",
            )),
            Err(DomainError::NotFound(_)) => Err(not_found("qr_code")),
            Err(e) => Err(e),
        },
        DeviceRef::Serial(serial) => {
            let mut found = device_store::lookup(conn, tenant_id, Some(serial), None, viewer)?;
            if found.is_empty() {
                found = device_store::lookup(conn, tenant_id, None, Some(serial), viewer)?;
            }
            match found.len() {
                1 => Ok(found.pop()),
                0 => Err(not_found("serial")),
                _ => Err(DomainError::invalid(
                    "serial",
                    "ambiguous",
                    "several devices have this machine number; give the device id",
                )),
            }
        }
    }
}

/// The open order of a device, if it has one (the newest).
fn open_order_of(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    device_id: &str,
) -> DomainResult<Option<WorkOrder>> {
    let found: Option<Joined> = with_engineer!(tenant_id)
        .filter(work_orders::device_id.eq(device_id.to_owned()))
        .filter(work_orders::status.eq_any(Status::OPEN))
        .order((work_orders::created_at.desc(), work_orders::id.desc()))
        .select((WorkOrderRow::as_select(), staff_users::name.nullable()))
        .first(conn)
        .optional()?;
    found.map(|(row, name)| row.into_order(name)).transpose()
}

/// Submits an order: checks every field at once (422 naming each bad one), finds the
/// device (id, scanned code or serial, as the submitter may see it) or takes brand,
/// category and model where the tenant repairs without a serial, fills the warranty in
/// from the device, refuses to create a second open order of a device unless confirmed,
/// numbers it, sets its due times from the tenant's targets, and writes it with its first
/// timeline row and outbox event. The caller has checked that the submitter may submit.
pub fn submit(
    tx: &mut Tx<'_>,
    submitter: &Submitter,
    input: NewWorkOrder,
) -> DomainResult<Submitted> {
    let tenant_id = tx.actor.tenant_id.clone();
    let (settings, template): (Settings, Option<Template>) =
        settings::with_form_template(tx.conn, &tenant_id)?;
    let mut errors = Validator::new();
    let device = match find_device(tx.conn, &tenant_id, &input.device, &submitter.devices) {
        Ok(device) => device,
        Err(DomainError::Validation(found)) => {
            for e in found {
                errors.push(e);
            }
            None
        }
        Err(e) => return Err(e),
    };
    let without_device = matches!(input.device, DeviceRef::None);
    if without_device {
        if settings.repair_without_serial {
            for (field, value) in [
                ("brand", &input.brand),
                ("category", &input.category),
                ("model", &input.model),
            ] {
                errors.check(
                    !value.trim().is_empty(),
                    field,
                    "required",
                    "required for a repair without a device",
                );
            }
        } else {
            errors.push(FieldError::new(
                "device_id",
                "required",
                "this provider takes repairs for a known device only: give device_id, qr_code or serial",
            ));
        }
    }
    for (field, value, max) in [
        ("brand", &input.brand, 64),
        ("category", &input.category, 64),
        ("model", &input.model, 64),
        ("notes", &input.notes, 2000),
        ("contact_name", &input.contact_name, 64),
        ("contact_phone", &input.contact_phone, 32),
        ("address", &input.address, 200),
    ] {
        check_length(&mut errors, field, value, max);
    }
    for (field, value) in [
        ("machine_no", &input.machine_no),
        ("serial_no", &input.serial_no),
    ] {
        if let Some(value) = optional(value) {
            check_length(&mut errors, field, &value, 64);
        }
    }
    let fault = input.fault_description.trim();
    errors.check(
        !fault.is_empty(),
        "fault_description",
        "required",
        "describe the fault",
    );
    check_length(&mut errors, "fault_description", fault, 2000);
    let phone = Some(input.contact_phone.trim())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .or_else(|| submitter.mobile.clone())
        .unwrap_or_default();
    errors.check(
        !phone.is_empty(),
        "contact_phone",
        "required",
        "give a phone number to reach you",
    );
    if !phone.is_empty() {
        errors.check(
            good_phone(&phone),
            "contact_phone",
            "invalid",
            "5-20 digits (with + - ( ) and spaces)",
        );
    }
    if let Some(at) = input.appointment_at {
        errors.check(
            at >= tx.now - Duration::hours(1),
            "appointment_at",
            "in_the_past",
            "the appointment must be in the future",
        );
    }
    check_location(&mut errors, "", input.latitude, input.longitude);
    errors.check(
        input.attachment_ids.len() <= attachments::MAX_PER_WORK_ORDER,
        attachments::IDS_FIELD,
        "too_many",
        &format!(
            "a work order holds at most {} photos",
            attachments::MAX_PER_WORK_ORDER
        ),
    );
    check_custom_fields(&input.custom_fields, &mut errors);
    let custom_fields = match template_values(template.as_ref(), &input.custom_fields) {
        Ok(values) => values,
        Err(bad) => {
            for e in bad {
                errors.push(e);
            }
            serde_json::Map::new()
        }
    };
    errors.finish()?;

    if let Some(device) = &device
        && !input.confirm_duplicate
        && let Some(open) = open_order_of(tx.conn, &tenant_id, &device.id)?
    {
        return Ok(Submitted::Duplicate(Box::new(open)));
    }

    let number = numbering::next(tx.conn, &tenant_id, &settings.number_prefix, tx.now)?;
    let (token, tracking_hash) = tracking::new_token();
    let target = settings.service_targets.of(input.service_type);
    let (brand, category, model, machine_no, serial_no, warranty) = match &device {
        Some(d) => (
            d.brand.clone(),
            d.category.clone(),
            d.model.clone(),
            d.machine_no.clone(),
            d.serial_no.clone(),
            Some(warranty_of(d, tx.now)),
        ),
        None => (
            trimmed(&input.brand),
            trimmed(&input.category),
            trimmed(&input.model),
            optional(&input.machine_no),
            optional(&input.serial_no),
            input.warranty_status,
        ),
    };
    let address = match (&device, input.address.trim()) {
        (Some(d), "") => d.install_address.clone(),
        (_, given) => given.to_owned(),
    };
    let id = new_id();
    let row = WorkOrderRow {
        tenant_id: tenant_id.as_str().to_owned(),
        id: id.clone(),
        number,
        tracking_hash,
        status: Status::Pending.as_str().to_owned(),
        channel: input.channel.as_str().to_owned(),
        service_type: input.service_type.as_str().to_owned(),
        device_id: device.as_ref().map(|d| d.id.clone()),
        brand,
        category,
        model,
        serial_key: serial_no.as_deref().map(code_key).filter(|k| !k.is_empty()),
        machine_no,
        serial_no,
        fault_description: fault.to_owned(),
        warranty_status: warranty.map(|w| warranty_text(w).to_owned()),
        appointment_at: input.appointment_at,
        notes: trimmed(&input.notes),
        contact_name: trimmed(&input.contact_name),
        contact_phone: phone,
        address,
        latitude: input.latitude,
        longitude: input.longitude,
        custom_fields: write_custom_fields(&custom_fields),
        account_id: submitter.account_id.clone(),
        contact_id: submitter.contact_id.clone(),
        enterprise_id: submitter.enterprise_id.clone(),
        terminal_user_id: submitter.terminal_user_id.clone(),
        created_by_kind: submitter.kind.to_owned(),
        created_by_id: tx.actor.id.clone(),
        engineer_id: None,
        response_due_at: Some(tx.now + Duration::minutes(i64::from(target.response_minutes))),
        resolution_due_at: Some(tx.now + Duration::minutes(i64::from(target.resolution_minutes))),
        accepted_at: None,
        completed_at: None,
        closed_at: None,
        reject_reason: None,
        check_in_at: None,
        check_in_latitude: None,
        check_in_longitude: None,
        check_out_at: None,
        check_out_latitude: None,
        check_out_longitude: None,
        rating_stars: None,
        rating_tags: None,
        rating_comment: None,
        rated_at: None,
        version: 1,
        created_at: tx.now,
        updated_at: tx.now,
    };
    diesel::insert_into(work_orders::table)
        .values(&row)
        .execute(tx.conn)?;
    let order = row.into_order(None)?;
    // In the order's transaction: a photo claimed by a concurrent submission fails this
    // one whole.
    let photos = attachments::claim(tx, &submitter.uploader, &input.attachment_ids, &id)?;
    status::record(
        tx,
        &order.id,
        &order.number,
        "submit",
        None,
        Status::Pending.as_str(),
        None,
    )?;
    if submitter.kind == "staff" {
        tx.audit(Audit::created(
            "work_order.create",
            "work_order",
            &id,
            &order,
        ))?;
    }
    Ok(Submitted::Created {
        order: Box::new(order),
        tracking_token: token,
        attachments: photos,
    })
}

/// For staff intake: the account (and contact of it) a phone call is recorded for.
pub fn check_customer(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    account_id: &str,
    contact_id: Option<&str>,
) -> DomainResult<()> {
    let mut errors = Validator::new();
    if customers::get_account(conn, tenant_id, account_id).is_err() {
        errors.push(FieldError::new(
            "account_id",
            "not_found",
            "no such account",
        ));
    } else if let Some(contact_id) = contact_id {
        let contact = customers::get_contact(conn, tenant_id, contact_id).ok();
        errors.check(
            contact.is_some_and(|c| c.account_id == account_id),
            "contact_id",
            "not_found",
            "no such contact of the account",
        );
    }
    errors.finish()
}

/// What staff do to an order.
#[derive(Debug, Clone)]
pub enum StaffAction {
    Accept,
    Assign { engineer_id: String },
    Start,
    Complete,
    Close,
    Reject { reason: String },
}

impl StaffAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Assign { .. } => "assign",
            Self::Start => "start",
            Self::Complete => "complete",
            Self::Close => "close",
            Self::Reject { .. } => "reject",
        }
    }
}

/// A staff transition of an order, audited.
pub fn transition(
    tx: &mut Tx<'_>,
    id: &str,
    action: StaffAction,
    note: Option<String>,
) -> DomainResult<WorkOrder> {
    let tenant_id = tx.actor.tenant_id.clone();
    let before = get(tx.conn, &tenant_id, id, &Reader::Staff)?;
    let now = tx.now;
    let note = note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(note) = &note {
        let mut errors = Validator::new();
        check_length(&mut errors, "note", note, 500);
        errors.finish()?;
    }
    let name = action.name();
    match &action {
        StaffAction::Accept => status::change(
            tx,
            id,
            &before.number,
            before.status,
            Change {
                transition: &status::ACCEPT,
                action: name,
                note: note.as_deref(),
                also: Also {
                    accepted_at: Some(now),
                    ..Also::default()
                },
            },
        )?,
        StaffAction::Assign { engineer_id } => {
            let engineer = staff::get(tx.conn, &tenant_id, engineer_id)
                .ok()
                .filter(|s| s.role == StaffRole::Engineer && !s.disabled)
                .ok_or_else(|| {
                    DomainError::invalid("engineer_id", "not_found", "no such engineer")
                })?;
            let note = note.clone().unwrap_or_else(|| engineer.name.clone());
            status::change(
                tx,
                id,
                &before.number,
                before.status,
                Change {
                    transition: &status::ASSIGN,
                    action: name,
                    note: Some(&note),
                    also: Also {
                        engineer_id: Some(&engineer.id),
                        accepted_at: before.accepted_at.or(Some(now)),
                        ..Also::default()
                    },
                },
            )?
        }
        StaffAction::Start => status::change(
            tx,
            id,
            &before.number,
            before.status,
            Change {
                transition: &status::START,
                action: name,
                note: note.as_deref(),
                also: Also::default(),
            },
        )?,
        StaffAction::Complete => status::change(
            tx,
            id,
            &before.number,
            before.status,
            Change {
                transition: &status::COMPLETE,
                action: name,
                note: note.as_deref(),
                also: Also {
                    completed_at: Some(now),
                    ..Also::default()
                },
            },
        )?,
        StaffAction::Close => status::change(
            tx,
            id,
            &before.number,
            before.status,
            Change {
                transition: &status::CLOSE,
                action: name,
                note: note.as_deref(),
                also: Also {
                    closed_at: Some(now),
                    ..Also::default()
                },
            },
        )?,
        StaffAction::Reject { reason } => {
            let reason = reason.trim();
            let mut errors = Validator::new();
            errors.check(!reason.is_empty(), "reason", "required", "give the reason");
            check_length(&mut errors, "reason", reason, 500);
            errors.finish()?;
            status::change(
                tx,
                id,
                &before.number,
                before.status,
                Change {
                    transition: &status::REJECT,
                    action: name,
                    note: Some(reason),
                    also: Also {
                        reject_reason: Some(reason),
                        ..Also::default()
                    },
                },
            )?
        }
    }
    let after = get(tx.conn, &tenant_id, id, &Reader::Staff)?;
    let audit_action = format!("work_order.{name}");
    tx.audit(Audit::updated(
        &audit_action,
        "work_order",
        id,
        &before,
        &after,
    ))?;
    Ok(after)
}

/// Where an engineer is, with what they say.
#[derive(Debug, Clone, Default)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub note: Option<String>,
}

fn check_visit(location: &Location) -> DomainResult<Option<String>> {
    let mut errors = Validator::new();
    check_location(
        &mut errors,
        "",
        Some(location.latitude),
        Some(location.longitude),
    );
    let note = location
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(note) = &note {
        check_length(&mut errors, "note", note, 500);
    }
    errors.finish()?;
    Ok(note)
}

/// The assigned engineer checks in at the site: the order is in progress. An order not
/// assigned to them answers not-found.
pub fn check_in(
    tx: &mut Tx<'_>,
    engineer_id: &str,
    id: &str,
    location: Location,
) -> DomainResult<WorkOrder> {
    let note = check_visit(&location)?;
    let tenant_id = tx.actor.tenant_id.clone();
    let reader = Reader::Engineer {
        staff_id: engineer_id.to_owned(),
    };
    let before = get(tx.conn, &tenant_id, id, &reader)?;
    status::change(
        tx,
        id,
        &before.number,
        before.status,
        Change {
            transition: &status::START,
            action: "check_in",
            note: note.as_deref(),
            also: Also {
                check_in_at: Some(tx.now),
                check_in_latitude: Some(location.latitude),
                check_in_longitude: Some(location.longitude),
                ..Also::default()
            },
        },
    )?;
    get(tx.conn, &tenant_id, id, &reader)
}

/// The engineer checks out: with `completed` the work is done (in progress → completed);
/// without, the visit is recorded and the order stays in progress.
pub fn check_out(
    tx: &mut Tx<'_>,
    engineer_id: &str,
    id: &str,
    location: Location,
    completed: bool,
) -> DomainResult<WorkOrder> {
    let note = check_visit(&location)?;
    let tenant_id = tx.actor.tenant_id.clone();
    let reader = Reader::Engineer {
        staff_id: engineer_id.to_owned(),
    };
    let before = get(tx.conn, &tenant_id, id, &reader)?;
    let also = Also {
        check_out_at: Some(tx.now),
        check_out_latitude: Some(location.latitude),
        check_out_longitude: Some(location.longitude),
        completed_at: completed.then_some(tx.now),
        ..Also::default()
    };
    let transition = if completed {
        status::COMPLETE
    } else {
        baoxiu_core::Transition::new("work order", &["in_progress"], "in_progress")
    };
    status::change(
        tx,
        id,
        &before.number,
        before.status,
        Change {
            transition: &transition,
            action: "check_out",
            note: note.as_deref(),
            also,
        },
    )?;
    get(tx.conn, &tenant_id, id, &reader)
}

/// The customer withdraws their order while it is pending.
pub fn cancel(
    tx: &mut Tx<'_>,
    reader: &Reader,
    id: &str,
    reason: Option<String>,
) -> DomainResult<WorkOrder> {
    let tenant_id = tx.actor.tenant_id.clone();
    let before = get(tx.conn, &tenant_id, id, reader)?;
    let reason = reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if let Some(reason) = &reason {
        let mut errors = Validator::new();
        check_length(&mut errors, "reason", reason, 500);
        errors.finish()?;
    }
    status::change(
        tx,
        id,
        &before.number,
        before.status,
        Change {
            transition: &status::CANCEL,
            action: "cancel",
            note: reason.as_deref(),
            also: Also {
                closed_at: Some(tx.now),
                ..Also::default()
            },
        },
    )?;
    get(tx.conn, &tenant_id, id, reader)
}

/// The customer confirms the repair: completed → closed.
pub fn confirm(tx: &mut Tx<'_>, reader: &Reader, id: &str) -> DomainResult<WorkOrder> {
    let tenant_id = tx.actor.tenant_id.clone();
    let before = get(tx.conn, &tenant_id, id, reader)?;
    status::change(
        tx,
        id,
        &before.number,
        before.status,
        Change {
            transition: &status::CLOSE,
            action: "confirm",
            note: None,
            also: Also {
                closed_at: Some(tx.now),
                ..Also::default()
            },
        },
    )?;
    get(tx.conn, &tenant_id, id, reader)
}

/// A rating as the customer gives it.
#[derive(Debug, Clone, Default)]
pub struct NewRating {
    pub stars: i32,
    pub tags: Vec<String>,
    pub comment: String,
}

/// The customer rates their order: once, only when it is completed (or closed after it),
/// only where the tenant has ratings on; tags from the tenant's list for that star level;
/// a comment (the reason) required at or below the tenant's threshold.
pub fn rate(
    tx: &mut Tx<'_>,
    reader: &Reader,
    id: &str,
    rating: NewRating,
) -> DomainResult<WorkOrder> {
    let tenant_id = tx.actor.tenant_id.clone();
    let order = get(tx.conn, &tenant_id, id, reader)?;
    rate_order(tx, &order, rating)?;
    get(tx.conn, &tenant_id, id, reader)
}

/// Rates the order a tracking token names (the holder of the link acts).
pub fn rate_by_token(tx: &mut Tx<'_>, token: &str, rating: NewRating) -> DomainResult<WorkOrder> {
    let tenant_id = tx.actor.tenant_id.clone();
    let order = order_of_token(tx.conn, &tenant_id, token)?;
    rate_order(tx, &order, rating)?;
    get(tx.conn, &tenant_id, &order.id, &Reader::Staff)
}

const RATABLE: [&str; 2] = ["completed", "closed"];

fn rate_order(tx: &mut Tx<'_>, order: &WorkOrder, rating: NewRating) -> DomainResult<()> {
    let settings = settings::settings(tx.conn, &tx.actor.tenant_id)?;
    if !settings.ratings_enabled {
        return Err(DomainError::conflict(
            "ratings-off",
            "this provider does not take ratings",
        ));
    }
    if order.rating.is_some() {
        return Err(DomainError::conflict(
            "already-rated",
            "the work order has been rated already",
        ));
    }
    if !RATABLE.contains(&order.status.as_str()) {
        return Err(DomainError::conflict(
            "not-completed",
            format!(
                "the work order is {}; it can be rated once completed",
                order.status.as_str()
            ),
        ));
    }
    let mut errors = Validator::new();
    errors.check(
        (1..=5).contains(&rating.stars),
        "stars",
        "out_of_range",
        "1 to 5 stars",
    );
    let level = settings
        .rating_levels
        .iter()
        .find(|l| l.stars == rating.stars);
    for (i, tag) in rating.tags.iter().enumerate() {
        errors.check(
            level.is_some_and(|l| l.tags.contains(tag)),
            &format!("tags.{i}"),
            "not_in_list",
            "not one of the tags of this star level",
        );
    }
    errors.check(
        rating.tags.len() <= 12,
        "tags",
        "too_many",
        "at most 12 tags",
    );
    let comment = rating.comment.trim();
    check_length(&mut errors, "comment", comment, 500);
    errors.check(
        rating.stars > settings.rating_reason_threshold || !comment.is_empty(),
        "comment",
        "required",
        "say why, for a rating this low",
    );
    errors.finish()?;
    let tags = serde_json::to_string(&rating.tags).unwrap_or_else(|_| "[]".into());
    let updated = diesel::update(
        work_orders::table
            .filter(work_orders::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(work_orders::id.eq(&order.id))
            .filter(work_orders::rated_at.is_null())
            .filter(work_orders::status.eq_any(RATABLE)),
    )
    .set((
        work_orders::rating_stars.eq(rating.stars),
        work_orders::rating_tags.eq(tags),
        work_orders::rating_comment.eq(comment),
        work_orders::rated_at.eq(tx.now),
        work_orders::updated_at.eq(tx.now),
        work_orders::version.eq(work_orders::version + 1),
    ))
    .execute(tx.conn)?;
    if updated != 1 {
        return Err(DomainError::conflict(
            "already-rated",
            "the work order has been rated already",
        ));
    }
    let note = format!("{} stars", rating.stars);
    status::record(
        tx,
        &order.id,
        &order.number,
        "rate",
        Some(order.status.as_str()),
        order.status.as_str(),
        Some(&note),
    )
}

/// Every tenant's `auto_close_days`, for the auto-close job.
pub fn auto_close_days(conn: &mut DbConn) -> DomainResult<Vec<(TenantId, i32)>> {
    use baoxiu_store::schema::tenant_settings;
    let rows: Vec<(String, i32)> = tenant_settings::table
        .select((tenant_settings::tenant_id, tenant_settings::auto_close_days))
        .order(tenant_settings::tenant_id.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(|(t, d)| (TenantId(t), d)).collect())
}

/// One tenant's completed orders completed at or before `before` (the customer did not
/// confirm them in time), oldest first, at most `limit`.
pub fn due_for_auto_close(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    before: NaiveDateTime,
    limit: i64,
) -> DomainResult<Vec<String>> {
    Ok(work_orders::table
        .filter(work_orders::tenant_id.eq(tenant_id.as_str()))
        .filter(work_orders::status.eq(Status::Completed.as_str()))
        .filter(work_orders::completed_at.le(before))
        .order(work_orders::completed_at.asc())
        .limit(limit)
        .select(work_orders::id)
        .load(conn)?)
}

/// Closes a completed order the customer did not confirm (the auto-close job acts).
pub fn auto_close(tx: &mut Tx<'_>, id: &str) -> DomainResult<()> {
    let tenant_id = tx.actor.tenant_id.clone();
    let before = get(tx.conn, &tenant_id, id, &Reader::Staff)?;
    status::change(
        tx,
        id,
        &before.number,
        before.status,
        Change {
            transition: &status::CLOSE,
            action: "auto_close",
            note: None,
            also: Also {
                closed_at: Some(tx.now),
                ..Also::default()
            },
        },
    )
}
