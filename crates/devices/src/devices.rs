//! Devices: the equipment a tenant services. Serial numbers are unique per tenant
//! (compared by their normalised key); terminal users see their own account's devices and
//! public ones, guests public ones only.

use baoxiu_accounts::customers;
use baoxiu_core::{
    DomainError, DomainResult, FieldError, Page, PageRequest, TenantId, Validator, new_id,
};
use baoxiu_store::Change;
use baoxiu_store::MultiBackend;
use baoxiu_store::schema::{devices, qr_codes, work_orders};
use baoxiu_store::{DbConn, is_unique_violation};
use baoxiu_store::{Tx, Versioned};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::keys::code_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarrantyStatus {
    InWarranty,
    OutOfWarranty,
    Contract,
    Factory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Running,
    Fault,
    InRepair,
    Retired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone of the tenant's portal may see it, guests included.
    Public,
    /// Only its owner account's users (and staff).
    Private,
}

fn to_text<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn from_text<T: for<'de> Deserialize<'de>>(text: &str) -> DomainResult<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| DomainError::Internal(format!("stored value {text}")))
}

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: String,
    pub account_id: Option<String>,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub model: String,
    pub machine_no: Option<String>,
    pub serial_no: Option<String>,
    pub install_address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub warranty_status: WarrantyStatus,
    pub warranty_ends_on: Option<NaiveDate>,
    pub status: DeviceStatus,
    pub visibility: Visibility,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the device was retired: deleted while something referred to it, so kept for
    /// that and hidden from lists and terminals.
    pub retired_at: Option<NaiveDateTime>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub(crate) struct DeviceRow {
    id: String,
    account_id: Option<String>,
    name: String,
    brand: String,
    category: String,
    model: String,
    machine_no: Option<String>,
    serial_no: Option<String>,
    install_address: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    warranty_status: String,
    warranty_ends_on: Option<NaiveDate>,
    status: String,
    visibility: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
}

impl TryFrom<DeviceRow> for Device {
    type Error = DomainError;

    fn try_from(r: DeviceRow) -> DomainResult<Self> {
        Ok(Self {
            warranty_status: from_text(&r.warranty_status)?,
            status: from_text(&r.status)?,
            visibility: from_text(&r.visibility)?,
            id: r.id,
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
            warranty_ends_on: r.warranty_ends_on,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            retired_at: r.retired_at,
        })
    }
}

/// Who is looking at devices.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// Staff of the tenant: every device.
    Staff,
    /// A terminal user: public devices, and its account's when it may see devices.
    Customer { account_id: Option<String> },
    /// The guest (or anyone acting as one): public devices only.
    Public,
}

impl Viewer {
    /// Whether the device belongs to the viewer's own account (staff and guests own none).
    pub fn owns(&self, device: &Device) -> bool {
        matches!(self, Self::Customer { account_id: Some(mine) }
            if device.account_id.as_deref() == Some(mine.as_str()))
    }

    pub fn may_see(&self, device: &Device) -> bool {
        match self {
            Self::Staff => true,
            // Retired devices are gone for terminals, whatever their visibility.
            _ if device.retired_at.is_some() => false,
            _ if device.visibility == Visibility::Public => true,
            Self::Customer {
                account_id: Some(mine),
            } => device.account_id.as_deref() == Some(mine.as_str()),
            _ => false,
        }
    }
}

/// Every field of a device, as given to create or replace one.
#[derive(Debug, Clone, Default)]
pub struct DeviceInput {
    pub account_id: Option<String>,
    pub name: String,
    pub brand: String,
    pub category: String,
    pub model: String,
    pub machine_no: Option<String>,
    pub serial_no: Option<String>,
    pub install_address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub warranty_status: Option<WarrantyStatus>,
    pub warranty_ends_on: Option<NaiveDate>,
    pub status: Option<DeviceStatus>,
    pub visibility: Option<Visibility>,
}

fn optional(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The columns a device's input sets, written the same way by an insert and an update.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = devices, treat_none_as_null = true)]
struct DeviceColumns<'a> {
    account_id: Option<&'a str>,
    name: &'a str,
    brand: &'a str,
    category: &'a str,
    model: &'a str,
    machine_key: Option<String>,
    machine_no: Option<String>,
    serial_key: Option<String>,
    serial_no: Option<String>,
    install_address: &'a str,
    latitude: Option<f64>,
    longitude: Option<f64>,
    warranty_status: String,
    warranty_ends_on: Option<NaiveDate>,
    status: String,
    visibility: String,
}

