//! Work-order form templates: the tenant's presets and its own, which one is the default.

use actix_web::{HttpResponse, get, patch, post, web};
use baoxiu_forms::{Field, FieldKind, Limits};
use baoxiu_workorders::templates::{self, NewTemplate, Preset, Template, TemplateChanges};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{AdminCaller, IfMatch, versioned};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

/// What a field takes. `attachments` (photos) is the standard `photos` field's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKindDto {
    Text,
    Textarea,
    Number,
    Select,
    Multiselect,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    DateTime,
    Phone,
    /// A mainland China mobile number.
    Mobile,
    /// Photo attachment ids.
    Attachments,
}

impl From<FieldKindDto> for FieldKind {
    fn from(kind: FieldKindDto) -> Self {
        match kind {
            FieldKindDto::Text => Self::Text,
            FieldKindDto::Textarea => Self::Textarea,
            FieldKindDto::Number => Self::Number,
            FieldKindDto::Select => Self::Select,
            FieldKindDto::Multiselect => Self::Multiselect,
            FieldKindDto::Date => Self::Date,
            FieldKindDto::DateTime => Self::DateTime,
            FieldKindDto::Phone => Self::Phone,
            FieldKindDto::Mobile => Self::Mobile,
            FieldKindDto::Attachments => Self::Attachments,
        }
    }
}

impl FieldKindDto {
    pub fn of(kind: FieldKind) -> Self {
        match kind {
            FieldKind::Text | FieldKind::Free => Self::Text,
            FieldKind::Textarea => Self::Textarea,
            FieldKind::Number => Self::Number,
            FieldKind::Select => Self::Select,
            FieldKind::Multiselect => Self::Multiselect,
            FieldKind::Date => Self::Date,
            FieldKind::DateTime => Self::DateTime,
            FieldKind::Phone => Self::Phone,
            FieldKind::Mobile => Self::Mobile,
            FieldKind::Attachments => Self::Attachments,
        }
    }
}

/// `minimal`, `simple`, `complex`, `special`: the preset a template came from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresetDto {
    Minimal,
    Simple,
    Complex,
    Special,
}

impl From<Preset> for PresetDto {
    fn from(preset: Preset) -> Self {
        match preset {
            Preset::Minimal => Self::Minimal,
            Preset::Simple => Self::Simple,
            Preset::Complex => Self::Complex,
            Preset::Special => Self::Special,
        }
    }
}

/// One field of a template as sent. The standard fields (`fault_description`,
/// `service_type`, `warranty_status`, `appointment_at`, `notes`, `contact_name`,
/// `contact_phone`, `location`, `photos`) keep their kind and have no options or limits;
/// any other key is a custom field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormFieldDefinition {
    #[schema(pattern = "^[a-z0-9_]{1,32}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 32)]
    pub label: String,
    pub kind: FieldKindDto,
    #[serde(default)]
    pub required: bool,
    /// Hidden fields are not asked (and cannot be required). Default true.
    #[serde(default = "shown")]
    pub visible: bool,
    /// Select and multiselect only: 1-50 distinct choices.
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<baoxiu_core::texts::OptionText>, inline)]
    pub options: Vec<String>,
    /// Text and textarea only: the most characters (default 200, textarea 2000).
    #[schema(minimum = 1, maximum = 10000)]
    pub max_length: Option<u32>,
    /// Number only.
    pub min: Option<f64>,
    /// Number only; not below `min`.
    pub max: Option<f64>,
}

fn shown() -> bool {
    true
}

impl From<FormFieldDefinition> for Field {
    fn from(f: FormFieldDefinition) -> Self {
        Self {
            key: f.key,
            label: f.label,
            kind: f.kind.into(),
            required: f.required,
            visible: f.visible,
            options: f.options,
            limits: Limits {
                max_length: f.max_length,
                min: f.min,
                max: f.max,
            },
        }
    }
}

