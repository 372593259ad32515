//! QR codes: settings, generation, images and label sheets for staff; scanning and binding
//! for whoever holds a phone; `/q/{code}`, the URL printed in the code.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use baoxiu_accounts::roles::Permission;
use baoxiu_accounts::staff::StaffRole;
use baoxiu_accounts::tenants;
use baoxiu_core::DomainError;
use baoxiu_devices::devices::{self, DeviceInput};
use baoxiu_devices::qr::{self, Caption, QrCode, QrSettings, Scanned, UrlRules};
use baoxiu_devices::render::{self, ImageFormat, Label};
use baoxiu_registration::principal::{Identity, Principal};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{
    AdminCaller, Caller, IfMatch, PrincipalCaller, StaffCaller, TENANT_HEADER, request_host,
    tenant_of_host, versioned,
};
use crate::json::{self, ApiJson};
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::renders;
use crate::routes::devices::{CreateDeviceRequest, DeviceView};
use crate::routes::shared::{BinaryFile, PageQuery, PageResponse, utc};
use crate::state::{AppState, resolve_principal};
use crate::tokens::TokenKind;

/// What the configuration says about the URLs of codes.
fn url_rules(state: &AppState) -> UrlRules {
    UrlRules {
        portal_domain: state.config.portal_domain.to_ascii_lowercase(),
        front_end_origins: state.config.cors_origins.clone(),
    }
}

/// Get the QR code settings.
///
/// How codes are made and printed (rule, URL templates, style), with their version as `ETag`; the defaults until an admin saves them.
#[utoipa::path(tag = "qr-codes", operation_id = "get_qr_settings",
    responses((status = 200, description = "The settings (defaults until saved; `enabled` false)", body = QrSettings)))]
#[get("/admin/qr-settings")]
pub async fn get_qr_settings(
    state: web::Data<AppState>,
    admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let (settings, version) = state
        .read(&admin, move |tx| {
            qr::get_settings(tx.conn, &tx.actor.tenant_id)
        })
        .await?;
    Ok(versioned(StatusCode::OK, version, settings))
}

/// Replace the QR code settings.
///
/// `enabled` switches the feature on; the rule decides code strings (prefix + sequence,
/// random token from an unambiguous alphabet, or the device serial).
#[utoipa::path(tag = "qr-codes", operation_id = "put_qr_settings", request_body = QrSettings,
    params(("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Saved", body = QrSettings),
        crate::routes::shared::answers::Stale))]
