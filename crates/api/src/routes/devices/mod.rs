//! Devices: staff manage them; terminal users see their account's and public ones.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use baoxiu_devices::Viewer;
use baoxiu_devices::devices::{
    self, Device, DeviceFilter, DeviceInput, DeviceStatus, Visibility, WarrantyStatus,
};
use baoxiu_devices::transfer::{self, ImportOptions, ImportReport};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::csv_export::CsvExport;
use crate::extract::{IfMatch, StaffCaller, TerminalCaller, versioned};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse, double_option, utc};
use crate::state::AppState;
use crate::upload::CsvUpload;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceResponse {
    pub id: String,
    pub account_id: Option<String>,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub model: String,
    /// 机器编号.
    pub machine_no: Option<String>,
    /// 序列号, unique per tenant.
    pub serial_no: Option<String>,
    pub install_address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub warranty_status: WarrantyStatus,
    pub warranty_ends_on: Option<NaiveDate>,
    pub status: DeviceStatus,
    pub visibility: Visibility,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the device was deleted while QR codes were bound to it: it is kept for
    /// them, hidden from lists (`?retired=true` lists these) and from terminals.
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceResponse {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            account_id: d.account_id,
            name: d.name,
            brand: d.brand,
            category: d.category,
            model: d.model,
            machine_no: d.machine_no,
            serial_no: d.serial_no,
            install_address: d.install_address,
            latitude: d.latitude,
            longitude: d.longitude,
            warranty_status: d.warranty_status,
            warranty_ends_on: d.warranty_ends_on,
            status: d.status,
            visibility: d.visibility,
            version: d.version,
            created_at: utc(d.created_at),
            updated_at: utc(d.updated_at),
            retired_at: d.retired_at.map(utc),
        }
    }
}

/// A device as a terminal user (an end customer or a guest) sees it: no owner account,
/// version or timestamps, and coordinates only for the caller's own account's devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDeviceResponse {
    pub id: String,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub model: String,
    /// 机器编号.
    pub machine_no: Option<String>,
    /// 序列号.
    pub serial_no: Option<String>,
    pub install_address: String,
    /// Only for a device of the caller's account (`mine`); `null` for others' public ones.
    pub latitude: Option<f64>,
    /// Only for a device of the caller's account (`mine`); `null` for others' public ones.
    pub longitude: Option<f64>,
    pub warranty_status: WarrantyStatus,
    pub warranty_ends_on: Option<NaiveDate>,
    pub status: DeviceStatus,
    /// Whether the device belongs to the caller's account (else it is a public one).
    pub mine: bool,
}

impl CustomerDeviceResponse {
    pub fn new(d: Device, viewer: &Viewer) -> Self {
        let mine = viewer.owns(&d);
        Self {
            id: d.id,
            name: d.name,
            brand: d.brand,
            category: d.category,
            model: d.model,
            machine_no: d.machine_no,
            serial_no: d.serial_no,
            install_address: d.install_address,
            latitude: d.latitude.filter(|_| mine),
            longitude: d.longitude.filter(|_| mine),
            warranty_status: d.warranty_status,
            warranty_ends_on: d.warranty_ends_on,
            status: d.status,
            mine,
        }
    }
}

/// A device as the caller's audience sees it: staff get the whole device
/// (`DeviceResponse`), terminal users the customer view (`CustomerDeviceResponse`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DeviceView {
    Staff(DeviceResponse),
    Customer(CustomerDeviceResponse),
}

impl DeviceView {
    pub fn new(device: Device, viewer: &Viewer) -> Self {
        match viewer {
            Viewer::Staff => Self::Staff(device.into()),
            _ => Self::Customer(CustomerDeviceResponse::new(device, viewer)),
        }
    }
}

fn device_response(status: StatusCode, device: Device) -> HttpResponse {
    versioned(status, device.version, DeviceResponse::from(device))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    #[param(format = Uuid)]
    pub account_id: Option<String>,
    #[param(inline)]
    pub status: Option<DeviceStatus>,
    #[param(inline)]
    pub visibility: Option<Visibility>,
    /// Serial, machine number or name containing this text.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `true`: the retired devices instead of the others (staff only; terminals never see
    /// retired devices).
    pub retired: Option<bool>,
}