impl<'a> DeviceColumns<'a> {
    /// What `input` sets; what it leaves out is taken from `defaults`.
    fn new(input: &'a DeviceInput, defaults: (WarrantyStatus, DeviceStatus, Visibility)) -> Self {
        let serial = optional(&input.serial_no);
        let machine = optional(&input.machine_no);
        Self {
            account_id: input.account_id.as_deref(),
            name: input.name.trim(),
            brand: input.brand.trim(),
            category: input.category.trim(),
            model: input.model.trim(),
            machine_key: machine.as_deref().map(code_key),
            machine_no: machine,
            serial_key: serial.as_deref().map(code_key),
            serial_no: serial,
            install_address: input.install_address.trim(),
            latitude: input.latitude,
            longitude: input.longitude,
            warranty_status: to_text(input.warranty_status.unwrap_or(defaults.0)),
            warranty_ends_on: input.warranty_ends_on,
            status: to_text(input.status.unwrap_or(defaults.1)),
            visibility: to_text(input.visibility.unwrap_or(defaults.2)),
        }
    }
}

/// Checks a device's fields and that its owner account exists.
pub fn check(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    input: &DeviceInput,
    errors: &mut Validator,
) -> DomainResult<()> {
    check_fields(input, "", errors);
    if let Some(account_id) = &input.account_id
        && customers::get_account(conn, tenant_id, account_id).is_err()
    {
        errors.push(FieldError::new(
            "account_id",
            "not_found",
            "no such account",
        ));
    }
    Ok(())
}

/// Checks what can be checked of a device's fields without the database; `prefix` names
/// them in errors.
pub fn check_fields(input: &DeviceInput, prefix: &str, errors: &mut Validator) {
    let field = |name: &str| format!("{prefix}{name}");
    let name = input.name.trim();
    errors.check(
        !name.is_empty() && name.chars().count() <= 128,
        &field("name"),
        "invalid",
        "1-128 characters",
    );
    for (name, value) in [
        ("brand", &input.brand),
        ("category", &input.category),
        ("model", &input.model),
    ] {
        errors.check(
            value.chars().count() <= 64,
            &field(name),
            "too_long",
            "at most 64 characters",
        );
    }
    errors.check(
        input.install_address.chars().count() <= 200,
        &field("install_address"),
        "too_long",
        "at most 200 characters",
    );
    for (name, value) in [
        ("machine_no", &input.machine_no),
        ("serial_no", &input.serial_no),
    ] {
        if let Some(value) = optional(value) {
            errors.check(
                value.chars().count() <= 64,
                &field(name),
                "too_long",
                "at most 64 characters",
            );
        }
    }
    if let Some(lat) = input.latitude {
        errors.check(
            (-90.0..=90.0).contains(&lat),
            &field("latitude"),
            "out_of_range",
            "must be -90 to 90",
        );
    }
    if let Some(lng) = input.longitude {
        errors.check(
            (-180.0..=180.0).contains(&lng),
            &field("longitude"),
            "out_of_range",
            "must be -180 to 180",
        );
    }
    errors.check(
        input.latitude.is_some() == input.longitude.is_some(),
        &field("longitude"),
        "invalid",
        "give latitude and longitude together",
    );
}

fn serial_taken(prefix: &str) -> DomainError {
    DomainError::invalid(
        &format!("{prefix}serial_no"),
        "taken",
        "another device has this serial number",
    )
}

/// What a new device takes where its input says nothing.
const NEW_DEVICE: (WarrantyStatus, DeviceStatus, Visibility) = (
    WarrantyStatus::OutOfWarranty,
    DeviceStatus::Running,
    Visibility::Private,
);

/// Inserts a checked device (no audit entry: callers record one, imports one per file).
pub fn insert(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    input: &DeviceInput,
    prefix: &str,
    now: NaiveDateTime,
) -> DomainResult<String> {
    insert_device(conn, tenant_id, input, prefix, now).map(|device| device.id)
}

