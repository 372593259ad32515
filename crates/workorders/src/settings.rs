//! A tenant's work-order settings: ratings and their levels, repairs without a serial,
//! the default form template, the work-order number prefix and auto-close. They belong to
//! work orders (this crate), not to the tenant's profile. Which form template is the
//! default is the templates' own flag (`templates::default_id`), shown and set here too.

use baoxiu_core::{DomainError, DomainResult, TenantId, Validator};
use baoxiu_store::schema::{form_templates, tenant_settings};
use baoxiu_store::{DbConn, Tx, Versioned};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::templates;

/// Writes a new tenant's default settings and its preset form templates, in the
/// sign-up's transaction.
use crate::orders::ServiceType;

/// Writes a new tenant's default settings, in the sign-up's transaction.
pub fn create_defaults(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    now: NaiveDateTime,
) -> DomainResult<()> {
    diesel::insert_into(tenant_settings::table)
        .values(Settings::defaults().to_row(tenant_id.as_str(), 1, now))
        .execute(conn)?;
    templates::create_presets(conn, tenant_id, now)
}

/// What customers may say for one star level when they rate a repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingLevel {
    pub stars: i32,
    pub description: String,
    pub tags: Vec<String>,
}

/// A tenant's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub ratings_enabled: bool,
    /// Exactly five levels, for 1 to 5 stars.
    pub rating_levels: Vec<RatingLevel>,
    /// Ratings of this many stars or fewer must give a reason.
    pub rating_reason_threshold: i32,
    pub repair_without_serial: bool,
    pub default_form_template_id: Option<String>,
    pub number_prefix: String,
    /// Completed work orders the customer has not confirmed close after this many days.
    pub auto_close_days: i32,
    /// Response and resolution targets per service type.
    pub service_targets: ServiceTargets,
    pub version: i32,
}

/// How soon an order of one service type is answered (accepted) and resolved (completed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceTarget {
    #[schema(minimum = 1, maximum = 43200)]
    pub response_minutes: i32,
    #[schema(minimum = 1, maximum = 525600)]
    pub resolution_minutes: i32,
}

/// The targets of every service type. Stored as its own versioned JSON (`{"v":1,
/// "targets":{...}}`), read leniently: a service type it does not name, or a document that
/// cannot be read, takes the built-in targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceTargets(pub std::collections::BTreeMap<ServiceType, ServiceTarget>);

#[derive(Serialize, Deserialize)]
struct StoredTargets {
    v: i32,
    #[serde(default)]
    targets: std::collections::BTreeMap<String, ServiceTarget>,
}

impl ServiceTargets {
    /// The built-in targets: a repair is answered within 4 hours and resolved within 2
    /// days; planned work (install, maintenance, inspection) within a day and 5 days.
    pub fn defaults() -> Self {
        let target = |hours: i32, days: i32| ServiceTarget {
            response_minutes: hours * 60,
            resolution_minutes: days * 24 * 60,
        };
        Self(
            ServiceType::ALL
                .iter()
                .map(|t| {
                    let target = match t {
                        ServiceType::Repair => target(4, 2),
                        _ => target(24, 5),
                    };
                    (*t, target)
                })
                .collect(),
        )
    }

    /// The target of one service type.
    pub fn of(&self, service_type: ServiceType) -> ServiceTarget {
        self.0
            .get(&service_type)
            .copied()
            .or_else(|| Self::defaults().0.get(&service_type).copied())
            .unwrap_or(ServiceTarget {
                response_minutes: 24 * 60,
                resolution_minutes: 5 * 24 * 60,
            })
    }

    fn read(text: &str) -> Self {
        let mut targets = Self::defaults();
        if let Ok(stored) = serde_json::from_str::<StoredTargets>(text) {
            for (key, target) in stored.targets {
                if let Some(t) = ServiceType::parse(&key) {
                    targets.0.insert(t, target);
                }
            }
        }
        targets
    }

    fn write(&self) -> String {
        let stored = StoredTargets {
            v: 1,
            targets: self
                .0
                .iter()
                .map(|(t, target)| (t.as_str().to_owned(), *target))
                .collect(),
        };
        serde_json::to_string(&stored).unwrap_or_else(|_| "{}".into())
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_settings)]
struct SettingsRow {
    tenant_id: String,
    ratings_enabled: bool,
    rating_levels: String,
    rating_reason_threshold: i32,
    repair_without_serial: bool,
    number_prefix: String,
    auto_close_days: i32,
    version: i32,
    updated_at: NaiveDateTime,
    service_targets: String,
}

