//! QR codes: settings, generation, images and label sheets for staff; scanning and binding
//! for whoever holds a phone; `/q/{code}`, the URL printed in the code.

use actix_web::http::StatusCode;
use actix_web::http::header::ETag;
use actix_web::{HttpResponse, get, post, put, web};
use baoxiu_accounts::roles::Permission;
use baoxiu_accounts::staff::StaffRole;
use baoxiu_accounts::{domains, tenants, terminal_users};
use baoxiu_core::{DomainError, DomainResult, TenantId};
use baoxiu_devices::devices::{self, DeviceInput};
use baoxiu_devices::qr::{self, Caption, QrCode, QrSettings, Scanned};
use baoxiu_devices::render::{self, ImageFormat, Label};
use baoxiu_registration::access;
use baoxiu_store::DbConn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::{BinaryFile, PageQuery, PageResponse, utc};
use crate::extract::{AdminCaller, Caller, IfMatch, StaffCaller, TenantScope, etag};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::devices::{CreateDeviceRequest, DeviceResponse, viewer_of};
use crate::state::AppState;
use crate::tokens::TokenKind;

/// Where a tenant's codes point: its approved host, else its portal sub-domain.
fn host_and_slug(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    portal_domain: &str,
) -> DomainResult<(String, String)> {
    let slug = tenants::get(conn, tenant_id)?.slug;
    let host = domains::primary_host(conn, tenant_id)?
        .unwrap_or_else(|| format!("{slug}.{portal_domain}"));
    Ok((host, slug))
}

/// Get the QR code settings.
#[utoipa::path(tag = "qr-codes", operation_id = "get_qr_settings",
    responses((status = 200, description = "The settings (defaults until saved; `enabled` false)", body = QrSettings)))]
#[get("/admin/qr-settings")]
pub async fn get_qr_settings(
    state: web::Data<AppState>,
    admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = admin.0.tenant_id().clone();
    let (settings, version) = state
        .read(move |conn| qr::get_settings(conn, &tenant_id))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(ETag(etag(version)))
        .json(settings))
}

/// Replace the QR code settings.
///
/// `enabled` switches the feature on; the rule decides code strings (prefix + sequence,
/// random token from an unambiguous alphabet, or the device serial).
#[utoipa::path(tag = "qr-codes", operation_id = "put_qr_settings", request_body = QrSettings,
    params(("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Saved", body = QrSettings),
        (status = 412, description = "Changed since it was read", body = Problem, content_type = "application/problem+json")))]