/// Inserts a checked device and answers it as stored, without reading it back: every
/// column is the insert's own (the clock keeps microseconds, as both backends store them),
/// and a new device is not retired.
fn insert_device(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    input: &DeviceInput,
    prefix: &str,
    now: NaiveDateTime,
) -> DomainResult<Device> {
    let id = new_id();
    let columns = DeviceColumns::new(input, NEW_DEVICE);
    let device = Device {
        id: id.clone(),
        account_id: columns.account_id.map(str::to_owned),
        name: columns.name.to_owned(),
        brand: columns.brand.to_owned(),
        category: columns.category.to_owned(),
        model: columns.model.to_owned(),
        machine_no: columns.machine_no.clone(),
        serial_no: columns.serial_no.clone(),
        install_address: columns.install_address.to_owned(),
        latitude: columns.latitude,
        longitude: columns.longitude,
        warranty_status: input.warranty_status.unwrap_or(NEW_DEVICE.0),
        warranty_ends_on: columns.warranty_ends_on,
        status: input.status.unwrap_or(NEW_DEVICE.1),
        visibility: input.visibility.unwrap_or(NEW_DEVICE.2),
        version: 1,
        created_at: now,
        updated_at: now,
        retired_at: None,
    };
    let inserted = diesel::insert_into(devices::table)
        .values((
            devices::tenant_id.eq(tenant_id.as_str()),
            devices::id.eq(&id),
            columns,
            devices::version.eq(1),
            devices::created_at.eq(now),
            devices::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(serial_taken(prefix)),
        other => other.map(|_| device).map_err(Into::into),
    }
}

pub fn create(tx: &mut Tx<'_>, input: DeviceInput) -> DomainResult<Device> {
    let mut errors = Validator::new();
    check(tx.conn, &tx.actor.tenant_id, &input, &mut errors)?;
    errors.finish()?;
    let device = insert_device(tx.conn, &tx.actor.tenant_id, &input, "", tx.now)?;
    tx.audit(Change::<(), _> {
        action: "device.create",
        object_type: "device",
        object_id: &device.id,
        before: None,
        after: Some(&device),
    })?;
    Ok(device)
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<Device> {
    devices::table
        .filter(devices::tenant_id.eq(tenant_id.as_str()))
        .filter(devices::id.eq(id))
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("device"))?
        .try_into()
}

/// The devices of these ids that exist, by id.
pub fn get_many(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    ids: &[String],
) -> DomainResult<std::collections::HashMap<String, Device>> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        for row in devices::table
            .filter(devices::tenant_id.eq(tenant_id.as_str()))
            .filter(devices::id.eq_any(chunk))
            .select(DeviceRow::as_select())
            .load(conn)?
        {
            let device = Device::try_from(row)?;
            found.insert(device.id.clone(), device);
        }
    }
    Ok(found)
}

/// A device the viewer may see; others answer not-found, as if they did not exist.
pub fn get_for(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
    viewer: &Viewer,
) -> DomainResult<Device> {
    let device = get(conn, tenant_id, id)?;
    if viewer.may_see(&device) {
        Ok(device)
    } else {
        Err(DomainError::NotFound("device"))
    }
}

/// Lookup by serial or machine number (normalised), among what the viewer may see.
pub fn lookup(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    serial: Option<&str>,
    machine_no: Option<&str>,
    viewer: &Viewer,
) -> DomainResult<Vec<Device>> {
    // Filtered in the query, so the limit counts only devices the caller may see; a
    // retired device is found by nobody (registration by serial looks up as staff).
    let mut query = visible_to(
        viewer,
        devices::table
            .filter(devices::tenant_id.eq(tenant_id.as_str()))
            .filter(devices::retired_at.is_null())
            .into_boxed(),
    );
    match (
        serial.map(code_key).filter(|k| !k.is_empty()),
        machine_no.map(code_key).filter(|k| !k.is_empty()),
    ) {
        (Some(key), _) => query = query.filter(devices::serial_key.eq(key)),
        (None, Some(key)) => query = query.filter(devices::machine_key.eq(key)),
        (None, None) => {
            return Err(DomainError::invalid(
                "serial",
                "required",
                "give serial or machine_no",
            ));
        }
    }
    let rows = query
        .order((devices::created_at.asc(), devices::id.asc()))
        .limit(20)
        .select(DeviceRow::as_select())
        .load(conn)?;
    rows.into_iter().map(Device::try_from).collect()
}

