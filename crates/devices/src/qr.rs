//! QR codes: the per-tenant rule that makes code strings, the URL printed in the code,
//! the style of the images; generating codes for devices or in blank batches; scanning
//! and binding blank codes. Codes are unique per tenant and never reissued.

use baoxiu_accounts::{domains, tenants};
use baoxiu_core::{
    DomainError, DomainResult, FieldError, Page, PageRequest, TenantId, Validator, new_id,
};
use baoxiu_store::schema::{devices as device_rows, qr_codes, qr_settings};
use baoxiu_store::{Change, Tx, Versioned};
use baoxiu_store::{DbConn, is_unique_violation};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::devices::{self, Device, DeviceRow, Viewer};
use crate::render::MAX_URL_CHARS;

/// How code strings are made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CodeRule {
    /// `prefix` + a zero-padded sequence: `BX000001`.
    Sequence {
        /// At most 12 letters and digits.
        #[schema(max_length = 12, pattern = "^[A-Za-z0-9]{0,12}$")]
        prefix: String,
        digits: u8,
    },
    /// `length` characters from an alphabet without 0/O, 1/I/L.
    Random { length: u8 },
    /// The device's serial number (no blank codes).
    Serial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCorrection {
    Low,
    Medium,
    Quartile,
    High,
}

/// What is printed under a code on labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Caption {
    None,
    DeviceName,
    Serial,
    Code,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QrStyle {
    /// Pixels per module in PNG images (1-40); fewer when the image would be more than
    /// 2048 pixels a side.
    pub module_px: u32,
    /// Modules of blank border (0-10; 4 is the standard).
    pub quiet_zone: u32,
    pub error_correction: ErrorCorrection,
    /// `#RRGGBB`.
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    pub foreground: String,
    /// `#RRGGBB`.
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    pub background: String,
    pub caption: Caption,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QrSettings {
    pub enabled: bool,
    pub rule: CodeRule,
    /// The URL in the code; `{host}`, `{slug}` and `{code}` are filled in. At most 300
    /// characters, and at most 512 once filled in (with the longest code the rule makes).
    #[schema(max_length = 512)]
    pub url_template: String,
    /// Where `/q/{code}` redirects; same placeholders and limits.
    #[schema(max_length = 512)]
    pub landing_url_template: String,
    pub style: QrStyle,
}

/// The code rule as stored (`qr_settings.rule_json`): versioned, and read leniently, so
/// that what an older build wrote (without `v`) or a newer one (with more) still reads.
/// The API's `CodeRule` stays strict.
#[derive(Debug, Serialize, Deserialize)]
struct StoredRule {
    #[serde(default = "first_version")]
    v: u32,
    #[serde(flatten)]
    rule: StoredRuleKind,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredRuleKind {
    Sequence { prefix: String, digits: u8 },
    Random { length: u8 },
    Serial,
}

/// The label style as stored (`qr_settings.style_json`), versioned and lenient likewise.
#[derive(Debug, Serialize, Deserialize)]
struct StoredStyle {
    #[serde(default = "first_version")]
    v: u32,
    module_px: u32,
    quiet_zone: u32,
    error_correction: ErrorCorrection,
    foreground: String,
    background: String,
    caption: Caption,
}

fn first_version() -> u32 {
    1
}

impl From<&CodeRule> for StoredRule {
    fn from(rule: &CodeRule) -> Self {
        let rule = match rule {
            CodeRule::Sequence { prefix, digits } => StoredRuleKind::Sequence {
                prefix: prefix.clone(),
                digits: *digits,
            },
            CodeRule::Random { length } => StoredRuleKind::Random { length: *length },
            CodeRule::Serial => StoredRuleKind::Serial,
        };
        Self { v: 1, rule }
    }
}

impl From<StoredRule> for CodeRule {
    fn from(stored: StoredRule) -> Self {
        match stored.rule {
            StoredRuleKind::Sequence { prefix, digits } => Self::Sequence { prefix, digits },
            StoredRuleKind::Random { length } => Self::Random { length },
            StoredRuleKind::Serial => Self::Serial,
        }
    }
}

impl From<&QrStyle> for StoredStyle {
    fn from(style: &QrStyle) -> Self {
        Self {
            v: 1,
            module_px: style.module_px,
            quiet_zone: style.quiet_zone,
            error_correction: style.error_correction,
            foreground: style.foreground.clone(),
            background: style.background.clone(),
            caption: style.caption,
        }
    }
}

impl From<StoredStyle> for QrStyle {
    fn from(stored: StoredStyle) -> Self {
        Self {
            module_px: stored.module_px,
            quiet_zone: stored.quiet_zone,
            error_correction: stored.error_correction,
            foreground: stored.foreground,
            background: stored.background,
            caption: stored.caption,
        }
    }
}

impl Default for QrSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            rule: CodeRule::Sequence {
                prefix: "BX".into(),
                digits: 6,
            },
            url_template: "https://{host}/q/{code}".into(),
            landing_url_template: "https://{host}/h5/#/scan/{code}".into(),
            style: QrStyle {
                module_px: 8,
                quiet_zone: 4,
                error_correction: ErrorCorrection::Medium,
                foreground: "#000000".into(),
                background: "#FFFFFF".into(),
                caption: Caption::Code,
            },
        }
    }
}