#[put("/admin/qr-settings")]
pub async fn put_qr_settings(
    state: web::Data<AppState>,
    admin: AdminCaller,
    if_match: IfMatch,
    body: ApiJson<QrSettings>,
) -> Result<HttpResponse, ApiError> {
    let settings = body.0;
    let rules = url_rules(&state);
    let (saved, version) = state
        .change(&admin, move |tx| {
            qr::put_settings(tx, settings, &rules, if_match.0)
        })
        .await?;
    Ok(versioned(StatusCode::OK, version, saved))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QrCodeResponse {
    pub code: String,
    /// The URL in the code.
    pub url: String,
    /// `null` for a blank code.
    pub device_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub bound_at: Option<DateTime<Utc>>,
}

fn code_response(code: QrCode, settings: &QrSettings, host: &str, slug: &str) -> QrCodeResponse {
    QrCodeResponse {
        url: qr::fill(&settings.url_template, host, slug, &code.code),
        code: code.code,
        device_id: code.device_id,
        created_at: utc(code.created_at),
        bound_at: code.bound_at.map(utc),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrCodeQuery {
    /// Only bound (true) or blank (false) codes.
    pub bound: Option<bool>,
}

/// List QR codes.
///
/// The tenant's QR codes, bound to devices or blank (`bound`), one page at a time.
#[utoipa::path(tag = "qr-codes", operation_id = "list_qr_codes", params(QrCodeQuery, PageQuery),
    responses((status = 200, description = "One page of codes", body = PageResponse<QrCodeResponse>)))]
#[get("/admin/qr-codes")]
pub async fn list_qr_codes(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<QrCodeQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<QrCodeResponse>>, ApiError> {
    let request = page.request()?;
    let bound = query.bound;
    let rules = url_rules(&state);
    let (page, settings, (host, slug)) = state
        .read(&staff, move |tx| {
            let page = qr::list_codes(tx.conn, &tx.actor.tenant_id, bound, &request)?;
            Ok((
                page,
                qr::get_settings(tx.conn, &tx.actor.tenant_id)?.0,
                qr::tenant_host(tx.conn, &tx.actor.tenant_id, &rules)?,
            ))
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(page, |c| {
        code_response(c, &settings, &host, &slug)
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// This many blank codes (1-500)...
    #[schema(minimum = 1, maximum = 500)]
    pub count: Option<usize>,
    /// ...or one code for each of these devices (at most 500).
    #[serde(default)]
    #[schema(max_items = 500, value_type = Vec<uuid::Uuid>)]
    pub device_ids: Vec<String>,
}

/// Generate QR codes.
///
/// For chosen devices, or a batch of blank codes to bind later. Codes are never reissued.
#[utoipa::path(tag = "qr-codes", operation_id = "generate_qr_codes", request_body = GenerateRequest,
    responses((status = 201, description = "The new codes", body = Vec<QrCodeResponse>),
        (status = 404, description = "The QR feature is off", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/qr-codes")]
pub async fn generate_qr_codes(
    state: web::Data<AppState>,
    staff: StaffCaller,
    body: ApiJson<GenerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let rules = url_rules(&state);
    let (codes, settings, (host, slug)) = state
        .change(&staff, move |tx| {
            let codes = qr::generate(tx, request.count, &request.device_ids)?;
            Ok((
                codes,
                qr::get_settings(tx.conn, &tx.actor.tenant_id)?.0,
                qr::tenant_host(tx.conn, &tx.actor.tenant_id, &rules)?,
            ))
        })
        .await?;
    let body: Vec<QrCodeResponse> = codes
        .into_iter()
        .map(|c| code_response(c, &settings, &host, &slug))
        .collect();
    Ok(HttpResponse::Created().json(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageQuery {
    /// `svg` (default, with the caption) or `png`.
    #[param(inline)]
    pub format: Option<ImageFormat>,
}

fn caption_of(
    settings: &QrSettings,
    code: &QrCode,
    device: Option<&baoxiu_devices::Device>,
) -> Option<String> {
    match settings.style.caption {
        Caption::None => None,
        Caption::Code => Some(code.code.clone()),
        Caption::DeviceName => Some(
            device
                .map(|d| d.name.clone())
                .unwrap_or_else(|| code.code.clone()),
        ),
        Caption::Serial => Some(
            device
                .and_then(|d| d.serial_no.clone())
                .unwrap_or_else(|| code.code.clone()),
        ),
    }
}

/// Get a QR code image.
///
/// Drawn off the request threads, a few at a time per server: when every slot is busy the
/// answer is 503 with `Retry-After`. A PNG is at most 2048 pixels a side (fewer pixels per
/// module than `style.module_px` when the code would be larger).
#[utoipa::path(tag = "qr-codes", operation_id = "get_qr_code_image", params(("code" = String, Path, description = "The code"), ImageQuery),
    responses((status = 200, description = "The image", content((String = "image/svg+xml"), (BinaryFile = "image/png"))),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `format`, or `url_template` makes a URL longer than 512 characters (with the tenant's host filled in)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every render slot of the server is busy: try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
#[get("/admin/qr-codes/{code}/image")]
pub async fn get_qr_code_image(
    state: web::Data<AppState>,
    staff: StaffCaller,
    code: web::Path<String>,
    query: ApiQuery<ImageQuery>,
) -> Result<HttpResponse, ApiError> {
    let slot = renders::slot(&state)?;
    let rules = url_rules(&state);
    let format = query.format.unwrap_or(ImageFormat::Svg);
    let (settings, found, device, (host, slug)) = state
        .read(&staff, move |tx| {
            let settings = qr::get_settings(tx.conn, &tx.actor.tenant_id)?.0;
            let found = qr::get_code(tx.conn, &tx.actor.tenant_id, &code)?;
            let device = qr::device_of(tx.conn, &tx.actor.tenant_id, &found)?;
            Ok((
                settings,
                found,
                device,
                qr::tenant_host(tx.conn, &tx.actor.tenant_id, &rules)?,
            ))
        })
        .await?;
    let url = qr::fill(&settings.url_template, &host, &slug, &found.code);
    Ok(match format {
        ImageFormat::Svg => {
            let caption = caption_of(&settings, &found, device.as_ref());
            let image = renders::draw(slot, move || {
                render::svg(&url, &settings.style, caption.as_deref())
            })
            .await?;
            HttpResponse::Ok().content_type("image/svg+xml").body(image)
        }
        ImageFormat::Png => {
            let image = renders::draw(slot, move || render::png(&url, &settings.style)).await?;
            HttpResponse::Ok().content_type("image/png").body(image)
        }
    })
}

/// The most codes one export may hold.
const MAX_EXPORT_CODES: usize = 1000;

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One A4 SVG sheet of labels (code and caption), `rows` × `columns`.
    #[default]
    LabelSheet,
    /// As many A4 SVG label sheets as the codes need, in a ZIP file.
    LabelSheetsZip,
    /// A ZIP file of one SVG per code, with its caption.
    SvgZip,
    /// A ZIP file of one PNG per code.
    PngZip,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The codes, in label order (at most 1000).
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<baoxiu_core::texts::CodeText>, inline)]
    pub codes: Vec<String>,
    /// Default `label_sheet`.
    pub format: Option<ExportFormat>,
    /// Labels per column of the A4 sheet (default 5).
    pub rows: Option<u32>,
    /// Labels per row of the A4 sheet (default 4).
    pub columns: Option<u32>,
}

/// Export codes as images.
///
/// A printable A4 SVG sheet of `rows` × `columns` labels (each the code and its caption), a
/// ZIP file of as many such sheets as the codes need, or a ZIP file of one SVG or PNG per
/// code, named after the code. ZIP files are streamed as they are drawn (no
/// `Content-Length`); at most 1000 codes, each image within the limits of
/// `get_qr_code_image`. Drawn a few at a time per server: when every slot is busy the
/// answer is 503 with `Retry-After`.
#[utoipa::path(tag = "qr-codes", operation_id = "export_qr_codes", request_body = ExportRequest,
    responses((status = 200, description = "The label sheet, or the ZIP file of sheets or images",
            content((String = "image/svg+xml"), (BinaryFile = "application/zip"))),
        (status = 404, description = "A code does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No codes, too many, more than fit on the sheet, or `url_template` makes a URL longer than 512 characters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every render slot of the server is busy: try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
#[post("/admin/qr-codes/export")]
pub async fn export_qr_codes(
    state: web::Data<AppState>,
    staff: StaffCaller,
    body: ApiJson<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    if request.codes.is_empty() || request.codes.len() > MAX_EXPORT_CODES {
        return Err(DomainError::invalid(
            "codes",
            "out_of_range",
            format!("give 1 to {MAX_EXPORT_CODES} codes"),
        )
        .into());
    }
    let mut shapes = baoxiu_core::Validator::new();
    for (i, code) in request.codes.iter().enumerate() {
        shapes.check(
            baoxiu_core::texts::is_code(code),
            &format!("codes.{i}"),
            "invalid",
            "a code is 1-64 letters and digits",
        );
    }
    shapes.finish()?;
    let format = request.format.unwrap_or_default();
    let (rows, columns) = (request.rows.unwrap_or(5), request.columns.unwrap_or(4));
    if matches!(format, ExportFormat::LabelSheet) {
        render::check_sheet(request.codes.len(), rows, columns)?;
    }
    let slot = renders::slot(&state)?;
    let rules = url_rules(&state);
    // What the labels say, read in one short transaction; nothing is drawn in it.
    let (style, labels) = state
        .read(&staff, move |tx| {
            let settings = qr::get_settings(tx.conn, &tx.actor.tenant_id)?.0;
            let (host, slug) = qr::tenant_host(tx.conn, &tx.actor.tenant_id, &rules)?;
            let codes = qr::get_codes(tx.conn, &tx.actor.tenant_id, &request.codes)?;
            let devices = qr::devices_of(tx.conn, &tx.actor.tenant_id, &codes)?;
            let labels: Vec<(String, Label)> = codes
                .into_iter()
                .map(|found| {
                    let device = found.device_id.as_ref().and_then(|id| devices.get(id));
                    let label = Label {
                        text: qr::fill(&settings.url_template, &host, &slug, &found.code),
                        caption: caption_of(&settings, &found, device),
                    };
                    (found.code, label)
                })
                .collect();
            Ok((settings.style, labels))
        })
        .await?;
    for (_, label) in &labels {
        render::check_url(&label.text)?;
    }
    let (content_type, name) = match format {
        ExportFormat::LabelSheet => ("image/svg+xml", "qr-labels.svg"),
        ExportFormat::LabelSheetsZip => ("application/zip", "qr-labels.zip"),
        ExportFormat::SvgZip => ("application/zip", "qr-codes-svg.zip"),
        ExportFormat::PngZip => ("application/zip", "qr-codes-png.zip"),
    };
    let mut response = HttpResponse::Ok();
    response.content_type(content_type).insert_header((
        "Content-Disposition",
        format!("attachment; filename=\"{name}\""),
    ));
    let labels_only = |labels: Vec<(String, Label)>| -> Vec<Label> {
        labels.into_iter().map(|(_, label)| label).collect()
    };
    Ok(match format {
        // One sheet holds at most 200 labels: drawn whole.
        ExportFormat::LabelSheet => {
            let sheet = renders::draw(slot, move || {
                render::label_sheet(&labels_only(labels), &style, rows, columns)
            })
            .await?;
            response.body(sheet)
        }
        ExportFormat::LabelSheetsZip => response.streaming(renders::stream(slot, move |out| {
            render::write_label_sheets_zip(&labels_only(labels), &style, rows, columns, out)
        })),
        ExportFormat::SvgZip => response.streaming(renders::stream(slot, move |out| {
            render::write_images_zip(&labels, &style, ImageFormat::Svg, out)
        })),
        ExportFormat::PngZip => response.streaming(renders::stream(slot, move |out| {
            render::write_images_zip(&labels, &style, ImageFormat::Png, out)
        })),
    })
}

/// What a scanned code is (the document's enum; answered as text).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ScanKind {
    Device,
    Blank,
}

/// What a caller may do with a scanned device (the document's enum; answered as text).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ScanAction {
    ReportFault,
    ViewHistory,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanResponse {
    pub code: String,
    /// `device` or `blank`.
    #[schema(value_type = ScanKind)]
    pub kind: String,
    /// The device as the caller sees it: staff the whole device, terminal users the
    /// customer view.
    pub device: Option<DeviceView>,
    /// What the caller can do with the device: `report_fault`, `view_history`.
    #[schema(value_type = Vec<ScanAction>)]
    pub actions: Vec<String>,
    /// For a blank code: whether the caller may bind it to a device.
    pub may_bind: bool,
}

/// What the caller may do: (may report a fault, may view history, may bind blank codes).
fn abilities(principal: &Principal) -> (bool, bool, bool) {
    match &principal.identity {
        Identity::Staff(staff) => {
            let binds = matches!(staff.role, StaffRole::Admin | StaffRole::Engineer);
            (false, true, binds)
        }
        Identity::Terminal { access, .. } => {
            let has = |p| access.permissions.contains(&p);
            (
                access.may_submit,
                has(Permission::ViewOwnWorkOrders) || has(Permission::ViewEnterpriseWorkOrders),
                has(Permission::RegisterBlankCode),
            )
        }
    }
}

/// Resolve a scanned code.
///
/// A bound code answers its device and what the caller may do with it (a device the
/// caller may not see answers 404); a blank code answers whether the caller may bind it.
#[utoipa::path(tag = "qr-codes", operation_id = "scan_qr_code", params(("code" = String, Path, description = "The code")),
    responses((status = 200, description = "What the code is", body = ScanResponse),
        (status = 404, description = "No such code, a device the caller may not see, or the QR feature is off", body = Problem, content_type = "application/problem+json")))]
#[get("/scan/{code}")]
pub async fn scan_qr_code(
    state: web::Data<AppState>,
    caller: PrincipalCaller,
    code: web::Path<String>,
) -> Result<web::Json<ScanResponse>, ApiError> {
    let response = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let viewer = principal.viewer()?;
            let scanned = qr::scan(tx.conn, &principal.tenant_id(), &code, &viewer)?;
            let (report, history, bind) = abilities(principal);
            Ok(match scanned {
                Scanned::Device(device) => {
                    let mut actions = Vec::new();
                    if report {
                        actions.push("report_fault".to_owned());
                    }
                    if history {
                        actions.push("view_history".to_owned());
                    }
                    ScanResponse {
                        code: code.trim().to_owned(),
                        kind: "device".into(),
                        device: Some(DeviceView::new(*device, &viewer)),
                        actions,
                        may_bind: false,
                    }
                }
                Scanned::Blank => ScanResponse {
                    code: code.trim().to_owned(),
                    kind: "blank".into(),
                    device: None,
                    actions: Vec::new(),
                    may_bind: bind,
                },
            })
        })
        .await?;
    Ok(web::Json(response))
}

/// Staff binding a code: an existing device, or a new one with every field of
/// `create_device`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffBindRequest {
    /// An existing device...
    #[schema(format = Uuid)]
    pub device_id: Option<String>,
    /// ...or a new one.
    pub device: Option<CreateDeviceRequest>,
}

/// What a terminal user may say about a machine they stick a code on. Its owner (the
/// user's account), serial number, warranty, status and visibility are staff's to set:
/// naming any of them answers 422 (`unknown_field`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerDeviceRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub brand: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub category: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub model: String,
    /// 机器编号.
    #[schema(max_length = 64)]
    pub machine_no: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub install_address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl CustomerDeviceRequest {
    /// The device to create: in `account_id`'s account, private, with staff's defaults
    /// for everything the customer may not say.
    fn into_input(self, account_id: Option<String>) -> DeviceInput {
        DeviceInput {
            account_id,
            name: self.name,
            brand: self.brand,
            category: self.category,
            model: self.model,
            machine_no: self.machine_no,
            install_address: self.install_address,
            latitude: self.latitude,
            longitude: self.longitude,
            ..DeviceInput::default()
        }
    }
}

/// A terminal user binding a code: an existing device they may see, or a new one of
/// their account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBindRequest {
    /// An existing device...
    #[schema(format = Uuid)]
    pub device_id: Option<String>,
    /// ...or a new one, which joins the user's account.
    pub device: Option<CustomerDeviceRequest>,
}

/// The body of `bind_qr_code`: staff send a `StaffBindRequest`, terminal users a
/// `CustomerBindRequest`; which one is read is decided by the token, not the body.
pub struct BindRequest;

impl utoipa::PartialSchema for BindRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(
                StaffBindRequest::name(),
            ))
            .item(utoipa::openapi::Ref::from_schema_name(
                CustomerBindRequest::name(),
            ))
            .description(Some(
                "`StaffBindRequest` from staff, `CustomerBindRequest` from terminal users \
                 (decided by the token)",
            ))
            .into()
    }
}

impl ToSchema for BindRequest {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((
            StaffBindRequest::name().into_owned(),
            StaffBindRequest::schema(),
        ));
        StaffBindRequest::schemas(schemas);
        schemas.push((
            CustomerBindRequest::name().into_owned(),
            CustomerBindRequest::schema(),
        ));
        CustomerBindRequest::schemas(schemas);
    }
}

/// Bind a blank code to a device.
///
/// Needs `register_blank_code`: staff admins and engineers have it; terminal roles may be
/// given it. Staff may create the device with every field (`StaffBindRequest`); a
/// terminal user says only what a customer may say about a machine
/// (`CustomerBindRequest`), and the new device joins their account, private.
#[utoipa::path(tag = "qr-codes", operation_id = "bind_qr_code", request_body = BindRequest, params(("code" = String, Path, description = "The code")),
    responses((status = 200, description = "Bound: the device, as the caller sees it", body = DeviceView),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is bound already", body = Problem, content_type = "application/problem+json")))]
#[post("/scan/{code}/bind")]
pub async fn bind_qr_code(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: ApiJson<serde_json::Value>,
) -> Result<web::Json<DeviceView>, ApiError> {
    // Each audience's own request type: a terminal user naming a staff-only field gets 422.
    let (device_id, new_device) = if caller.kind == TokenKind::Staff {
        let request: StaffBindRequest = json::from_value(body.0)?;
        (request.device_id, request.device.map(NewDevice::Staff))
    } else {
        let request: CustomerBindRequest = json::from_value(body.0)?;
        (request.device_id, request.device.map(NewDevice::Customer))
    };
    let device = state
        .change(&caller.clone(), move |tx| {
            let principal = resolve_principal(tx.conn, &caller)?;
            let (_, _, may_bind) = abilities(&principal);
            if !may_bind {
                return Err(DomainError::Forbidden(
                    "binding blank codes needs the register_blank_code permission",
                ));
            }
            let viewer = principal.viewer()?;
            let device_id = match (device_id, new_device) {
                (Some(id), None) => id,
                (None, Some(new)) => {
                    let input = match new {
                        NewDevice::Staff(new) => DeviceInput::from(new),
                        NewDevice::Customer(new) => new.into_input(
                            principal
                                .terminal()
                                .and_then(|(user, _)| user.account_id.clone()),
                        ),
                    };
                    devices::create(tx, input)?.id
                }
                _ => {
                    return Err(DomainError::invalid(
                        "device_id",
                        "one_of",
                        "give device_id or device, not both or neither",
                    ));
                }
            };
            let device = qr::bind(tx, &code, &device_id, &viewer)?;
            Ok(DeviceView::new(device, &viewer))
        })
        .await?;
    Ok(web::Json(device))
}

/// A device made in the bind call, as its caller's audience may describe it.
enum NewDevice {
    Staff(CreateDeviceRequest),
    Customer(CustomerDeviceRequest),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QQuery {
    /// The tenant's slug, used only when the host names no tenant.
    #[param(max_length = 32)]
    pub t: Option<String>,
}

/// Open a scanned code.
///
/// The URL printed in every code: redirects (302) to the tenant's landing page for it, so
/// any phone camera and WeChat's "scan ordinary URL" rule open the portal. The tenant is
/// the host's (an approved domain, or its sub-domain of the portal domain); `?t=` or
/// `X-Tenant` name it only when the host names none. The landing page is on the tenant's
/// own hosts or a front-end origin the server is configured with (`cors_origins`); a
/// landing template saved otherwise sends the scan to `https://{host}/h5/#/scan/{code}`.
#[utoipa::path(tag = "qr-codes", operation_id = "open_qr_code", params(("code" = String, Path, description = "The code"), QQuery,
        ("X-Tenant" = Option<String>, Header, description = "The tenant's slug, used only when the host names no tenant", example = "demo")),
    responses((status = 302, description = "To the landing page", headers(("Location" = String, description = "The landing page"))),
        (status = 404, description = "No such code, or the QR feature is off", body = Problem, content_type = "application/problem+json")),
    security(()))]
#[get("/q/{code}")]
pub async fn open_qr_code(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    code: web::Path<String>,
    query: ApiQuery<QQuery>,
) -> Result<HttpResponse, ApiError> {
    let host = request_host(&req);
    let named = query
        .t
        .clone()
        .or_else(|| {
            req.headers()
                .get(TENANT_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .map(|slug| slug.trim().to_ascii_lowercase())
        .filter(|slug| !slug.is_empty());
    let rules = url_rules(&state);
    let location = state
        .read(&crate::state::Nobody, move |tx| {
            let conn = &mut *tx.conn;
            // A link on one tenant's host never opens another tenant's code.
            let tenant_id = match tenant_of_host(conn, &host, &rules.portal_domain)? {
                Some(tenant_id) => tenant_id,
                None => {
                    let slug = named.ok_or(DomainError::TenantRequired)?;
                    tenants::find_by_slug(conn, &slug)?
                        .map(|t| t.tenant_id())
                        .ok_or(DomainError::NotFound("tenant"))?
                }
            };
            qr::landing(conn, &tenant_id, &code, &rules)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::FOUND)
        .insert_header(("Location", location))
        .finish())
}
