//! The provider profile (admins) and the tenant settings.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, web};
use baoxiu_accounts::tenants::{self, ProfileChanges, Tenant};
use baoxiu_workorders::orders::ServiceType;
use baoxiu_workorders::settings::{self, RatingLevel, ServiceTarget, Settings, SettingsChanges};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{AdminCaller, IfMatch, versioned};
use crate::json::ApiJson;
use crate::problem::ApiError;
use crate::routes::shared::{double_option, utc};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileResponse {
    pub id: String,
    pub slug: String,
    /// Fixed at sign-up.
    pub name: String,
    pub display_name: String,
    pub introduction: String,
    pub contact_person: String,
    pub phone: String,
    pub address: String,
    pub about: String,
    pub logo_url: Option<String>,
    pub trial_ends_at: DateTime<Utc>,
    pub paid_until: Option<DateTime<Utc>>,
    /// False once the trial or subscription has ended: the tenant is then read-only.
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn profile_response(tenant: Tenant, now: chrono::NaiveDateTime) -> HttpResponse {
    let body = ProfileResponse {
        active: tenant.is_active(now),
        id: tenant.id,
        slug: tenant.slug,
        name: tenant.name,
        display_name: tenant.display_name,
        introduction: tenant.introduction,
        contact_person: tenant.contact_person,
        phone: tenant.phone,
        address: tenant.address,
        about: tenant.about,
        logo_url: tenant.logo_url,
        trial_ends_at: utc(tenant.trial_ends_at),
        paid_until: tenant.paid_until.map(utc),
        version: tenant.version,
        created_at: utc(tenant.created_at),
        updated_at: utc(tenant.updated_at),
    };
    versioned(StatusCode::OK, body.version, body)
}

/// Get the provider profile.
///
/// What customers see of the provider (name, logo, contact details, introduction), with its version as `ETag`.
#[utoipa::path(
    tag = "profile",
    operation_id = "get_profile",
    responses((status = 200, description = "The profile", body = ProfileResponse, headers(("ETag" = String, description = "Version")))),
)]
#[get("/admin/profile")]
pub async fn get_profile(
    state: web::Data<AppState>,
    admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let tenant = state
        .read(&admin, move |tx| tenants::get(tx.conn, &tx.actor.tenant_id))
        .await?;
    Ok(profile_response(tenant, state.now()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: Option<String>,
    #[schema(max_length = 500)]
    pub introduction: Option<String>,
    #[schema(max_length = 64)]
    pub contact_person: Option<String>,
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    #[schema(max_length = 200)]
    pub address: Option<String>,
    #[schema(max_length = 5000)]
    pub about: Option<String>,
    /// An http(s) URL; `null` removes the logo.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, max_length = 500, pattern = "^https?://")]
    pub logo_url: Option<Option<String>>,
}

/// Change the provider profile.
///
/// The provider name cannot be changed (it is not a field here). Send `If-Match`.
#[utoipa::path(
    tag = "profile",
    operation_id = "update_profile",
    request_body = UpdateProfileRequest,
    params(("If-Match" = Option<String>, Header, description = "ETag of the version the change is based on")),
    responses(
        (status = 200, description = "Changed", body = ProfileResponse, headers(("ETag" = String, description = "Version"))),
        crate::routes::shared::answers::Stale,
    ),
)]
#[patch("/admin/profile")]
pub async fn update_profile(
    state: web::Data<AppState>,
    admin: AdminCaller,
    if_match: IfMatch,
    body: ApiJson<UpdateProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let now = state.now();
    let changes = ProfileChanges {
        display_name: request.display_name,
        introduction: request.introduction,
        contact_person: request.contact_person,
        phone: request.phone,
        address: request.address,
        about: request.about,
        logo_url: request.logo_url,
    };
    let tenant = state
        .change(&admin, move |tx| {
            tenants::update_profile(tx, changes, if_match.0)
        })
        .await?;
    Ok(profile_response(tenant, now))
}

/// What customers may pick for one star level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingLevelDto {
    /// 1 to 5.
    pub stars: i32,
    #[schema(min_length = 1, max_length = 32)]
    pub description: String,
    #[schema(max_items = 12, value_type = Vec<baoxiu_core::texts::RatingTagText>, inline)]
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsResponse {
    pub ratings_enabled: bool,
    /// Five levels, 1 to 5 stars.
    pub rating_levels: Vec<RatingLevelDto>,
    /// Ratings of this many stars or fewer must say why (0: never).
    pub rating_reason_threshold: i32,
    /// Whether customers may report a fault without a registered device.
    pub repair_without_serial: bool,
    /// The form template new work orders use (`GET /admin/form-templates`).
    pub default_form_template_id: Option<String>,
    /// Work order numbers read `{prefix}-{YYYYMMDD}-{NNNNN}`.
    pub number_prefix: String,
    /// Completed orders close by themselves after this many days.
    pub auto_close_days: i32,
    /// Response (accepted) and resolution (completed) targets per service type: each
    /// order's due times are set from them when it is submitted.
    #[schema(value_type = std::collections::BTreeMap<String, ServiceTarget>)]
    pub service_targets: std::collections::BTreeMap<ServiceType, ServiceTarget>,
    pub version: i32,
}