/// What the configuration says about the URLs of every tenant's codes.
#[derive(Debug, Clone, Default)]
pub struct UrlRules {
    /// Tenants' own sub-domains are `slug.portal_domain`.
    pub portal_domain: String,
    /// Front-end origins (`https://h5.example.com`) that landing pages may be on besides
    /// the tenant's own hosts.
    pub front_end_origins: Vec<String>,
}

/// The host a tenant's codes point at (its first approved host, else its portal
/// sub-domain) and its slug: what `{host}` and `{slug}` become.
pub fn tenant_host(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    rules: &UrlRules,
) -> DomainResult<(String, String)> {
    let slug = tenants::get(conn, tenant_id)?.slug;
    let host = domains::primary_host(conn, tenant_id)?
        .unwrap_or_else(|| format!("{slug}.{}", rules.portal_domain));
    Ok((host, slug))
}

/// Whether `url` is on one of the tenant's own hosts (an approved domain of the tenant, or
/// its portal sub-domain, on the scheme's own port) or on a configured front-end origin:
/// the only places `/q/{code}` may send a scan.
pub fn is_own_landing(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    slug: &str,
    url: &str,
    rules: &UrlRules,
) -> DomainResult<bool> {
    // Parsed as browsers parse it, so that `user@host`, `\` and the like name the host a
    // browser would go to.
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(false);
    };
    if !matches!(parsed.scheme(), "https" | "http")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Ok(false);
    }
    let origin = parsed.origin().ascii_serialization();
    if rules
        .front_end_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    {
        return Ok(true);
    }
    let (Some(host), None) = (parsed.host_str(), parsed.port()) else {
        return Ok(false);
    };
    if host == format!("{slug}.{}", rules.portal_domain.to_ascii_lowercase()) {
        return Ok(true);
    }
    Ok(domains::tenant_for_host(conn, host)?.as_ref() == Some(tenant_id))
}

/// The longest code a rule makes (a serial is at most 64 characters).
fn longest_code(rule: &CodeRule) -> usize {
    match rule {
        CodeRule::Sequence { prefix, digits } => prefix.chars().count() + usize::from(*digits),
        CodeRule::Random { length } => usize::from(*length),
        CodeRule::Serial => 64,
    }
}

/// Fills `{host}`, `{slug}` and `{code}` into a template.
pub fn fill(template: &str, host: &str, slug: &str, code: &str) -> String {
    template
        .replace("{host}", host)
        .replace("{slug}", slug)
        .replace("{code}", code)
}

fn stored_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn is_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