/// One field of a template.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormFieldResponse {
    pub key: String,
    pub label: String,
    pub kind: FieldKindDto,
    pub required: bool,
    pub visible: bool,
    /// One of the work order's own fields (else a custom field, kept as JSON).
    pub standard: bool,
    pub options: Vec<String>,
    pub max_length: Option<u32>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormTemplateResponse {
    pub id: String,
    pub name: String,
    /// The preset it came from; `null` for the tenant's own.
    pub preset: Option<PresetDto>,
    /// Exactly one template of a tenant is the default.
    pub is_default: bool,
    /// In the order the form shows them.
    pub fields: Vec<FormFieldResponse>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for FormTemplateResponse {
    fn from(t: Template) -> Self {
        Self {
            fields: t
                .fields
                .into_iter()
                .map(|f| FormFieldResponse {
                    standard: Template::is_standard(&f.key),
                    kind: FieldKindDto::of(f.kind),
                    key: f.key,
                    label: f.label,
                    required: f.required,
                    visible: f.visible,
                    options: f.options,
                    max_length: f.limits.max_length,
                    min: f.limits.min,
                    max: f.limits.max,
                })
                .collect(),
            id: t.id,
            name: t.name,
            preset: t.preset.map(Into::into),
            is_default: t.is_default,
            version: t.version,
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        }
    }
}

fn answer(status: actix_web::http::StatusCode, template: Template) -> HttpResponse {
    versioned(
        status,
        template.version,
        FormTemplateResponse::from(template),
    )
}

/// List form templates.
///
/// The tenant's work-order form templates, oldest first: the four presets every tenant
/// starts with, then its own. One of them is the default.
#[utoipa::path(tag = "form-templates", operation_id = "list_form_templates", params(PageQuery),
    responses((status = 200, description = "One page of templates, oldest first", body = PageResponse<FormTemplateResponse>)))]
#[get("/admin/form-templates")]
pub async fn list_form_templates(
    state: web::Data<AppState>,
    admin: AdminCaller,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<FormTemplateResponse>>, ApiError> {
    let request = page.request()?;
    let page = state
        .read(&admin, move |tx| {
            templates::list(tx.conn, &tx.actor.tenant_id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFormTemplateRequest {
    /// Unique within the tenant.
    #[schema(min_length = 1, max_length = 32)]
    pub name: String,
    /// Must include `fault_description` (shown and required).
    #[schema(min_items = 1, max_items = 60)]
    pub fields: Vec<FormFieldDefinition>,
    /// Make it the default at once. Default false.
    #[serde(default)]
    pub is_default: bool,
}

/// Create a form template.
///
/// A template of the tenant's own: standard fields shown, hidden, relabelled, ordered and
/// required as it likes, and custom fields. 422 names every bad part of every field at
/// once. Answers the template with its version as `ETag`.
#[utoipa::path(tag = "form-templates", operation_id = "create_form_template", request_body = CreateFormTemplateRequest,
    responses((status = 201, description = "Created", body = FormTemplateResponse, headers(("ETag" = String, description = "Version")))))]
#[post("/admin/form-templates")]
pub async fn create_form_template(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<CreateFormTemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let input = NewTemplate {
        name: request.name,
        fields: request.fields.into_iter().map(Into::into).collect(),
        is_default: request.is_default,
    };
    // Under the tenant lock: making it the default unsets the former default.
    let template = state
        .change_locked(&admin, move |tx| templates::create(tx, input))
        .await?;
    Ok(answer(actix_web::http::StatusCode::CREATED, template))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFormTemplateRequest {
    #[schema(min_length = 1, max_length = 32)]
    pub name: Option<String>,
    /// The whole list, replacing the former one.
    #[schema(min_items = 1, max_items = 60)]
    pub fields: Option<Vec<FormFieldDefinition>>,
    /// `true` makes it the default (the former default stops being it); `false` on the
    /// default answers 422: make another one the default instead.
    pub is_default: Option<bool>,
}

/// Change a form template.
///
/// Changes only what is sent; `If-Match` makes the change conditional (412 when stale).
/// `is_default: true` makes it the tenant's default.
#[utoipa::path(tag = "form-templates", operation_id = "update_form_template", request_body = UpdateFormTemplateRequest,
    params(("id" = String, Path, description = "Template id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = FormTemplateResponse, headers(("ETag" = String, description = "Version"))),
        (status = 404, description = "No such template", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed by another request since it was read (without If-Match)", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/form-templates/{id}")]
pub async fn update_form_template(
    state: web::Data<AppState>,
    admin: AdminCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateFormTemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let changes = TemplateChanges {
        name: request.name,
        fields: request
            .fields
            .map(|fields| fields.into_iter().map(Into::into).collect()),
        is_default: request.is_default,
    };
    let template = state
        .change_locked(&admin, move |tx| {
            templates::update(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(answer(actix_web::http::StatusCode::OK, template))
}
