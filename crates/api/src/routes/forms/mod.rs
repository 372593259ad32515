//! The forms a customer fills in: `GET /forms/work-order`, the repair form of the form
//! template that applies (the tenant's default), as the terminal shows it.

use actix_web::{get, web};
use baoxiu_forms::Field;
use baoxiu_workorders::attachments::MAX_PER_WORK_ORDER;
use baoxiu_workorders::templates::{self, Template};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::TerminalCaller;
use crate::problem::{ApiError, Problem};
use crate::routes::form_templates::FieldKindDto;
use crate::state::AppState;

/// One field the repair form asks.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderFormField {
    /// Where the value goes: a standard field is the submission's own property of this
    /// name (`location` is `address` with `latitude`/`longitude`, `photos` is
    /// `attachment_ids`); a custom field is `custom_fields.{key}`.
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 32)]
    pub label: String,
    /// What it takes: a custom field's value is a text (`text`, `textarea`, `phone`,
    /// `mobile`, `select`, `date` as `YYYY-MM-DD`, `date_time` as RFC 3339), a number
    /// (`number`) or a list of texts (`multiselect`).
    pub kind: FieldKindDto,
    /// A submission without it answers 422 naming it.
    pub required: bool,
    /// One of the work order's own fields; else a custom field (`custom_fields.{key}`).
    pub standard: bool,
    /// `select` and `multiselect`: the only values taken, in the order shown.
    #[schema(max_items = 50)]
    pub options: Vec<String>,
    /// `text` and `textarea`: the most characters.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_length: Option<u32>,
    /// `number`: the least value.
    pub min: Option<f64>,
    /// `number`: the greatest value.
    pub max: Option<f64>,
}

impl From<Field> for WorkOrderFormField {
    fn from(f: Field) -> Self {
        Self {
            standard: Template::is_standard(&f.key),
            kind: FieldKindDto::of(f.kind),
            key: f.key,
            label: f.label,
            required: f.required,
            options: f.options,
            max_length: f.limits.max_length,
            min: f.limits.min,
            max: f.limits.max,
        }
    }
}

/// The repair form that applies: what to ask, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderFormResponse {
    /// The form template it comes from.
    pub template_id: String,
    pub name: String,
    /// Moves on whenever staff change the template.
    #[schema(minimum = 1)]
    pub version: i32,
    /// The fields shown, in the order the form shows them (hidden ones are left out: a
    /// value for them is refused).
    pub fields: Vec<WorkOrderFormField>,
    /// The most photos one order takes.
    #[schema(minimum = 9, maximum = 9)]
    pub max_photos: usize,
}

impl From<Template> for WorkOrderFormResponse {
    fn from(t: Template) -> Self {
        Self {
            template_id: t.id,
            name: t.name,
            version: t.version,
            fields: t
                .fields
                .into_iter()
                .filter(|f| f.visible)
                .map(WorkOrderFormField::from)
                .collect(),
            max_photos: MAX_PER_WORK_ORDER,
        }
    }
}

/// Get the repair form.
///
/// The form template that applies to a work order submitted now (the provider's default): the fields shown, in order, each with its kind, label, whether it is required and, for choices, its options. `POST /work-orders` checks a submission's custom fields against this same template.
#[utoipa::path(tag = "work-orders", operation_id = "get_work_order_form",
    responses((status = 200, description = "The form", body = WorkOrderFormResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Staff (they have /admin/form-templates)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The provider has no form template", body = Problem, content_type = "application/problem+json")))]
#[get("/forms/work-order")]
pub async fn get_work_order_form(
    state: web::Data<AppState>,
    caller: TerminalCaller,
) -> Result<web::Json<WorkOrderFormResponse>, ApiError> {
    let template = state
        .read_as(caller.unresolved(), |tx, principal| {
            templates::default_for(tx.conn, &principal.tenant_id())
        })
        .await?;
    Ok(web::Json(template.into()))
}