impl From<DeviceQuery> for DeviceFilter {
    fn from(q: DeviceQuery) -> Self {
        Self {
            account_id: q.account_id,
            status: q.status,
            visibility: q.visibility,
            q: q.q,
            retired: q.retired.unwrap_or(false),
        }
    }
}

/// List devices (staff).
///
/// Every device of the tenant, filtered by account, status, visibility or text (`q`: serial, machine number or name), one page at a time.
#[utoipa::path(tag = "devices", operation_id = "list_admin_devices", params(DeviceQuery, PageQuery),
    responses((status = 200, description = "One page of devices", body = PageResponse<DeviceResponse>)))]
#[get("/admin/devices")]
pub async fn list_admin_devices(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<DeviceQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<DeviceResponse>>, ApiError> {
    let request = page.request()?;
    let filter = DeviceFilter::from(query.into_inner());
    let page = state
        .read(&staff, move |tx| {
            devices::list(
                tx.conn,
                &tx.actor.tenant_id,
                &filter,
                &Viewer::Staff,
                &request,
            )
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        DeviceResponse::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// The owner account (none yet is fine).
    #[schema(format = Uuid)]
    pub account_id: Option<String>,
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
    /// Unique per tenant, compared ignoring case, width, spaces and dashes.
    #[schema(max_length = 64)]
    pub serial_no: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub install_address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Default `out_of_warranty`.
    pub warranty_status: Option<WarrantyStatus>,
    pub warranty_ends_on: Option<NaiveDate>,
    /// Default `running`.
    pub status: Option<DeviceStatus>,
    /// Default `private`.
    pub visibility: Option<Visibility>,
}

impl From<CreateDeviceRequest> for DeviceInput {
    fn from(r: CreateDeviceRequest) -> Self {
        Self {
            account_id: r.account_id,
            name: r.name,
            brand: r.brand,
            category: r.category,
            model: r.model,
            machine_no: r.machine_no,
            serial_no: r.serial_no,
            install_address: r.install_address,
            latitude: r.latitude,
            longitude: r.longitude,
            warranty_status: r.warranty_status,
            warranty_ends_on: r.warranty_ends_on,
            status: r.status,
            visibility: r.visibility,
        }
    }
}

/// Create a device.
///
/// A device of the tenant, optionally of a customer account; serial and machine numbers are unique within the tenant. Answers the device with its version as `ETag`.
#[utoipa::path(tag = "devices", operation_id = "create_device", request_body = CreateDeviceRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422, and while the first request runs, 409.")),
    responses((status = 201, description = "Created", body = DeviceResponse)))]
#[post(
    "/admin/devices",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::idempotent)"
)]
pub async fn create_device(
    state: web::Data<AppState>,
    staff: StaffCaller,
    body: ApiJson<CreateDeviceRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = DeviceInput::from(body.0);
    let device = state
        .change(&staff, move |tx| devices::create(tx, input))
        .await?;
    Ok(device_response(StatusCode::CREATED, device))
}

/// Get a device (staff).
///
/// One device of the tenant, whole, with its version as `ETag`; another tenant's id answers 404.
#[utoipa::path(tag = "devices", operation_id = "get_admin_device", params(("id" = String, Path, description = "Device id")),
    responses((status = 200, description = "The device", body = DeviceResponse),
        (status = 404, description = "No such device", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/devices/{id}")]
pub async fn get_admin_device(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let device = state
        .read(&staff, move |tx| {
            devices::get(tx.conn, &tx.actor.tenant_id, &id)
        })
        .await?;
    Ok(device_response(StatusCode::OK, device))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDeviceRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
    /// `null` detaches the device from its account.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, format = Uuid)]
    pub account_id: Option<Option<String>>,
    #[schema(max_length = 64)]
    pub brand: Option<String>,
    #[schema(max_length = 64)]
    pub category: Option<String>,
    #[schema(max_length = 64)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, max_length = 64)]
    pub machine_no: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, max_length = 64)]
    pub serial_no: Option<Option<String>>,
    #[schema(max_length = 200)]
    pub install_address: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>, nullable)]
    pub latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>, nullable)]
    pub longitude: Option<Option<f64>>,
    pub warranty_status: Option<WarrantyStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>, nullable)]
    pub warranty_ends_on: Option<Option<NaiveDate>>,
    pub status: Option<DeviceStatus>,
    pub visibility: Option<Visibility>,
}