impl Settings {
    pub fn defaults() -> Self {
        let level = |stars: i32, description: &str, tags: &[&str]| RatingLevel {
            stars,
            description: description.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        };
        Self {
            ratings_enabled: true,
            rating_levels: vec![
                level(1, "非常不满意", &["响应慢", "没有修好", "态度差"]),
                level(2, "不满意", &["响应慢", "多次上门", "沟通不清"]),
                level(3, "一般", &["按时到达", "问题已解决"]),
                level(4, "满意", &["响应及时", "技术专业", "态度好"]),
                level(
                    5,
                    "非常满意",
                    &["响应及时", "技术专业", "态度好", "现场整洁"],
                ),
            ],
            rating_reason_threshold: 2,
            repair_without_serial: true,
            default_form_template_id: None,
            number_prefix: "BX".into(),
            auto_close_days: 7,
            service_targets: ServiceTargets::defaults(),
            version: 1,
        }
    }

    fn to_row(&self, tenant_id: &str, version: i32, now: NaiveDateTime) -> SettingsRow {
        SettingsRow {
            tenant_id: tenant_id.to_owned(),
            ratings_enabled: self.ratings_enabled,
            rating_levels: serde_json::to_string(&self.rating_levels)
                .unwrap_or_else(|_| "[]".into()),
            rating_reason_threshold: self.rating_reason_threshold,
            repair_without_serial: self.repair_without_serial,
            number_prefix: self.number_prefix.clone(),
            auto_close_days: self.auto_close_days,
            version,
            updated_at: now,
            service_targets: self.service_targets.write(),
        }
    }

    fn from_row(row: SettingsRow, default_form_template_id: Option<String>) -> DomainResult<Self> {
        Ok(Self {
            ratings_enabled: row.ratings_enabled,
            rating_levels: serde_json::from_str(&row.rating_levels)
                .map_err(|e| DomainError::Internal(format!("stored rating levels: {e}")))?,
            rating_reason_threshold: row.rating_reason_threshold,
            repair_without_serial: row.repair_without_serial,
            default_form_template_id,
            number_prefix: row.number_prefix,
            auto_close_days: row.auto_close_days,
            service_targets: ServiceTargets::read(&row.service_targets),
            version: row.version,
        })
    }
}

/// The settings with the form template that applies to a submission (the tenant's
/// default), read in one statement.
pub fn with_form_template(
    conn: &mut DbConn,
    tenant_id: &TenantId,
) -> DomainResult<(Settings, Option<templates::Template>)> {
    let (row, template): (SettingsRow, Option<templates::TemplateRow>) = tenant_settings::table
        .left_join(
            form_templates::table.on(form_templates::tenant_id
                .eq(tenant_settings::tenant_id)
                .and(form_templates::is_default.eq(true))),
        )
        .filter(tenant_settings::tenant_id.eq(tenant_id.as_str()))
        .select((
            SettingsRow::as_select(),
            Option::<templates::TemplateRow>::as_select(),
        ))
        .first(conn)?;
    let template = template
        .map(templates::TemplateRow::into_template)
        .transpose()?;
    let settings = Settings::from_row(row, template.as_ref().map(|t| t.id.clone()))?;
    Ok((settings, template))
}

pub fn settings(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Settings> {
    let row = tenant_settings::table
        .filter(tenant_settings::tenant_id.eq(tenant_id.as_str()))
        .select(SettingsRow::as_select())
        .first(conn)?;
    let default_form_template_id = templates::default_id(conn, tenant_id)?;
    Settings::from_row(row, default_form_template_id)
}

/// Changes to the settings; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct SettingsChanges {
    pub ratings_enabled: Option<bool>,
    pub rating_levels: Option<Vec<RatingLevel>>,
    pub rating_reason_threshold: Option<i32>,
    pub repair_without_serial: Option<bool>,
    /// Makes this template the default; `Some(None)` is refused (there is always one).
    pub default_form_template_id: Option<Option<String>>,
    pub number_prefix: Option<String>,
    pub auto_close_days: Option<i32>,
    /// Replaces the targets of the service types named.
    pub service_targets: Option<std::collections::BTreeMap<ServiceType, ServiceTarget>>,
}

pub fn update_settings(
    tx: &mut Tx<'_>,
    changes: SettingsChanges,
    expected_version: Option<i32>,
) -> DomainResult<Settings> {
    let tenant_id = tx.actor.tenant_id.clone();
    tx.update_versioned(
        Versioned {
            action: "settings.update",
            object_type: "settings",
            object_id: tenant_id.as_str(),
            expected: expected_version,
        },
        settings,
        |before| before.version,
        |tx, before| write_settings(tx, before, changes),
    )
}