pub fn get_settings(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<(QrSettings, i32)> {
    let row: Option<(bool, String, String, String, String, i32)> = qr_settings::table
        .filter(qr_settings::tenant_id.eq(tenant_id.as_str()))
        .select((
            qr_settings::enabled,
            qr_settings::rule_json,
            qr_settings::url_template,
            qr_settings::landing_url_template,
            qr_settings::style_json,
            qr_settings::version,
        ))
        .first(conn)
        .optional()?;
    let Some((enabled, rule, url_template, landing_url_template, style, version)) = row else {
        return Ok((QrSettings::default(), 0));
    };
    let bad = |e: serde_json::Error| DomainError::Internal(format!("stored QR settings: {e}"));
    Ok((
        QrSettings {
            enabled,
            rule: serde_json::from_str::<StoredRule>(&rule)
                .map_err(bad)?
                .into(),
            url_template,
            landing_url_template,
            style: serde_json::from_str::<StoredStyle>(&style)
                .map_err(bad)?
                .into(),
        },
        version,
    ))
}

/// Saves the settings. Both templates are checked as they will be filled in: with the
/// tenant's host and slug and the longest code the rule makes, each URL fits a code.
pub fn put_settings(
    tx: &mut Tx<'_>,
    settings: QrSettings,
    rules: &UrlRules,
    expected_version: Option<i32>,
) -> DomainResult<(QrSettings, i32)> {
    let tenant_id = tx.actor.tenant_id.clone();
    let saved = tx.update_versioned(
        Versioned {
            action: "qr_settings.update",
            object_type: "qr_settings",
            object_id: tenant_id.as_str(),
            expected: expected_version,
        },
        |conn, tenant_id| {
            get_settings(conn, tenant_id)
                .map(|(settings, version)| VersionedSettings { settings, version })
        },
        |before| before.version,
        |tx, before| write_settings(tx, before.version, settings, rules),
    )?;
    Ok((saved.settings, saved.version))
}

/// The settings with their version, audited as the settings alone.
#[derive(Serialize)]
#[serde(transparent)]
struct VersionedSettings {
    settings: QrSettings,
    #[serde(skip)]
    version: i32,
}

/// Writes the settings where the version read still holds (the rows it changed); the first
/// write makes the row.
fn write_settings(
    tx: &mut Tx<'_>,
    version: i32,
    settings: QrSettings,
    rules: &UrlRules,
) -> DomainResult<usize> {
    let mut errors = Validator::new();
    match &settings.rule {
        CodeRule::Sequence { prefix, digits } => {
            errors.check(
                prefix.len() <= 12 && prefix.chars().all(|c| c.is_ascii_alphanumeric()),
                "rule.prefix",
                "invalid",
                "at most 12 of A-Z, a-z, 0-9",
            );
            errors.check(
                (3..=12).contains(digits),
                "rule.digits",
                "out_of_range",
                "3 to 12",
            );
        }
        CodeRule::Random { length } => {
            errors.check(
                (6..=24).contains(length),
                "rule.length",
                "out_of_range",
                "6 to 24",
            );
        }
        CodeRule::Serial => {}
    }
    let (host, slug) = tenant_host(tx.conn, &tx.actor.tenant_id, rules)?;
    let code = "X".repeat(longest_code(&settings.rule));
    for (field, template) in [
        ("url_template", &settings.url_template),
        ("landing_url_template", &settings.landing_url_template),
    ] {
        if !(template.contains("{code}")
            && (template.starts_with("https://") || template.starts_with("http://"))
            && template.len() <= 300)
        {
            errors.push(FieldError::new(
                field,
                "invalid",
                "an http(s) URL of at most 300 characters with {code}",
            ));
            continue;
        }
        let filled = fill(template, &host, &slug, &code);
        let length = filled.chars().count();
        if length > MAX_URL_CHARS {
            errors.push(FieldError::new(
                field,
                "too_long",
                format!(
                    "at most {MAX_URL_CHARS} characters once {{host}} ({host}), {{slug}} and \
                     {{code}} are filled in; this one makes {length}"
                ),
            ));
        } else if field == "landing_url_template"
            && !is_own_landing(tx.conn, &tx.actor.tenant_id, &slug, &filled, rules)?
        {
            errors.push(FieldError::new(
                field,
                "not_own_host",
                "landing pages are on the tenant's own hosts ({host}, its approved domains) \
                 or a front-end origin the server is configured with",
            ));
        }
    }
    let style = &settings.style;
    errors.check(
        (1..=40).contains(&style.module_px),
        "style.module_px",
        "out_of_range",
        "1 to 40",
    );
    errors.check(
        style.quiet_zone <= 10,
        "style.quiet_zone",
        "out_of_range",
        "0 to 10",
    );
    errors.check(
        is_colour(&style.foreground),
        "style.foreground",
        "invalid",
        "#RRGGBB",
    );
    errors.check(
        is_colour(&style.background),
        "style.background",
        "invalid",
        "#RRGGBB",
    );
    errors.finish()?;
    let values = (
        qr_settings::enabled.eq(settings.enabled),
        qr_settings::rule_json.eq(stored_json(&StoredRule::from(&settings.rule))),
        qr_settings::url_template.eq(&settings.url_template),
        qr_settings::landing_url_template.eq(&settings.landing_url_template),
        qr_settings::style_json.eq(stored_json(&StoredStyle::from(&settings.style))),
        qr_settings::version.eq(version + 1),
        qr_settings::updated_at.eq(tx.now),
    );
    let written = if version == 0 {
        diesel::insert_into(qr_settings::table)
            .values((
                qr_settings::tenant_id.eq(tx.actor.tenant_id.as_str()),
                values,
            ))
            .execute(tx.conn)
    } else {
        diesel::update(
            qr_settings::table
                .filter(qr_settings::tenant_id.eq(tx.actor.tenant_id.as_str()))
                .filter(qr_settings::version.eq(version)),
        )
        .set(values)
        .execute(tx.conn)
    };
    // A first write that lost the race to insert the row is an update that lost it.
    let rows = match written {
        Err(e) if is_unique_violation(&e) => 0,
        other => other?,
    };
    Ok(rows)
}

/// Where `/q/{code}` sends a scan: the tenant's landing page for the code when it is on
/// the tenant's own hosts or a configured front-end origin; otherwise (settings saved
/// before that rule) the default landing page on the tenant's host.
pub fn landing(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    code: &str,
    rules: &UrlRules,
) -> DomainResult<String> {
    let settings = enabled_settings(conn, tenant_id)?;
    let found = get_code(conn, tenant_id, code.trim())?;
    let (host, slug) = tenant_host(conn, tenant_id, rules)?;
    let location = fill(&settings.landing_url_template, &host, &slug, &found.code);
    if location.chars().count() <= MAX_URL_CHARS
        && is_own_landing(conn, tenant_id, &slug, &location, rules)?
    {
        return Ok(location);
    }
    let default = QrSettings::default().landing_url_template;
    Ok(fill(&default, &host, &slug, &found.code))
}

/// Fails with not-found when the tenant has the QR feature off.
pub fn enabled_settings(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<QrSettings> {
    let (settings, _) = get_settings(conn, tenant_id)?;
    if settings.enabled {
        Ok(settings)
    } else {
        Err(DomainError::NotFound("QR code (the QR feature is off)"))
    }
}

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = qr_codes)]
pub struct QrCode {
    pub id: String,
    pub code: String,
    pub device_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub bound_at: Option<NaiveDateTime>,
    pub bound_by: Option<String>,
}

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fn next_code(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    rule: &CodeRule,
    device: Option<&Device>,
) -> DomainResult<String> {
    match rule {
        CodeRule::Sequence { prefix, digits } => {
            // The tenant's counter: the increment holds its row until this transaction
            // ends, so two generations at once never take the same number.
            let sequence = baoxiu_store::counters::next(
                conn,
                tenant_id.as_str(),
                baoxiu_store::counters::QR_CODE,
            )?;
            Ok(format!(
                "{prefix}{sequence:0width$}",
                width = usize::from(*digits)
            ))
        }
        CodeRule::Random { length } => {
            let mut rng = rand::rng();
            Ok((0..*length)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect())
        }
        CodeRule::Serial => {
            let code = device
                .and_then(|d| d.serial_no.as_deref())
                .map(crate::keys::code_key)
                .ok_or_else(|| {
                    DomainError::invalid(
                        "device_ids",
                        "no_serial",
                        "with the serial rule, every device needs a serial number",
                    )
                })?;
            // The code goes into URLs and paths as it is (/q/{code}, /scan/{code}).
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(DomainError::invalid(
                    "device_ids",
                    "serial_not_a_code",
                    format!(
                        "the serial {code} has characters other than letters and digits; \
                         use the sequence or random rule for this device"
                    ),
                ));
            }
            Ok(code)
        }
    }
}