impl UpdateDeviceRequest {
    /// The device as it is, with the fields sent changed: every column of `DeviceInput`
    /// named once (no `..`), so a new column cannot be forgotten here.
    fn onto(self, current: &Device) -> DeviceInput {
        let (r, d) = (self, DeviceInput::from(current));
        DeviceInput {
            account_id: r.account_id.unwrap_or(d.account_id),
            name: r.name.unwrap_or(d.name),
            brand: r.brand.unwrap_or(d.brand),
            category: r.category.unwrap_or(d.category),
            model: r.model.unwrap_or(d.model),
            machine_no: r.machine_no.unwrap_or(d.machine_no),
            serial_no: r.serial_no.unwrap_or(d.serial_no),
            install_address: r.install_address.unwrap_or(d.install_address),
            latitude: r.latitude.unwrap_or(d.latitude),
            longitude: r.longitude.unwrap_or(d.longitude),
            warranty_status: r.warranty_status.or(d.warranty_status),
            warranty_ends_on: r.warranty_ends_on.unwrap_or(d.warranty_ends_on),
            status: r.status.or(d.status),
            visibility: r.visibility.or(d.visibility),
        }
    }
}

/// Change a device.
///
/// Changes only the fields sent (`null` clears an optional one); `If-Match` makes the change conditional (412 when stale).
#[utoipa::path(tag = "devices", operation_id = "update_device", request_body = UpdateDeviceRequest,
    params(("id" = String, Path, description = "Device id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = DeviceResponse),
        (status = 404, description = "No such device", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/devices/{id}")]
pub async fn update_device(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateDeviceRequest>,
) -> Result<HttpResponse, ApiError> {
    let r = body.0;
    let device = state
        .change(&staff, move |tx| {
            let current = devices::get(tx.conn, &tx.actor.tenant_id, &id)?;
            let input = r.onto(&current);
            devices::update(tx, &id, input, if_match.0)
        })
        .await?;
    Ok(device_response(StatusCode::OK, device))
}

/// Delete a device.
///
/// A device no QR code is bound to is deleted. One that codes are bound to is retired
/// instead: kept (its codes stay bound), hidden from lists and terminals (404), listed for
/// staff with `?retired=true`. Either way the answer is 204.
#[utoipa::path(tag = "devices", operation_id = "delete_device", params(("id" = String, Path, description = "Device id")),
    responses((status = 204, description = "Deleted, or retired when QR codes are bound to it"),
        (status = 404, description = "No such device", body = Problem, content_type = "application/problem+json")))]
#[delete("/admin/devices/{id}")]
pub async fn delete_device(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .change(&staff, move |tx| devices::delete(tx, &id).map(|_| ()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List my devices.
///
/// My account's devices and public ones; guests see public ones only.
#[utoipa::path(tag = "devices", operation_id = "list_devices", params(DeviceQuery, PageQuery),
    responses((status = 200, description = "One page of devices", body = PageResponse<CustomerDeviceResponse>),
        (status = 403, description = "`registration-required` before registering (when the policy says so)", body = Problem, content_type = "application/problem+json")))]
#[get("/devices")]
pub async fn list_devices(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    query: ApiQuery<DeviceQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<CustomerDeviceResponse>>, ApiError> {
    let request = page.request()?;
    let filter = DeviceFilter {
        account_id: None,
        retired: false,
        ..DeviceFilter::from(query.into_inner())
    };
    let page = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let viewer = principal.viewer()?;
            let page = devices::list(tx.conn, &principal.tenant_id(), &filter, &viewer, &request)?;
            Ok(PageResponse::from_page(page, |d| {
                CustomerDeviceResponse::new(d, &viewer)
            }))
        })
        .await?;
    Ok(web::Json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// 序列号.
    #[param(max_length = 64)]
    pub serial: Option<String>,
    /// 机器编号.
    #[param(max_length = 64)]
    pub machine_no: Option<String>,
}

/// Look a device up by serial or machine number ("quick repair").
///
/// For "quick repair": the devices the caller may see whose serial or machine number is the one given (exactly, ignoring case).
#[utoipa::path(tag = "devices", operation_id = "lookup_devices", params(LookupQuery),
    responses((status = 200, description = "Matching devices the caller may see (possibly none)", body = Vec<CustomerDeviceResponse>)))]