/// Writes the settings' changes where the version read still holds (the rows it changed).
fn write_settings(
    tx: &mut Tx<'_>,
    before: &Settings,
    changes: SettingsChanges,
) -> DomainResult<usize> {
    let mut errors = Validator::new();
    if let Some(levels) = &changes.rating_levels {
        let stars: Vec<i32> = levels.iter().map(|l| l.stars).collect();
        errors.check(
            stars == [1, 2, 3, 4, 5],
            "rating_levels",
            "invalid",
            "must list the levels 1 to 5 stars, in order",
        );
        for (i, level) in levels.iter().enumerate() {
            errors.check(
                !level.description.trim().is_empty() && level.description.chars().count() <= 32,
                &format!("rating_levels.{i}.description"),
                "invalid",
                "must be 1-32 characters",
            );
            errors.check(
                level.tags.len() <= 12
                    && level
                        .tags
                        .iter()
                        .all(|t| !t.trim().is_empty() && t.chars().count() <= 16),
                &format!("rating_levels.{i}.tags"),
                "invalid",
                "at most 12 tags of 1-16 characters",
            );
        }
    }
    if let Some(threshold) = changes.rating_reason_threshold {
        errors.check(
            (0..=5).contains(&threshold),
            "rating_reason_threshold",
            "out_of_range",
            "must be 0 (never) to 5",
        );
    }
    if let Some(prefix) = &changes.number_prefix {
        errors.check(
            (1..=8).contains(&prefix.len())
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "number_prefix",
            "invalid",
            "must be 1-8 characters of A-Z and 0-9",
        );
    }
    if let Some(days) = changes.auto_close_days {
        errors.check(
            (1..=90).contains(&days),
            "auto_close_days",
            "out_of_range",
            "must be 1 to 90",
        );
    }
    match &changes.default_form_template_id {
        Some(None) => errors.push(baoxiu_core::FieldError::new(
            "default_form_template_id",
            "required",
            "there is always a default form template: name the one to use",
        )),
        Some(Some(id))
            if id.as_str()
                != before
                    .default_form_template_id
                    .as_deref()
                    .unwrap_or_default() =>
        {
            match templates::get(tx.conn, &tx.actor.tenant_id, id) {
                Ok(_) => {}
                Err(DomainError::NotFound(_)) => errors.push(baoxiu_core::FieldError::new(
                    "default_form_template_id",
                    "not_found",
                    "no such form template",
                )),
                Err(other) => return Err(other),
            }
        }
        _ => {}
    }
    if let Some(targets) = &changes.service_targets {
        for (service_type, target) in targets {
            errors.check(
                (1..=43_200).contains(&target.response_minutes)
                    && (1..=525_600).contains(&target.resolution_minutes)
                    && target.response_minutes <= target.resolution_minutes,
                &format!("service_targets.{}", service_type.as_str()),
                "out_of_range",
                "response 1-43200 minutes, resolution 1-525600 minutes and not sooner than the response",
            );
        }
    }
    errors.finish()?;
    if let Some(Some(id)) = &changes.default_form_template_id
        && before.default_form_template_id.as_deref() != Some(id.as_str())
    {
        templates::make_default(tx, id)?;
    }
    let mut service_targets = before.service_targets.clone();
    if let Some(targets) = changes.service_targets {
        service_targets.0.extend(targets);
    }
    let after = Settings {
        ratings_enabled: changes.ratings_enabled.unwrap_or(before.ratings_enabled),
        rating_levels: changes
            .rating_levels
            .unwrap_or(before.rating_levels.clone()),
        rating_reason_threshold: changes
            .rating_reason_threshold
            .unwrap_or(before.rating_reason_threshold),
        repair_without_serial: changes
            .repair_without_serial
            .unwrap_or(before.repair_without_serial),
        default_form_template_id: changes
            .default_form_template_id
            .unwrap_or(before.default_form_template_id.clone()),
        number_prefix: changes
            .number_prefix
            .unwrap_or(before.number_prefix.clone()),
        auto_close_days: changes.auto_close_days.unwrap_or(before.auto_close_days),
        service_targets,
        version: before.version + 1,
    };
    let row = after.to_row(tx.actor.tenant_id.as_str(), after.version, tx.now);
    let updated = diesel::update(
        tenant_settings::table
            .filter(tenant_settings::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(tenant_settings::version.eq(before.version)),
    )
    .set((
        tenant_settings::ratings_enabled.eq(row.ratings_enabled),
        tenant_settings::rating_levels.eq(&row.rating_levels),
        tenant_settings::rating_reason_threshold.eq(row.rating_reason_threshold),
        tenant_settings::repair_without_serial.eq(row.repair_without_serial),
        tenant_settings::number_prefix.eq(&row.number_prefix),
        tenant_settings::auto_close_days.eq(row.auto_close_days),
        tenant_settings::version.eq(row.version),
        tenant_settings::updated_at.eq(tx.now),
        tenant_settings::service_targets.eq(&row.service_targets),
    ))
    .execute(tx.conn)?;
    Ok(updated)
}
