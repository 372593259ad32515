//! Work-order form templates: which fields the repair form asks, in which order, which of
//! them are required, and the custom fields staff add. Every tenant starts with the four
//! presets of the LeBaoXiu manual (minimal, simple, complex, special), one of them the
//! default; exactly one template is the default at any time.
//!
//! A template lists the standard fields of a work order (fault description, service type,
//! warranty, appointment, notes, contact, location, photos), whose kind is fixed and which
//! the work order keeps in its own columns, and custom fields, whose values the work order
//! keeps as JSON (`StoredValues`) validated by `validate_values`.

use baoxiu_core::{
    DomainError, DomainResult, FieldError, Keyset, Page, PageRequest, TenantId, new_id, text_enum,
};
use baoxiu_forms::{Field, FieldKind, Values};
use baoxiu_store::schema::{form_templates, tenants};
use baoxiu_store::{Change, DbConn, Tx, Versioned};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

text_enum! {
    /// The preset a template was created from; custom templates have none.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Preset {
        /// 极简报修单: the fault and a phone number.
        Minimal = "minimal",
        /// 简单报修单: the fault, the service wanted, when, notes, photos.
        Simple = "simple",
        /// 复杂报修单: every standard field.
        Complex = "complex",
        /// 特殊样式1: every standard field and a few custom ones.
        Special = "special",
    }
}

/// The standard fields of a work order: key, label, kind. A template shows, hides,
/// relabels, orders and requires them; their kind is theirs.
pub const STANDARD_FIELDS: [(&str, &str, FieldKind); 9] = [
    ("fault_description", "故障描述", FieldKind::Textarea),
    ("service_type", "服务类别", FieldKind::Select),
    ("warranty_status", "保修情况", FieldKind::Select),
    ("appointment_at", "预约时间", FieldKind::DateTime),
    ("notes", "备注", FieldKind::Textarea),
    ("contact_name", "联系人", FieldKind::Text),
    ("contact_phone", "联系电话", FieldKind::Phone),
    ("location", "报修地址", FieldKind::Text),
    ("photos", "报修附件", FieldKind::Attachments),
];

/// Every order says what is wrong: this standard field is always shown and required.
pub const FAULT_DESCRIPTION: &str = "fault_description";

/// The standard field of this key, if it is one.
pub fn standard(key: &str) -> Option<(&'static str, &'static str, FieldKind)> {
    STANDARD_FIELDS.iter().copied().find(|(k, _, _)| *k == key)
}

const STANDARD_KEYS: [&str; 9] = [
    "fault_description",
    "service_type",
    "warranty_status",
    "appointment_at",
    "notes",
    "contact_name",
    "contact_phone",
    "location",
    "photos",
];

/// A form template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub preset: Option<Preset>,
    pub is_default: bool,
    /// Standard and custom fields, in the order the form shows them.
    pub fields: Vec<Field>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Template {
    /// Whether the field of this key is one of the standard fields.
    pub fn is_standard(key: &str) -> bool {
        standard(key).is_some()
    }

    /// The template's entry for a standard field.
    pub fn standard_field(&self, key: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.key == key && Self::is_standard(key))
    }

    /// The custom fields, in order.
    pub fn custom_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !Self::is_standard(&f.key))
    }

    /// Checks which standard fields a submission gave (`given(key)`): a required one
    /// missing, or one given that the template hides, is a bad field (named by its key).
    pub fn check_standard(&self, given: impl Fn(&str) -> bool) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (key, _, _) in STANDARD_FIELDS {
            let field = self.standard_field(key);
            let shown = field.is_some_and(|f| f.visible);
            let required = field.is_some_and(|f| f.visible && f.required);
            if required && !given(key) {
                let label = field.map_or(key, |f| f.label.as_str());
                errors.push(FieldError::new(
                    key,
                    "required",
                    format!("{label} is required"),
                ));
            } else if !shown && given(key) {
                errors.push(FieldError::new(
                    key,
                    "unknown_field",
                    "this field is not on the form",
                ));
            }
        }
        errors
    }
}

/// The values of a work order's custom fields, as stored (JSON, versioned, read leniently).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredValues {
    /// The version of this stored shape.
    #[serde(default = "first_version")]
    pub v: u32,
    /// Normalised values by custom field key.
    #[serde(default)]
    pub values: Values,
}