#[put("/admin/qr-settings")]
pub async fn put_qr_settings(
    state: web::Data<AppState>,
    admin: AdminCaller,
    if_match: IfMatch,
    body: ApiJson<QrSettings>,
) -> Result<HttpResponse, ApiError> {
    let settings = body.0;
    let actor = admin.0.actor();
    let now = state.now();
    let (saved, version) = state
        .write_in_tenant(admin.0.tenant_id(), move |conn| {
            qr::put_settings(conn, &actor, settings, if_match.0, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(ETag(etag(version)))
        .json(saved))
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
#[utoipa::path(tag = "qr-codes", operation_id = "list_qr_codes", params(QrCodeQuery, PageQuery),
    responses((status = 200, description = "One page of codes", body = PageResponse<QrCodeResponse>)))]
#[get("/admin/qr-codes")]
pub async fn list_qr_codes(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: web::Query<QrCodeQuery>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<QrCodeResponse>>, ApiError> {
    let request = page.request()?;
    let bound = query.bound;
    let tenant_id = staff.tenant_id().clone();
    let portal = state.config.portal_domain.clone();
    let (page, settings, (host, slug)) = state
        .read(move |conn| {
            let page = qr::list_codes(conn, &tenant_id, bound, &request)?;
            Ok((
                page,
                qr::get_settings(conn, &tenant_id)?.0,
                host_and_slug(conn, &tenant_id, &portal)?,
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
    #[schema(max_items = 500)]
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
    let actor = staff.actor();
    let now = state.now();
    let portal = state.config.portal_domain.clone();
    let (codes, settings, (host, slug)) = state
        .write_in_tenant(staff.tenant_id(), move |conn| {
            let codes = qr::generate(conn, &actor, request.count, &request.device_ids, now)?;
            Ok((
                codes,
                qr::get_settings(conn, &actor.tenant_id)?.0,
                host_and_slug(conn, &actor.tenant_id, &portal)?,
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
    #[param(value_type = Option<String>)]
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
#[utoipa::path(tag = "qr-codes", operation_id = "get_qr_code_image", params(("code" = String, Path, description = "The code"), ImageQuery),
    responses((status = 200, description = "The image", content((String = "image/svg+xml"), (BinaryFile = "image/png"))),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/qr-codes/{code}/image")]
pub async fn get_qr_code_image(
    state: web::Data<AppState>,
    staff: StaffCaller,
    code: web::Path<String>,
    query: web::Query<ImageQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = staff.tenant_id().clone();
    let portal = state.config.portal_domain.clone();
    let format = query.format.unwrap_or(ImageFormat::Svg);
    let (settings, found, device, (host, slug)) = state
        .read(move |conn| {
            let settings = qr::get_settings(conn, &tenant_id)?.0;
            let found = qr::get_code(conn, &tenant_id, &code)?;
            let device = qr::device_of(conn, &tenant_id, &found)?;
            Ok((
                settings,
                found,
                device,
                host_and_slug(conn, &tenant_id, &portal)?,
            ))
        })
        .await?;
    let url = qr::fill(&settings.url_template, &host, &slug, &found.code);
    Ok(match format {
        ImageFormat::Svg => {
            let caption = caption_of(&settings, &found, device.as_ref());
            HttpResponse::Ok()
                .content_type("image/svg+xml")
                .body(render::svg(&url, &settings.style, caption.as_deref())?)
        }
        ImageFormat::Png => HttpResponse::Ok()
            .content_type("image/png")
            .body(render::png(&url, &settings.style)?),
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
    #[schema(min_items = 1, max_items = 1000)]
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
/// code, named after the code.
#[utoipa::path(tag = "qr-codes", operation_id = "export_qr_codes", request_body = ExportRequest,
    responses((status = 200, description = "The label sheet, or the ZIP file of sheets or images",
            content((String = "image/svg+xml"), (BinaryFile = "application/zip"))),
        (status = 404, description = "A code does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No codes, too many, or more than fit on the sheet", body = Problem, content_type = "application/problem+json")))]
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
    let tenant_id = staff.tenant_id().clone();
    let portal = state.config.portal_domain.clone();
    let format = request.format.unwrap_or_default();
    let (rows, columns) = (request.rows.unwrap_or(5), request.columns.unwrap_or(4));
    let file = state
        .read(move |conn| {
            let settings = qr::get_settings(conn, &tenant_id)?.0;
            let (host, slug) = host_and_slug(conn, &tenant_id, &portal)?;
            let mut labels = Vec::new();
            for code in &request.codes {
                let found = qr::get_code(conn, &tenant_id, code)?;
                let device = qr::device_of(conn, &tenant_id, &found)?;
                let label = Label {
                    text: qr::fill(&settings.url_template, &host, &slug, &found.code),
                    caption: caption_of(&settings, &found, device.as_ref()),
                };
                labels.push((found.code, label));
            }
            match format {
                ExportFormat::LabelSheet => {
                    let labels: Vec<Label> = labels.into_iter().map(|(_, l)| l).collect();
                    render::label_sheet(&labels, &settings.style, rows, columns)
                        .map(String::into_bytes)
                }
                ExportFormat::LabelSheetsZip => {
                    let labels: Vec<Label> = labels.into_iter().map(|(_, l)| l).collect();
                    render::label_sheets_zip(&labels, &settings.style, rows, columns)
                }
                ExportFormat::SvgZip => {
                    render::images_zip(&labels, &settings.style, ImageFormat::Svg)
                }
                ExportFormat::PngZip => {
                    render::images_zip(&labels, &settings.style, ImageFormat::Png)
                }
            }
        })
        .await?;
    let (content_type, name) = match format {
        ExportFormat::LabelSheet => ("image/svg+xml", "qr-labels.svg"),
        ExportFormat::LabelSheetsZip => ("application/zip", "qr-labels.zip"),
        ExportFormat::SvgZip => ("application/zip", "qr-codes-svg.zip"),
        ExportFormat::PngZip => ("application/zip", "qr-codes-png.zip"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(file))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanResponse {
    pub code: String,
    /// `device` or `blank`.
    pub kind: String,
    pub device: Option<DeviceResponse>,
    /// What the caller can do with the device: `report_fault`, `view_history`.
    pub actions: Vec<String>,
    /// For a blank code: whether the caller may bind it to a device.
    pub may_bind: bool,
}

/// What the caller may do: (may report a fault, may view history, may bind blank codes).
fn abilities(conn: &mut DbConn, caller: &Caller) -> DomainResult<(bool, bool, bool)> {
    match caller.kind {
        TokenKind::Staff => {
            let binds = matches!(
                caller.staff_role(),
                Some(StaffRole::Admin | StaffRole::Engineer)
            );
            Ok((false, true, binds))
        }
        _ => {
            let user = terminal_users::get(conn, &caller.tenant_id, &caller.subject)?;
            let access = access::access(conn, &caller.tenant_id, &user)?;
            let has = |p| access.permissions.contains(&p);
            Ok((
                access.may_submit,
                has(Permission::ViewOwnWorkOrders) || has(Permission::ViewEnterpriseWorkOrders),
                has(Permission::RegisterBlankCode),
            ))
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
    caller: Caller,
    code: web::Path<String>,
) -> Result<web::Json<ScanResponse>, ApiError> {
    let response = state
        .read(move |conn| {
            let viewer = viewer_of(conn, &caller)?;
            let scanned = qr::scan(conn, &caller.tenant_id, &code, &viewer)?;
            let (report, history, bind) = abilities(conn, &caller)?;
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
                        device: Some((*device).into()),
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// An existing device...
    pub device_id: Option<String>,
    /// ...or a new one (a terminal user's new device joins their account).
    pub device: Option<CreateDeviceRequest>,
}

/// Bind a blank code to a device.
///
/// Needs `register_blank_code`: staff admins and engineers have it; terminal roles may be
/// given it.
#[utoipa::path(tag = "qr-codes", operation_id = "bind_qr_code", request_body = BindRequest, params(("code" = String, Path, description = "The code")),
    responses((status = 200, description = "Bound: the device", body = DeviceResponse),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is bound already", body = Problem, content_type = "application/problem+json")))]
#[post("/scan/{code}/bind")]
pub async fn bind_qr_code(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: ApiJson<BindRequest>,
) -> Result<web::Json<DeviceResponse>, ApiError> {
    let request = body.0;
    let now = state.now();
    let tenant_id = caller.tenant_id.clone();
    let device = state
        .write_in_tenant(&tenant_id, move |conn| {
            let (_, _, may_bind) = abilities(conn, &caller)?;
            if !may_bind {
                return Err(DomainError::Forbidden(
                    "binding blank codes needs the register_blank_code permission",
                ));
            }
            let viewer = viewer_of(conn, &caller)?;
            let actor = caller.actor();
            let device_id = match (request.device_id, request.device) {
                (Some(id), None) => id,
                (None, Some(new)) => {
                    let mut input = DeviceInput::from(new);
                    if caller.kind != TokenKind::Staff {
                        input.account_id =
                            terminal_users::get(conn, &caller.tenant_id, &caller.subject)?
                                .account_id;
                    }
                    devices::create(conn, &actor, input, now)?.id
                }
                _ => {
                    return Err(DomainError::invalid(
                        "device_id",
                        "one_of",
                        "give device_id or device, not both or neither",
                    ));
                }
            };
            qr::bind(conn, &actor, &code, &device_id, &viewer, now)
        })
        .await?;
    Ok(web::Json(device.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QQuery {
    /// The tenant's slug, when the host does not name it.
    pub t: Option<String>,
}

/// Open a scanned code.
///
/// The URL printed in every code: redirects (302) to the tenant's landing page for it, so
/// any phone camera and WeChat's "scan ordinary URL" rule open the portal.
#[utoipa::path(tag = "qr-codes", operation_id = "open_qr_code", params(("code" = String, Path, description = "The code"), QQuery,
        ("X-Tenant" = Option<String>, Header, description = "The tenant's slug, when the host does not name it", example = "demo")),
    responses((status = 302, description = "To the landing page", headers(("Location" = String, description = "The landing page"))),
        (status = 404, description = "No such code, or the QR feature is off", body = Problem, content_type = "application/problem+json")),
    security(()))]
#[get("/q/{code}")]
pub async fn open_qr_code(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    code: web::Path<String>,
    query: web::Query<QQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant_id = match &query.t {
        Some(slug) => {
            let slug = slug.trim().to_ascii_lowercase();
            state
                .read(move |conn| {
                    tenants::find_by_slug(conn, &slug)?
                        .map(|t| t.tenant_id())
                        .ok_or(DomainError::NotFound("tenant"))
                })
                .await?
        }
        None => {
            use actix_web::FromRequest;
            TenantScope::extract(&req).await?.tenant_id
        }
    };
    let portal = state.config.portal_domain.clone();
    let location = state
        .read(move |conn| {
            let settings = qr::enabled_settings(conn, &tenant_id)?;
            let found = qr::get_code(conn, &tenant_id, code.trim())?;
            let (host, slug) = host_and_slug(conn, &tenant_id, &portal)?;
            Ok(qr::fill(
                &settings.landing_url_template,
                &host,
                &slug,
                &found.code,
            ))
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::FOUND)
        .insert_header(("Location", location))
        .finish())
}