fn insert_code(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    rule: &CodeRule,
    device: Option<&Device>,
    actor_id: &str,
    now: NaiveDateTime,
) -> DomainResult<QrCode> {
    // Random codes may collide: try again; sequences and serials cannot.
    for _ in 0..5 {
        let code = next_code(conn, tenant_id, rule, device)?;
        let id = new_id();
        let inserted = diesel::insert_into(qr_codes::table)
            .values((
                qr_codes::tenant_id.eq(tenant_id.as_str()),
                qr_codes::id.eq(&id),
                qr_codes::code.eq(&code),
                qr_codes::device_id.eq(device.map(|d| d.id.clone())),
                qr_codes::created_at.eq(now),
                qr_codes::bound_at.eq(device.map(|_| now)),
                qr_codes::bound_by.eq(device.map(|_| actor_id.to_owned())),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return get_code(conn, tenant_id, &code),
            Err(e) if is_unique_violation(&e) && matches!(rule, CodeRule::Random { .. }) => {
                continue;
            }
            Err(e) if is_unique_violation(&e) => {
                return Err(DomainError::conflict(
                    "code-exists",
                    format!("the code {code} exists already (codes are never reissued)"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::Internal(
        "no free random code after 5 tries".into(),
    ))
}

pub const MAX_BATCH: usize = 500;

/// Generates `count` blank codes, or one code for each of `device_ids`.
pub fn generate(
    tx: &mut Tx<'_>,
    count: Option<usize>,
    device_ids: &[String],
) -> DomainResult<Vec<QrCode>> {
    let settings = enabled_settings(tx.conn, &tx.actor.tenant_id)?;
    let mut created = Vec::new();
    match count {
        Some(count) => {
            if !(1..=MAX_BATCH).contains(&count) {
                return Err(DomainError::invalid(
                    "count",
                    "out_of_range",
                    format!("1 to {MAX_BATCH}"),
                ));
            }
            if settings.rule == CodeRule::Serial {
                return Err(DomainError::invalid(
                    "count",
                    "invalid",
                    "the serial rule makes no blank codes",
                ));
            }
            for _ in 0..count {
                created.push(insert_code(
                    tx.conn,
                    &tx.actor.tenant_id,
                    &settings.rule,
                    None,
                    &tx.actor.id,
                    tx.now,
                )?);
            }
        }
        None => {
            if device_ids.is_empty() || device_ids.len() > MAX_BATCH {
                return Err(DomainError::invalid(
                    "device_ids",
                    "out_of_range",
                    format!("give 1 to {MAX_BATCH} devices, or a count"),
                ));
            }
            for (i, id) in device_ids.iter().enumerate() {
                let device = devices::get(tx.conn, &tx.actor.tenant_id, id)
                    .ok()
                    .filter(|d| d.retired_at.is_none())
                    .ok_or_else(|| {
                        DomainError::invalid(
                            &format!("device_ids.{i}"),
                            "not_found",
                            "no such device",
                        )
                    })?;
                created.push(insert_code(
                    tx.conn,
                    &tx.actor.tenant_id,
                    &settings.rule,
                    Some(&device),
                    &tx.actor.id,
                    tx.now,
                )?);
            }
        }
    }
    let codes: Vec<&str> = created.iter().map(|c| c.code.as_str()).collect();
    tx.audit(Change::<(), _> {
        action: "qr_code.generate",
        object_type: "qr_code",
        object_id: "batch",
        before: None,
        after: Some(&codes),
    })?;
    Ok(created)
}

pub fn get_code(conn: &mut DbConn, tenant_id: &TenantId, code: &str) -> DomainResult<QrCode> {
    qr_codes::table
        .filter(qr_codes::tenant_id.eq(tenant_id.as_str()))
        .filter(qr_codes::code.eq(code))
        .select(QrCode::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("QR code"))
}

/// The codes asked for, in the order asked; not-found when one does not exist.
pub fn get_codes(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    codes: &[String],
) -> DomainResult<Vec<QrCode>> {
    let mut found = std::collections::HashMap::new();
    for chunk in codes.chunks(500) {
        for code in qr_codes::table
            .filter(qr_codes::tenant_id.eq(tenant_id.as_str()))
            .filter(qr_codes::code.eq_any(chunk))
            .select(QrCode::as_select())
            .load(conn)?
        {
            found.insert(code.code.clone(), code);
        }
    }
    codes
        .iter()
        .map(|code| {
            found
                .get(code)
                .cloned()
                .ok_or(DomainError::NotFound("QR code"))
        })
        .collect()
}

/// How the list pages: oldest first.
pub const QR_CODES: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("qr_codes");

pub fn list_codes(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    bound: Option<bool>,
    page: &PageRequest,
) -> DomainResult<Page<QrCode>> {
    let mut query = qr_codes::table
        .filter(qr_codes::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    match bound {
        Some(true) => query = query.filter(qr_codes::device_id.is_not_null()),
        Some(false) => query = query.filter(qr_codes::device_id.is_null()),
        None => {}
    }
    let rows = baoxiu_store::paginate(query, qr_codes::created_at, qr_codes::id, &QR_CODES, page)?
        .select(QrCode::as_select())
        .load(conn)?;
    Ok(page.finish(&QR_CODES, rows, |c| (c.created_at, c.id.clone())))
}

/// What a scan finds.
#[derive(Debug, Clone)]
pub enum Scanned {
    Device(Box<Device>),
    Blank,
}

/// Resolves a scanned code for a viewer: a device it may not see answers not-found. Two
/// statements: the settings, then the code with its device.
pub fn scan(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    code: &str,
    viewer: &Viewer,
) -> DomainResult<Scanned> {
    enabled_settings(conn, tenant_id)?;
    let found: Option<(QrCode, Option<DeviceRow>)> = qr_codes::table
        .left_join(
            device_rows::table.on(device_rows::tenant_id
                .eq(qr_codes::tenant_id)
                .and(device_rows::id.nullable().eq(qr_codes::device_id))),
        )
        .filter(qr_codes::tenant_id.eq(tenant_id.as_str()))
        .filter(qr_codes::code.eq(code.trim()))
        .select((QrCode::as_select(), Option::<DeviceRow>::as_select()))
        .first(conn)
        .optional()?;
    let (found, device) = found.ok_or(DomainError::NotFound("QR code"))?;
    match (found.device_id, device) {
        (None, _) => Ok(Scanned::Blank),
        (Some(_), Some(row)) => {
            let device = Device::try_from(row)?;
            if viewer.may_see(&device) {
                Ok(Scanned::Device(Box::new(device)))
            } else {
                Err(DomainError::NotFound("device"))
            }
        }
        (Some(_), None) => Err(DomainError::NotFound("device")),
    }
}

/// Binds a blank code to a device the binder may see.
pub fn bind(tx: &mut Tx<'_>, code: &str, device_id: &str, viewer: &Viewer) -> DomainResult<Device> {
    enabled_settings(tx.conn, &tx.actor.tenant_id)?;
    let found = get_code(tx.conn, &tx.actor.tenant_id, code.trim())?;
    if found.device_id.is_some() {
        return Err(DomainError::conflict(
            "code-bound",
            "the code is bound to a device already",
        ));
    }
    let device = devices::get_for(tx.conn, &tx.actor.tenant_id, device_id, viewer)
        .ok()
        .filter(|d| d.retired_at.is_none())
        .ok_or_else(|| DomainError::invalid("device_id", "not_found", "no such device"))?;
    let updated = diesel::update(
        qr_codes::table
            .filter(qr_codes::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(qr_codes::id.eq(&found.id))
            .filter(qr_codes::device_id.is_null()),
    )
    .set((
        qr_codes::device_id.eq(&device.id),
        qr_codes::bound_at.eq(tx.now),
        qr_codes::bound_by.eq(&tx.actor.id),
    ))
    .execute(tx.conn)?;
    if updated != 1 {
        return Err(DomainError::conflict(
            "code-bound",
            "the code is bound to a device already",
        ));
    }
    tx.audit(Change::<(), _> {
        action: "qr_code.bind",
        object_type: "qr_code",
        object_id: &found.code,
        before: None,
        after: Some(&device.id),
    })?;
    Ok(device)
}

/// The device names of codes, for captions.
pub fn device_of(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    code: &QrCode,
) -> DomainResult<Option<Device>> {
    code.device_id
        .as_deref()
        .map(|id| devices::get(conn, tenant_id, id))
        .transpose()
}

/// The devices of many codes, by id (a device's codes share it), for captions.
pub fn devices_of(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    codes: &[QrCode],
) -> DomainResult<std::collections::HashMap<String, Device>> {
    let ids: Vec<String> = codes.iter().filter_map(|c| c.device_id.clone()).collect();
    devices::get_many(conn, tenant_id, &ids)
}