#[get("/devices/lookup")]
pub async fn lookup_devices(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    query: ApiQuery<LookupQuery>,
) -> Result<web::Json<Vec<CustomerDeviceResponse>>, ApiError> {
    let query = query.into_inner();
    let found = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let viewer = principal.viewer()?;
            let found = devices::lookup(
                tx.conn,
                &principal.tenant_id(),
                query.serial.as_deref(),
                query.machine_no.as_deref(),
                &viewer,
            )?;
            Ok(found
                .into_iter()
                .map(|d| CustomerDeviceResponse::new(d, &viewer))
                .collect())
        })
        .await?;
    Ok(web::Json(found))
}

/// Get one of my devices.
///
/// One device as the caller's audience sees it; a device the caller may not see answers 404.
#[utoipa::path(tag = "devices", operation_id = "get_device", params(("id" = String, Path, description = "Device id")),
    responses((status = 200, description = "The device", body = CustomerDeviceResponse),
        (status = 404, description = "No such device, or not one the caller may see", body = Problem, content_type = "application/problem+json")))]
#[get("/devices/{id}")]
pub async fn get_device(
    state: web::Data<AppState>,
    caller: TerminalCaller,
    id: web::Path<String>,
) -> Result<web::Json<CustomerDeviceResponse>, ApiError> {
    let device = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let viewer = principal.viewer()?;
            let device = devices::get_for(tx.conn, &principal.tenant_id(), &id, &viewer)?;
            Ok(CustomerDeviceResponse::new(device, &viewer))
        })
        .await?;
    Ok(web::Json(device))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Keep the good rows of a file with bad ones (default: all or nothing).
    #[serde(default)]
    pub partial: bool,
    /// Check the file, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Import devices from CSV.
///
/// The body is the CSV file itself (`Content-Type: text/csv`), UTF-8 with or without a BOM.
/// The header row names the columns: `name` (required), `serial_no`, `machine_no`, `brand`,
/// `category`, `model`, `install_address`, `latitude`, `longitude`, `warranty_status`,
/// `warranty_ends_on`, `status`, `visibility`, `account_id` (or their Chinese names, as
/// the export template has them). Rows are numbered as a spreadsheet shows them, the
/// header being row 1. Unless `partial=true`, one bad row rejects the file with a 422 whose
/// `errors` name each bad cell as `rows.{row}.{column}`, and nothing is imported.
///
/// The whole file is read and checked before anything is written, then written 1000 rows
/// per transaction, so that other requests are served meanwhile. A serial number another
/// request takes during the import refuses its row (`partial=true`) or the file, whose
/// rows written so far are removed again.
#[utoipa::path(tag = "devices", operation_id = "import_devices", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 200, description = "What was imported, and the rows that were not", body = ImportReport),
        (status = 413, description = "The file is larger than the upload limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad rows (without `partial`), or a bad header or encoding", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/devices/import")]
pub async fn import_devices(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<ImportQuery>,
    file: CsvUpload,
) -> Result<web::Json<ImportReport>, ApiError> {
    // The import reaches the database through its own transactions, not a unit of work.
    state.check_session(&staff).await?;
    let options = ImportOptions {
        partial: query.partial,
        dry_run: query.dry_run,
    };
    let actor = staff.actor();
    let now = state.now();
    let db = state.db.clone();
    let report = web::block(move || transfer::import(&db, &actor, &file.0, options, now)).await??;
    Ok(web::Json(report))
}

/// Export devices as CSV.
///
/// UTF-8 with a BOM (so Excel reads it as UTF-8), in the columns an import reads; the
/// filters of the device list apply. Text cells a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) get a leading `'`. The file
/// is streamed, `export_batch_rows` devices per batch.
#[utoipa::path(tag = "devices", operation_id = "export_devices", params(DeviceQuery),
    responses((status = 200, description = "The CSV file", content((String = "text/csv")))))]
#[get("/admin/devices/export")]
pub async fn export_devices(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<DeviceQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = DeviceFilter::from(query.into_inner());
    let export = CsvExport {
        filename: "devices.csv",
        header: transfer::export_header().to_vec(),
    };
    export
        .respond(state, &staff, move |tx, page| {
            transfer::export_batch(tx.conn, &tx.actor.tenant_id, &filter, page)
        })
        .await
}