fn settings_response(settings: Settings) -> HttpResponse {
    let body = SettingsResponse {
        ratings_enabled: settings.ratings_enabled,
        rating_levels: settings
            .rating_levels
            .into_iter()
            .map(|l| RatingLevelDto {
                stars: l.stars,
                description: l.description,
                tags: l.tags,
            })
            .collect(),
        rating_reason_threshold: settings.rating_reason_threshold,
        repair_without_serial: settings.repair_without_serial,
        default_form_template_id: settings.default_form_template_id,
        number_prefix: settings.number_prefix,
        auto_close_days: settings.auto_close_days,
        service_targets: settings.service_targets.0,
        version: settings.version,
    };
    versioned(StatusCode::OK, body.version, body)
}

/// Get the settings.
///
/// The tenant's work-order and rating settings, with their version as `ETag`.
#[utoipa::path(
    tag = "settings",
    operation_id = "get_settings",
    responses((status = 200, description = "The settings", body = SettingsResponse, headers(("ETag" = String, description = "Version")))),
)]
#[get("/admin/settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    admin: AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let settings = state
        .read(&admin, move |tx| {
            settings::settings(tx.conn, &tx.actor.tenant_id)
        })
        .await?;
    Ok(settings_response(settings))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettingsRequest {
    pub ratings_enabled: Option<bool>,
    /// All five levels, 1 to 5 stars in order.
    #[schema(min_items = 5, max_items = 5)]
    pub rating_levels: Option<Vec<RatingLevelDto>>,
    /// Ratings at or below this many stars need a reason; 0 never.
    #[schema(minimum = 0, maximum = 5)]
    pub rating_reason_threshold: Option<i32>,
    pub repair_without_serial: Option<bool>,
    /// Makes that form template the default (as `PATCH /admin/form-templates/{id}` with
    /// `is_default: true`); an unknown id answers 422. `null` is refused: one template is
    /// always the default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, format = Uuid)]
    pub default_form_template_id: Option<Option<String>>,
    /// 1-8 of A-Z and 0-9.
    #[schema(min_length = 1, max_length = 8, pattern = "^[A-Z0-9]{1,8}$")]
    pub number_prefix: Option<String>,
    /// 1 to 90.
    #[schema(minimum = 1, maximum = 90)]
    pub auto_close_days: Option<i32>,
    /// Replaces the targets of the service types named (`repair`, `install`,
    /// `maintenance`, `inspection`, `other`); the others stay.
    #[schema(value_type = Option<std::collections::BTreeMap<String, ServiceTarget>>)]
    pub service_targets: Option<std::collections::BTreeMap<ServiceType, ServiceTarget>>,
}

/// Change the settings.
///
/// Changes only the settings sent; `If-Match` makes the change conditional (412 when stale).
#[utoipa::path(
    tag = "settings",
    operation_id = "update_settings",
    request_body = UpdateSettingsRequest,
    params(("If-Match" = Option<String>, Header, description = "ETag of the version the change is based on")),
    responses(
        (status = 200, description = "Changed", body = SettingsResponse, headers(("ETag" = String, description = "Version"))),
        crate::routes::shared::answers::Stale,
    ),
)]
#[patch("/admin/settings")]
pub async fn update_settings(
    state: web::Data<AppState>,
    admin: AdminCaller,
    if_match: IfMatch,
    body: ApiJson<UpdateSettingsRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let changes = SettingsChanges {
        ratings_enabled: request.ratings_enabled,
        rating_levels: request.rating_levels.map(|levels| {
            levels
                .into_iter()
                .map(|l| RatingLevel {
                    stars: l.stars,
                    description: l.description,
                    tags: l.tags,
                })
                .collect()
        }),
        rating_reason_threshold: request.rating_reason_threshold,
        repair_without_serial: request.repair_without_serial,
        default_form_template_id: request.default_form_template_id,
        number_prefix: request.number_prefix,
        auto_close_days: request.auto_close_days,
        service_targets: request.service_targets,
    };
    let settings = state
        .change(&admin, move |tx| {
            settings::update_settings(tx, changes, if_match.0)
        })
        .await?;
    Ok(settings_response(settings))
}