impl StoredValues {
    pub const VERSION: u32 = 1;

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads stored values back: leniently, so that what an older or newer build wrote
    /// still reads.
    pub fn from_json(text: &str) -> DomainResult<Self> {
        serde_json::from_str(text)
            .map_err(|e| DomainError::Internal(format!("stored custom values: {e}")))
    }
}

/// The fields of a template, as stored in `form_templates.fields` (read leniently).
#[derive(Debug, Serialize, Deserialize)]
struct StoredFields {
    #[serde(default = "first_version")]
    v: u32,
    fields: Vec<Field>,
}

fn first_version() -> u32 {
    1
}

const FIELDS_VERSION: u32 = 1;

/// Custom field values are sent and named under this prefix (`custom_fields.urgency`).
pub const CUSTOM_PREFIX: &str = "custom_fields";

/// Checks the values of a template's custom fields (every bad one at once, named
/// `custom_fields.{key}`); answers them normalised, ready to store.
pub fn validate_values(
    template: &Template,
    values: &Values,
) -> Result<StoredValues, Vec<FieldError>> {
    let custom: Vec<Field> = template.custom_fields().cloned().collect();
    baoxiu_forms::validate(CUSTOM_PREFIX, &custom, values).map(|values| StoredValues {
        v: StoredValues::VERSION,
        values,
    })
}