/// The devices `viewer` may see, as a query filter (`Viewer::may_see` for one device).
fn visible_to<'a>(
    viewer: &Viewer,
    query: devices::BoxedQuery<'a, MultiBackend>,
) -> devices::BoxedQuery<'a, MultiBackend> {
    match viewer {
        Viewer::Staff => query,
        Viewer::Customer {
            account_id: Some(mine),
        } => query.filter(devices::retired_at.is_null()).filter(
            devices::visibility
                .eq("public")
                .or(devices::account_id.eq(mine.clone())),
        ),
        _ => query
            .filter(devices::retired_at.is_null())
            .filter(devices::visibility.eq("public")),
    }
}

#[derive(Debug, Default, Clone)]
pub struct DeviceFilter {
    pub account_id: Option<String>,
    pub status: Option<DeviceStatus>,
    pub visibility: Option<Visibility>,
    /// Serial, machine number or name containing this text.
    pub q: Option<String>,
    /// Retired devices instead of the others (staff; terminals never see retired ones).
    pub retired: bool,
}

fn like(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// How the list pages: oldest first.
pub const DEVICES: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("devices");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &DeviceFilter,
    viewer: &Viewer,
    page: &PageRequest,
) -> DomainResult<Page<Device>> {
    let mut query = visible_to(
        viewer,
        devices::table
            .filter(devices::tenant_id.eq(tenant_id.as_str()))
            .into_boxed(),
    );
    query = if filter.retired {
        query.filter(devices::retired_at.is_not_null())
    } else {
        query.filter(devices::retired_at.is_null())
    };
    if let Some(account_id) = &filter.account_id {
        query = query.filter(devices::account_id.eq(account_id.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(devices::status.eq(to_text(status)));
    }
    if let Some(visibility) = filter.visibility {
        query = query.filter(devices::visibility.eq(to_text(visibility)));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let key = like(&code_key(q));
        let name = like(q);
        query = query.filter(
            devices::serial_key
                .like(key.clone())
                .escape('\\')
                .or(devices::machine_key.like(key).escape('\\'))
                .or(devices::name.like(name).escape('\\')),
        );
    }
    let rows = baoxiu_store::paginate(query, devices::created_at, devices::id, &DEVICES, page)?
        .select(DeviceRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Device::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(page.finish(&DEVICES, rows, |d| (d.created_at, d.id.clone())))
}

/// Replaces a device's fields (a PATCH reads the device, changes what it names, sends all).
pub fn update(
    tx: &mut Tx<'_>,
    id: &str,
    input: DeviceInput,
    expected_version: Option<i32>,
) -> DomainResult<Device> {
    tx.update_versioned(
        Versioned {
            action: "device.update",
            object_type: "device",
            object_id: id,
            expected: expected_version,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            let mut errors = Validator::new();
            check(tx.conn, &tx.actor.tenant_id, &input, &mut errors)?;
            errors.finish()?;
            let columns = DeviceColumns::new(
                &input,
                (before.warranty_status, before.status, before.visibility),
            );
            let updated = diesel::update(
                devices::table
                    .filter(devices::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(devices::id.eq(id))
                    .filter(devices::version.eq(before.version)),
            )
            .set((
                columns,
                devices::version.eq(before.version + 1),
                devices::updated_at.eq(tx.now),
            ))
            .execute(tx.conn);
            match updated {
                Err(e) if is_unique_violation(&e) => Err(serial_taken("")),
                other => Ok(other?),
            }
        },
    )
}

impl From<&Device> for DeviceInput {
    fn from(d: &Device) -> Self {
        Self {
            account_id: d.account_id.clone(),
            name: d.name.clone(),
            brand: d.brand.clone(),
            category: d.category.clone(),
            model: d.model.clone(),
            machine_no: d.machine_no.clone(),
            serial_no: d.serial_no.clone(),
            install_address: d.install_address.clone(),
            latitude: d.latitude,
            longitude: d.longitude,
            warranty_status: Some(d.warranty_status),
            warranty_ends_on: d.warranty_ends_on,
            status: Some(d.status),
            visibility: Some(d.visibility),
        }
    }
}

/// What became of a deleted device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Nothing referred to it: it is gone.
    Deleted,
    /// QR codes are bound to it, or work orders name it: it is kept, retired (hidden from
    /// lists and terminals).
    Retired,
}

/// Deletes a device nothing refers to; one that QR codes are bound to, or work orders
/// were reported for, is retired instead
/// (its codes stay bound to it, and scanning them answers not-found to terminals).
/// Retiring a retired device changes nothing.
pub fn delete(tx: &mut Tx<'_>, id: &str) -> DomainResult<Removal> {
    let before = get(tx.conn, &tx.actor.tenant_id, id)?;
    let codes: i64 = qr_codes::table
        .filter(qr_codes::tenant_id.eq(tx.actor.tenant_id.as_str()))
        .filter(qr_codes::device_id.eq(id))
        .count()
        .get_result(tx.conn)?;
    let orders = codes == 0
        && diesel::select(diesel::dsl::exists(
            work_orders::table
                .filter(work_orders::tenant_id.eq(tx.actor.tenant_id.as_str()))
                .filter(work_orders::device_id.eq(id)),
        ))
        .get_result::<bool>(tx.conn)?;
    if codes > 0 || orders {
        if before.retired_at.is_some() {
            return Ok(Removal::Retired);
        }
        let updated = diesel::update(
            devices::table
                .filter(devices::tenant_id.eq(tx.actor.tenant_id.as_str()))
                .filter(devices::id.eq(id))
                .filter(devices::retired_at.is_null()),
        )
        .set((
            devices::retired_at.eq(tx.now),
            devices::version.eq(before.version + 1),
            devices::updated_at.eq(tx.now),
        ))
        .execute(tx.conn)?;
        if updated == 0 {
            return Ok(Removal::Retired);
        }
        let after = get(tx.conn, &tx.actor.tenant_id, id)?;
        tx.audit(Change {
            action: "device.retire",
            object_type: "device",
            object_id: id,
            before: Some(&before),
            after: Some(&after),
        })?;
        return Ok(Removal::Retired);
    }
    let deleted = diesel::delete(
        devices::table
            .filter(devices::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(devices::id.eq(id)),
    )
    .execute(tx.conn)?;
    baoxiu_core::removed(deleted, "device")?;
    tx.audit(Change::<_, ()> {
        action: "device.delete",
        object_type: "device",
        object_id: id,
        before: Some(&before),
        after: None,
    })?;
    Ok(Removal::Deleted)
}

/// The longest install address a customer may give with a location.
pub const MAX_ADDRESS_CHARS: usize = 200;

/// Records where a device is, as a customer captured it on the spot (registration by
/// serial): validated, versioned and audited like a staff change; the address is kept
/// when none is given.
pub fn update_location(
    tx: &mut Tx<'_>,
    id: &str,
    latitude: f64,
    longitude: f64,
    address: Option<&str>,
) -> DomainResult<Device> {
    tx.update_versioned(
        Versioned {
            action: "device.update_location",
            object_type: "device",
            object_id: id,
            expected: None,
        },
        |conn, tenant_id| get(conn, tenant_id, id),
        |before| before.version,
        |tx, before| {
            let mut errors = Validator::new();
            errors.check(
                (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude),
                "device_location",
                "out_of_range",
                "latitude -90 to 90, longitude -180 to 180",
            );
            let address = address.map(str::trim).filter(|a| !a.is_empty());
            errors.check(
                address.is_none_or(|a| a.chars().count() <= MAX_ADDRESS_CHARS),
                "device_location.address",
                "too_long",
                &format!("at most {MAX_ADDRESS_CHARS} characters"),
            );
            errors.finish()?;
            diesel::update(
                devices::table
                    .filter(devices::tenant_id.eq(tx.actor.tenant_id.as_str()))
                    .filter(devices::id.eq(id))
                    .filter(devices::version.eq(before.version)),
            )
            .set((
                devices::latitude.eq(latitude),
                devices::longitude.eq(longitude),
                devices::install_address.eq(address.unwrap_or(&before.install_address)),
                devices::version.eq(before.version + 1),
                devices::updated_at.eq(tx.now),
            ))
            .execute(tx.conn)
            .map_err(Into::into)
        },
    )
}