/// Checks a template's name and fields: every bad part at once.
fn check(name: &str, fields: &[Field]) -> DomainResult<()> {
    let mut errors = Vec::new();
    if name.trim().is_empty() || name.trim().chars().count() > 32 {
        errors.push(FieldError::new("name", "invalid", "1-32 characters"));
    }
    let custom: Vec<(usize, &Field)> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| !Template::is_standard(&f.key))
        .collect();
    // Custom fields are checked as a form of their own, then named by their place in
    // the whole list.
    let custom_only: Vec<Field> = custom.iter().map(|(_, f)| (*f).clone()).collect();
    let rules = baoxiu_forms::Rules {
        reserved: &STANDARD_KEYS,
        ..baoxiu_forms::Rules::default()
    };
    for mut error in baoxiu_forms::check_definition("", &custom_only, &rules) {
        if let Some((index, rest)) = error.field.split_once('.')
            && let Some((place, _)) = index.parse::<usize>().ok().and_then(|i| custom.get(i))
        {
            error.field = format!("fields.{place}.{rest}");
        } else {
            error.field = "fields".to_owned();
        }
        errors.push(error);
    }
    for (i, field) in fields.iter().enumerate() {
        if !Template::is_standard(&field.key)
            && matches!(field.kind, FieldKind::Free | FieldKind::Attachments)
        {
            errors.push(FieldError::new(
                format!("fields.{i}.kind"),
                "invalid",
                "photos are the standard photos field's; custom fields take text, numbers, choices, dates or phone numbers",
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, field) in fields.iter().enumerate() {
        let Some((key, _, kind)) = standard(&field.key) else {
            continue;
        };
        let at = |part: &str| format!("fields.{i}.{part}");
        if !seen.insert(key) {
            errors.push(FieldError::new(at("key"), "invalid", "listed twice"));
        }
        if field.kind != kind {
            errors.push(FieldError::new(
                at("kind"),
                "invalid",
                format!("{key} is a {} field", kind.as_str()),
            ));
        }
        let label = field.label.trim();
        if label.is_empty() || label.chars().count() > 32 {
            errors.push(FieldError::new(at("label"), "invalid", "1-32 characters"));
        }
        if !field.options.is_empty() || field.limits != baoxiu_forms::Limits::default() {
            errors.push(FieldError::new(
                at("options"),
                "invalid",
                "the options and limits of a standard field are the work order's own",
            ));
        }
        if key == FAULT_DESCRIPTION && !(field.visible && field.required) {
            errors.push(FieldError::new(
                at("required"),
                "invalid",
                "the fault description is always shown and required",
            ));
        } else if field.required && !field.visible {
            errors.push(FieldError::new(
                at("required"),
                "invalid",
                "a hidden field cannot be required",
            ));
        }
    }
    if !fields.iter().any(|f| f.key == FAULT_DESCRIPTION) {
        errors.push(FieldError::new(
            "fields",
            "required",
            "the fault description must be on every form",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// The fields of a preset.
pub fn preset_fields(preset: Preset) -> Vec<Field> {
    // (key, shown, required) of the standard fields, in the order the form shows them.
    let layout: &[(&str, bool, bool)] = match preset {
        Preset::Minimal => &[
            ("fault_description", true, true),
            ("contact_phone", true, false),
            ("photos", true, false),
            ("service_type", false, false),
            ("warranty_status", false, false),
            ("appointment_at", false, false),
            ("notes", false, false),
            ("contact_name", false, false),
            ("location", false, false),
        ],
        Preset::Simple => &[
            ("service_type", true, true),
            ("fault_description", true, true),
            ("appointment_at", true, false),
            ("notes", true, false),
            ("photos", true, false),
            ("warranty_status", false, false),
            ("contact_name", false, false),
            ("contact_phone", false, false),
            ("location", false, false),
        ],
        Preset::Complex | Preset::Special => &[
            ("service_type", true, true),
            ("warranty_status", true, false),
            ("fault_description", true, true),
            ("appointment_at", true, false),
            ("contact_name", true, false),
            ("contact_phone", true, true),
            ("location", true, false),
            ("notes", true, false),
            ("photos", true, false),
        ],
    };
    let mut fields: Vec<Field> = layout
        .iter()
        .filter_map(|(key, shown, required)| {
            let (key, label, kind) = standard(key)?;
            let mut field = Field::new(key, label, kind, *required);
            field.visible = *shown;
            Some(field)
        })
        .collect();
    if preset == Preset::Special {
        fields.push(
            Field::new("urgency", "紧急程度", FieldKind::Select, true)
                .with_options(&["一般", "紧急", "停机"]),
        );
        fields.push(Field::new("fault_code", "故障代码", FieldKind::Text, false));
        fields.push(Field::new("stopped_on", "停机日期", FieldKind::Date, false));
    }
    fields
}

fn preset_name(preset: Preset) -> &'static str {
    match preset {
        Preset::Minimal => "极简报修单",
        Preset::Simple => "简单报修单",
        Preset::Complex => "复杂报修单",
        Preset::Special => "特殊样式1",
    }
}

/// The preset a new tenant uses by default.
pub const DEFAULT_PRESET: Preset = Preset::Simple;

/// Writes a tenant's four presets, `DEFAULT_PRESET` the default, in the caller's
/// transaction (sign-up, the demo, the back-fill).
pub fn create_presets(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    now: NaiveDateTime,
) -> DomainResult<()> {
    for preset in Preset::ALL {
        insert(
            conn,
            tenant_id,
            &NewRow {
                name: preset_name(preset),
                preset: Some(preset),
                is_default: preset == DEFAULT_PRESET,
                fields: &preset_fields(preset),
            },
            now,
        )?;
    }
    Ok(())
}

/// Gives every tenant that has no form template the four presets (tenants that signed up
/// before templates existed). Run at start; answers how many tenants it filled. Two nodes
/// starting at once may both try a tenant: the one whose insert meets the other's rows
/// leaves that tenant to it.
pub fn backfill_presets(db: &baoxiu_store::Db, now: NaiveDateTime) -> DomainResult<usize> {
    let missing: Vec<String> = db.read(|conn| {
        tenants::table
            .filter(diesel::dsl::not(diesel::dsl::exists(
                form_templates::table.filter(form_templates::tenant_id.eq(tenants::id)),
            )))
            .select(tenants::id)
            .load::<String>(conn)
            .map_err(DomainError::from)
    })?;
    let mut filled = 0;
    for id in missing {
        let tenant_id = TenantId(id);
        let done = db.write(|conn| {
            let present: i64 = form_templates::table
                .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
                .count()
                .get_result(conn)?;
            if present > 0 {
                return Ok::<_, DomainError>(false);
            }
            create_presets(conn, &tenant_id, now)?;
            Ok(true)
        });
        match done {
            Ok(true) => filled += 1,
            Ok(false) => {}
            // Another node filled it first (the one-default or name index refused ours).
            Err(DomainError::Internal(e)) if e.contains("unique") || e.contains("UNIQUE") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

struct NewRow<'a> {
    name: &'a str,
    preset: Option<Preset>,
    is_default: bool,
    fields: &'a [Field],
}

fn fields_json(fields: &[Field]) -> String {
    serde_json::to_string(&StoredFields {
        v: FIELDS_VERSION,
        fields: fields.to_vec(),
    })
    .unwrap_or_default()
}

fn insert(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    row: &NewRow<'_>,
    now: NaiveDateTime,
) -> DomainResult<String> {
    let id = new_id();
    diesel::insert_into(form_templates::table)
        .values((
            form_templates::tenant_id.eq(tenant_id.as_str()),
            form_templates::id.eq(&id),
            form_templates::name.eq(row.name),
            form_templates::preset.eq(row.preset.map(Preset::as_str)),
            form_templates::is_default.eq(row.is_default),
            form_templates::fields.eq(fields_json(row.fields)),
            form_templates::version.eq(1),
            form_templates::created_at.eq(now),
            form_templates::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = form_templates)]
pub(crate) struct TemplateRow {
    id: String,
    name: String,
    preset: Option<String>,
    is_default: bool,
    fields: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TemplateRow {
    pub(crate) fn into_template(self) -> DomainResult<Template> {
        let stored: StoredFields = serde_json::from_str(&self.fields)
            .map_err(|e| DomainError::Internal(format!("stored form template: {e}")))?;
        Ok(Template {
            preset: self
                .preset
                .as_deref()
                .map(Preset::from_stored)
                .transpose()?,
            fields: stored.fields,
            id: self.id,
            name: self.name,
            is_default: self.is_default,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// One template of the tenant; another tenant's answers not-found.
pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Template> {
    form_templates::table
        .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
        .filter(form_templates::id.eq(id))
        .select(TemplateRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("form template"))?
        .into_template()
}

/// The tenant's default template (one statement).
pub fn default_for(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Template> {
    form_templates::table
        .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
        .filter(form_templates::is_default.eq(true))
        .select(TemplateRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("default form template"))?
        .into_template()
}

/// The id of the tenant's default template, if it has templates.
pub fn default_id(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Option<String>> {
    Ok(form_templates::table
        .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
        .filter(form_templates::is_default.eq(true))
        .select(form_templates::id)
        .first(conn)
        .optional()?)
}

/// How the list of templates pages: oldest first (the presets, then the tenant's own).
pub const TEMPLATES: Keyset = Keyset::oldest_first("form_templates");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    page: &PageRequest,
) -> DomainResult<Page<Template>> {
    let query = form_templates::table
        .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let rows = baoxiu_store::paginate(
        query,
        form_templates::created_at,
        form_templates::id,
        &TEMPLATES,
        page,
    )?
    .select(TemplateRow::as_select())
    .load(conn)?;
    let templates = rows
        .into_iter()
        .map(TemplateRow::into_template)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(page.finish(&TEMPLATES, templates, |t| (t.created_at, t.id.clone())))
}

/// A custom template staff define.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub name: String,
    pub fields: Vec<Field>,
    /// Make it the default at once (the former default stops being it).
    pub is_default: bool,
}

/// Whether a write met the `(tenant_id, name)` unique index.
fn name_taken(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info)
            if info.message().contains("name") || info.constraint_name() == Some("form_templates_name")
    )
}

fn taken() -> DomainError {
    DomainError::invalid("name", "taken", "another form template has this name")
}

/// Creates a custom template. Run under the tenant lock (`change_locked`) when it
/// becomes the default, so two requests cannot both unset the former one.
pub fn create(tx: &mut Tx<'_>, input: NewTemplate) -> DomainResult<Template> {
    check(&input.name, &input.fields)?;
    let tenant_id = tx.actor.tenant_id.clone();
    if input.is_default {
        unset_default(tx, None)?;
    }
    let name = input.name.trim().to_owned();
    if name_exists(tx.conn, &tenant_id, &name, None)? {
        return Err(taken());
    }
    let id = insert(
        tx.conn,
        &tenant_id,
        &NewRow {
            name: &name,
            preset: None,
            is_default: input.is_default,
            fields: &input.fields,
        },
        tx.now,
    )
    .map_err(|e| match e {
        DomainError::Internal(ref m) if m.contains("name") && m.contains("nique") => taken(),
        other => other,
    })?;
    let template = get(tx.conn, &tenant_id, &id)?;
    tx.audit(Change::created(
        "form_template.create",
        "form_template",
        &id,
        &template,
    ))?;
    Ok(template)
}

fn name_exists(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    name: &str,
    except: Option<&str>,
) -> DomainResult<bool> {
    let mut query = form_templates::table
        .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
        .filter(form_templates::name.eq(name))
        .select(form_templates::id)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(form_templates::id.ne(id.to_owned()));
    }
    Ok(query.first::<String>(conn).optional()?.is_some())
}

/// Makes a template of the tenant the default (the former default stops being it). The
/// tenant lock is taken first, so two requests moving the default take turns.
pub fn make_default(tx: &mut Tx<'_>, id: &str) -> DomainResult<Template> {
    update(
        tx,
        id,
        TemplateChanges {
            is_default: Some(true),
            ..TemplateChanges::default()
        },
        None,
    )
}

/// The former default stops being it (its version moves on, audited). Takes the tenant
/// lock first (free when the route already holds it): this is the change's first write.
fn unset_default(tx: &mut Tx<'_>, except: Option<&str>) -> DomainResult<()> {
    tx.lock_tenant()?;
    let tenant_id = tx.actor.tenant_id.clone();
    let Some(former) = default_id(tx.conn, &tenant_id)? else {
        return Ok(());
    };
    if Some(former.as_str()) == except {
        return Ok(());
    }
    let before = get(tx.conn, &tenant_id, &former)?;
    diesel::update(
        form_templates::table
            .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
            .filter(form_templates::id.eq(&former))
            .filter(form_templates::is_default.eq(true)),
    )
    .set((
        form_templates::is_default.eq(false),
        form_templates::version.eq(form_templates::version + 1),
        form_templates::updated_at.eq(tx.now),
    ))
    .execute(tx.conn)?;
    let after = get(tx.conn, &tenant_id, &former)?;
    tx.audit(Change::updated(
        "form_template.update",
        "form_template",
        &former,
        &before,
        &after,
    ))
}

/// Changes to a template; `None` leaves a part as it is.
#[derive(Debug, Default, Clone)]
pub struct TemplateChanges {
    pub name: Option<String>,
    pub fields: Option<Vec<Field>>,
    /// `Some(true)` makes it the default. A default stops being it only when another
    /// becomes the default: `Some(false)` on the default answers 422.
    pub is_default: Option<bool>,
}

/// Changes a template, compared against the version read (`If-Match`). Run under the
/// tenant lock (`change_locked`) when it makes the template the default.
pub fn update(
    tx: &mut Tx<'_>,
    id: &str,
    changes: TemplateChanges,
    expected_version: Option<i32>,
) -> DomainResult<Template> {
    tx.update_versioned(
        Versioned {
            action: "form_template.update",
            object_type: "form_template",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            let name = changes
                .name
                .as_deref()
                .unwrap_or(&before.name)
                .trim()
                .to_owned();
            let fields = changes.fields.clone().unwrap_or(before.fields.clone());
            let mut bad = match check(&name, &fields) {
                Err(DomainError::Validation(errors)) => errors,
                Err(other) => return Err(other),
                Ok(()) => Vec::new(),
            };
            if changes.is_default == Some(false) && before.is_default {
                bad.push(FieldError::new(
                    "is_default",
                    "invalid",
                    "make another template the default instead",
                ));
            }
            if bad.is_empty() && name_exists(tx.conn, &tx.actor.tenant_id, &name, Some(id))? {
                bad.push(FieldError::new(
                    "name",
                    "taken",
                    "another form template has this name",
                ));
            }
            if !bad.is_empty() {
                return Err(DomainError::Validation(bad));
            }
            let is_default = before.is_default || changes.is_default == Some(true);
            if is_default && !before.is_default {
                unset_default(tx, Some(id))?;
            }
            let tenant_id = tx.actor.tenant_id.clone();
            diesel::update(
                form_templates::table
                    .filter(form_templates::tenant_id.eq(tenant_id.as_str()))
                    .filter(form_templates::id.eq(id))
                    .filter(form_templates::version.eq(before.version)),
            )
            .set((
                form_templates::name.eq(&name),
                form_templates::is_default.eq(is_default),
                form_templates::fields.eq(fields_json(&fields)),
                form_templates::version.eq(before.version + 1),
                form_templates::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)
            .map_err(|e| {
                if name_taken(&e) {
                    taken()
                } else {
                    DomainError::from(e)
                }
            })
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn presets_pass_their_own_check() {
        for preset in Preset::ALL {
            assert!(
                check(preset_name(preset), &preset_fields(preset)).is_ok(),
                "{preset}"
            );
            assert_eq!(
                preset_fields(preset)
                    .iter()
                    .filter(|f| Template::is_standard(&f.key))
                    .count(),
                9
            );
        }
        assert_eq!(
            STANDARD_KEYS.to_vec(),
            STANDARD_FIELDS.map(|(k, _, _)| k).to_vec()
        );
    }

    #[test]
    fn stored_values_read_leniently() {
        let values = StoredValues::from_json(r#"{"values":{"a":1},"later":true}"#).unwrap();
        assert_eq!(values.v, 1);
        assert_eq!(values.values["a"], 1);
    }
}
