//! Devices in and out of CSV files, as spreadsheets save them: UTF-8 with or without a BOM,
//! a header row naming the columns (in English or Chinese), one device per row.
//!
//! An import checks every row before it writes any: a file with bad rows imports nothing
//! unless the caller asks for a partial import, which keeps the good rows. Rows are
//! numbered as a spreadsheet shows them: the header is row 1.
//!
//! An import runs in steps, so that a large file keeps no other request waiting: the file
//! is read and checked with no connection ([`parse_file`]), then against the database in
//! one read ([`check`]), then written [`BATCH_ROWS`] rows per write transaction
//! ([`write_batch`]), the audit entry with the last batch. A serial another request took
//! after the check fails its batch: a partial import checks that batch again and keeps
//! the rest; any other import removes what its earlier batches wrote ([`remove`]) and
//! answers the row. (A crash between two batches keeps the batches written.)

use std::collections::{HashMap, HashSet};

use baoxiu_accounts::tenants;
use baoxiu_core::csv_file::{self, enum_cell, safe_cell, safe_optional};
use baoxiu_core::{
    Actor, DomainError, DomainResult, FieldError, Page, PageRequest, TenantId, Validator,
};
use baoxiu_store::Change;
use baoxiu_store::schema::{accounts, devices, qr_codes};
use baoxiu_store::{Db, DbConn};
use baoxiu_store::{Tx, Work};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::devices::{Device, DeviceFilter, DeviceInput, Viewer};
use crate::keys::code_key;

/// The most data rows one file may hold.
pub const MAX_ROWS: usize = 50_000;

/// The columns, in the order an export writes them, with the headers an import accepts.
const COLUMNS: [(Column, &str, &[&str]); 14] = [
    (Column::SerialNo, "serial_no", &["序列号", "sn"]),
    (Column::MachineNo, "machine_no", &["机器编号", "机号"]),
    (Column::Name, "name", &["名称", "设备名称"]),
    (Column::Brand, "brand", &["品牌"]),
    (Column::Category, "category", &["类别", "分类"]),
    (Column::Model, "model", &["型号"]),
    (
        Column::InstallAddress,
        "install_address",
        &["安装地址", "地址"],
    ),
    (Column::Latitude, "latitude", &["纬度"]),
    (Column::Longitude, "longitude", &["经度"]),
    (Column::WarrantyStatus, "warranty_status", &["保修状态"]),
    (
        Column::WarrantyEndsOn,
        "warranty_ends_on",
        &["保修截止日期", "保修到期"],
    ),
    (Column::Status, "status", &["状态"]),
    (Column::Visibility, "visibility", &["可见性"]),
    (Column::AccountId, "account_id", &["客户账户", "账户"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    SerialNo,
    MachineNo,
    Name,
    Brand,
    Category,
    Model,
    InstallAddress,
    Latitude,
    Longitude,
    WarrantyStatus,
    WarrantyEndsOn,
    Status,
    Visibility,
    AccountId,
}

impl Column {
    fn name(self) -> &'static str {
        COLUMNS
            .iter()
            .find(|(c, ..)| *c == self)
            .map(|(_, name, _)| *name)
            .unwrap_or_default()
    }

    fn from_header(header: &str) -> Option<Self> {
        let header = header.trim().to_lowercase();
        COLUMNS
            .iter()
            .find(|(_, name, aliases)| *name == header || aliases.contains(&header.as_str()))
            .map(|(c, ..)| *c)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Keep the good rows of a file that has bad ones.
    pub partial: bool,
    /// Check everything, write nothing.
    pub dry_run: bool,
}

/// A row that was not imported, and why; `field` of each error names the column.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RejectedRow {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: usize,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows: usize,
    /// Devices created (for a dry run: that would have been created).
    pub imported: usize,
    pub rejected: Vec<RejectedRow>,
    pub dry_run: bool,
}

/// One data row, read and checked as far as the row alone allows.
struct ParsedRow {
    row: usize,
    input: DeviceInput,
    errors: Validator,
}

/// A file read and checked as far as the file alone allows.
pub struct ParsedFile {
    rows: Vec<ParsedRow>,
}

/// Reads a file and checks every cell, with no connection held: a bad encoding, header
/// or layout fails here.
pub fn parse_file(file: &[u8]) -> DomainResult<ParsedFile> {
    Ok(ParsedFile { rows: parse(file)? })
}

/// An import checked against the database: the rows to write and the rows refused.
pub struct ImportPlan {
    rows: usize,
    good: Vec<ParsedRow>,
    rejected: Vec<RejectedRow>,
    options: ImportOptions,
}

/// Rows written per write transaction: between two batches, other writers have the
/// database.
pub const BATCH_ROWS: usize = 1000;

/// Checks the rows against the database (owner accounts exist, serials are free), in
/// one read. Without `partial`, any bad row makes the whole import a validation error
/// naming every bad row (`rows.7.serial_no`).
pub fn check(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    file: ParsedFile,
    options: ImportOptions,
) -> DomainResult<ImportPlan> {
    let mut rows = file.rows;
    check_accounts(conn, tenant_id, &mut rows)?;
    check_serials(conn, tenant_id, &mut rows)?;
    let (good, rejected): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|row| row.errors.is_empty());
    let rejected: Vec<RejectedRow> = rejected
        .into_iter()
        .map(|row| RejectedRow {
            row: row.row,
            errors: row.errors.into_errors(),
        })
        .collect();
    if !rejected.is_empty() && !options.partial {
        return Err(rows_error(&rejected));
    }
    Ok(ImportPlan {
        rows: good.len() + rejected.len(),
        good,
        rejected,
        options,
    })
}

fn rows_error(rejected: &[RejectedRow]) -> DomainError {
    DomainError::Validation(
        rejected
            .iter()
            .flat_map(|r| {
                r.errors.iter().map(|e| {
                    FieldError::new(
                        format!("rows.{}.{}", r.row, e.field),
                        e.code.clone(),
                        e.message.clone(),
                    )
                })
            })
            .collect(),
    )
}

impl ImportPlan {
    /// What the import did, or would do (a dry run): the rows still to write count as
    /// imported.
    pub fn report(&self) -> ImportReport {
        let mut rejected = self.rejected.clone();
        rejected.sort_by_key(|r| r.row);
        // A batch written again refuses its rows again.
        rejected.dedup_by_key(|r| r.row);
        ImportReport {
            rows: self.rows,
            imported: self.rows - rejected.len(),
            rejected,
            dry_run: self.options.dry_run,
        }
    }

    /// How many batches the rows to write make: at least one, whose last writes the
    /// audit entry.
    pub fn batches(&self) -> usize {
        self.good.len().div_ceil(BATCH_ROWS).max(1)
    }
}

/// Writes batch `batch` (0-based) of the plan: its rows whose serial is still free, each
/// a device, and with the last batch the import's audit entry. Answers the ids written.
/// A serial taken since the check is a validation error naming its row, unless the
/// import is partial: then the row joins the refused ones. Runs in a write transaction
/// of its own; a batch that fails writes nothing and may be written again.
pub fn write_batch(
    tx: &mut Tx<'_>,
    plan: &mut ImportPlan,
    batch: usize,
) -> DomainResult<Vec<String>> {
    let start = (batch * BATCH_ROWS).min(plan.good.len());
    let end = (start + BATCH_ROWS).min(plan.good.len());
    let keys: Vec<String> = plan.good[start..end]
        .iter()
        .filter_map(|r| r.input.serial_no.as_deref().map(code_key))
        .collect();
    let taken = taken_serials(tx.conn, &tx.actor.tenant_id, &keys)?;
    let (free, now_taken): (Vec<&ParsedRow>, Vec<&ParsedRow>) =
        plan.good[start..end].iter().partition(|row| {
            !row.input
                .serial_no
                .as_deref()
                .is_some_and(|serial| taken.contains(&code_key(serial)))
        });
    let now_taken: Vec<RejectedRow> = now_taken
        .into_iter()
        .map(|row| RejectedRow {
            row: row.row,
            errors: vec![FieldError::new(
                "serial_no",
                "taken",
                "another device has this serial number",
            )],
        })
        .collect();
    if !now_taken.is_empty() && !plan.options.partial {
        return Err(rows_error(&now_taken));
    }
    let mut ids = Vec::new();
    for row in free {
        ids.push(crate::devices::insert(
            tx.conn,
            &tx.actor.tenant_id,
            &row.input,
            &format!("rows.{}.", row.row),
            tx.now,
        )?);
    }
    // Refused tx.now, but kept among the rows to write so that later batches keep their place.
    plan.rejected.extend(now_taken);
    if end == plan.good.len() {
        let report = plan.report();
        tx.audit(Change::<(), _> {
            action: "device.import",
            object_type: "device",
            object_id: "",
            before: None,
            after: Some(&serde_json::json!({
                "rows": report.rows,
                "imported": report.imported,
                "rejected": report.rejected.len(),
            })),
        })?;
    }
    Ok(ids)
}

/// Removes devices an import wrote in its earlier batches, when a later one failed
/// (their QR codes, if any were bound meanwhile, become blank again).
pub fn remove(conn: &mut DbConn, tenant_id: &TenantId, ids: &[String]) -> DomainResult<()> {
    for chunk in ids.chunks(500) {
        diesel::update(
            qr_codes::table
                .filter(qr_codes::tenant_id.eq(tenant_id.as_str()))
                .filter(qr_codes::device_id.eq_any(chunk)),
        )
        .set((
            qr_codes::device_id.eq(None::<String>),
            qr_codes::bound_at.eq(None::<NaiveDateTime>),
            qr_codes::bound_by.eq(None::<String>),
        ))
        .execute(conn)?;
        diesel::delete(
            devices::table
                .filter(devices::tenant_id.eq(tenant_id.as_str()))
                .filter(devices::id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Imports a CSV file in the steps of the module documentation, each in a transaction
/// of its own (none while the file is read). Blocking: call it from the blocking pool.
pub fn import(
    db: &Db,
    actor: &Actor,
    file: &[u8],
    options: ImportOptions,
    now: NaiveDateTime,
) -> DomainResult<ImportReport> {
    let parsed = parse_file(file)?;
    let mut plan = db.read(|conn| check(conn, &actor.tenant_id, parsed, options))?;
    if options.dry_run {
        return Ok(plan.report());
    }
    let mut written: Vec<String> = Vec::new();
    for batch in 0..plan.batches() {
        let mut tries = 0;
        let ids = loop {
            tries += 1;
            let attempt = db.run(Work::Write, actor.clone(), now, |tx| {
                tenants::require_active(tx.conn, &tx.actor.tenant_id, now)?;
                write_batch(tx, &mut plan, batch)
            });
            match attempt {
                Ok(ids) => break ids,
                // A serial taken by a transaction still open when the batch was checked:
                // checked again, its row is refused and the others kept.
                Err(DomainError::Validation(_)) if plan.options.partial && tries < 3 => {}
                Err(error) => {
                    if !written.is_empty() {
                        db.write(|conn| remove(conn, &actor.tenant_id, &written))?;
                    }
                    return Err(error);
                }
            }
        };
        written.extend(ids);
    }
    Ok(plan.report())
}

fn file_error(code: &str, message: impl Into<String>) -> DomainError {
    DomainError::invalid("file", code, message)
}

/// Reads the file into rows, each with the errors its own cells show.
fn parse(file: &[u8]) -> DomainResult<Vec<ParsedRow>> {
    let file = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
    if std::str::from_utf8(file).is_err() {
        return Err(file_error(
            "encoding",
            "the file must be UTF-8 (in Excel: save as \"CSV UTF-8\")",
        ));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(file_error("malformed", format!("row 1: {e}"))),
        None => return Err(file_error("empty", "the file is empty")),
    };
    let columns = header_columns(&header)?;
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let row = index + 2;
        let record = record.map_err(|e| file_error("malformed", format!("row {row}: {e}")))?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue; // Spreadsheets leave empty rows at the end.
        }
        if rows.len() == MAX_ROWS {
            return Err(file_error(
                "too_many_rows",
                format!("a file may hold at most {MAX_ROWS} devices"),
            ));
        }
        rows.push(parse_row(row, &columns, &record));
    }
    if rows.is_empty() {
        return Err(file_error("empty", "the file has a header but no devices"));
    }
    Ok(rows)
}

/// The column of each cell position; `None` for a column without a header, whose cells
/// are ignored (spreadsheets add them after the last column).
fn header_columns(header: &::csv::StringRecord) -> DomainResult<Vec<Option<Column>>> {
    let mut errors = Validator::new();
    let mut columns = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        if cell.trim().is_empty() {
            columns.push(None);
            continue;
        }
        match Column::from_header(cell) {
            Some(column) if columns.contains(&Some(column)) => errors.push(FieldError::new(
                format!("header.{}", i + 1),
                "duplicate_column",
                format!("the column {} appears twice", column.name()),
            )),
            Some(column) => columns.push(Some(column)),
            None => errors.push(FieldError::new(
                format!("header.{}", i + 1),
                "unknown_column",
                format!(
                    "unknown column \"{}\"; the columns are {}",
                    cell.trim(),
                    COLUMNS.map(|(_, name, _)| name).join(", ")
                ),
            )),
        }
    }
    errors.check(
        columns.contains(&Some(Column::Name)),
        "header",
        "required",
        "the header must have a name column",
    );
    errors.finish()?;
    Ok(columns)
}

/// A cell as written: trimmed, and without the `'` an export puts before text a
/// spreadsheet would otherwise run as a formula.
fn cell_text(cell: &str) -> &str {
    csv_file::unguarded(cell.trim())
}

fn parse_row(row: usize, columns: &[Option<Column>], record: &::csv::StringRecord) -> ParsedRow {
    let mut errors = Validator::new();
    let mut input = DeviceInput::default();
    if record.len() > columns.len() {
        errors.push(FieldError::new(
            "row",
            "too_many_cells",
            format!("{} cells for {} columns", record.len(), columns.len()),
        ));
    }
    for (column, cell) in columns.iter().zip(record.iter()) {
        let Some(column) = column else { continue };
        let text = cell_text(cell);
        let some = (!text.is_empty()).then(|| text.to_owned());
        let number = |t: &str| t.parse::<f64>().ok().filter(|n| n.is_finite());
        let some_text = some.as_deref();
        match column {
            Column::SerialNo => input.serial_no = some,
            Column::MachineNo => input.machine_no = some,
            Column::Name => input.name = text.to_owned(),
            Column::Brand => input.brand = text.to_owned(),
            Column::Category => input.category = text.to_owned(),
            Column::Model => input.model = text.to_owned(),
            Column::InstallAddress => input.install_address = text.to_owned(),
            Column::AccountId => input.account_id = some,
            Column::Latitude => {
                input.latitude = typed(some_text.map(number), *column, "not a number", &mut errors)
            }
            Column::Longitude => {
                input.longitude = typed(some_text.map(number), *column, "not a number", &mut errors)
            }
            Column::WarrantyEndsOn => {
                input.warranty_ends_on = typed(
                    some_text.map(parse_date),
                    *column,
                    "not a date (2026-12-31)",
                    &mut errors,
                );
            }
            Column::WarrantyStatus => {
                input.warranty_status = typed(
                    some_text.map(parse_enum),
                    *column,
                    "one of in_warranty, out_of_warranty, contract, factory",
                    &mut errors,
                );
            }
            Column::Status => {
                input.status = typed(
                    some_text.map(parse_enum),
                    *column,
                    "one of running, fault, in_repair, retired",
                    &mut errors,
                );
            }
            Column::Visibility => {
                input.visibility = typed(
                    some_text.map(parse_enum),
                    *column,
                    "one of public, private",
                    &mut errors,
                );
            }
        }
    }
    crate::devices::check_fields(&input, "", &mut errors);
    ParsedRow { row, input, errors }
}

/// A typed cell: empty (`None`) leaves the default; text that did not parse
/// (`Some(None)`) is an error naming what was expected.
fn typed<T>(
    parsed: Option<Option<T>>,
    column: Column,
    expected: &str,
    errors: &mut Validator,
) -> Option<T> {
    if matches!(parsed, Some(None)) {
        errors.push(FieldError::new(column.name(), "invalid", expected));
    }
    parsed.flatten()
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
}

fn parse_enum<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_lowercase())).ok()
}

/// Marks rows whose owner account does not exist in the tenant.
fn check_accounts(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    rows: &mut [ParsedRow],
) -> DomainResult<()> {
    let wanted: HashSet<&str> = rows
        .iter()
        .filter_map(|r| r.input.account_id.as_deref())
        .collect();
    let wanted: Vec<String> = wanted.into_iter().map(str::to_owned).collect();
    let mut known = HashSet::new();
    for chunk in wanted.chunks(500) {
        known.extend(
            accounts::table
                .filter(accounts::tenant_id.eq(tenant_id.as_str()))
                .filter(accounts::id.eq_any(chunk))
                .select(accounts::id)
                .load::<String>(conn)?,
        );
    }
    for row in rows.iter_mut() {
        if let Some(account_id) = &row.input.account_id
            && !known.contains(account_id)
        {
            row.errors.push(FieldError::new(
                "account_id",
                "not_found",
                "no such account",
            ));
        }
    }
    Ok(())
}

/// Marks rows whose serial number another device has, or an earlier row of the file.
fn check_serials(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    rows: &mut [ParsedRow],
) -> DomainResult<()> {
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|r| r.input.serial_no.as_deref().map(code_key))
        .collect();
    let taken = taken_serials(conn, tenant_id, &keys)?;
    let mut first_row: HashMap<String, usize> = HashMap::new();
    for row in rows.iter_mut() {
        let Some(key) = row.input.serial_no.as_deref().map(code_key) else {
            continue;
        };
        if taken.contains(&key) {
            row.errors.push(FieldError::new(
                "serial_no",
                "taken",
                "another device has this serial number",
            ));
        } else if let Some(first) = first_row.get(&key) {
            row.errors.push(FieldError::new(
                "serial_no",
                "duplicate",
                format!("row {first} has this serial number too"),
            ));
        } else {
            first_row.insert(key, row.row);
        }
    }
    Ok(())
}

/// The serial keys among `keys` that devices of the tenant have.
fn taken_serials(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    keys: &[String],
) -> DomainResult<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in keys.chunks(500) {
        taken.extend(
            devices::table
                .filter(devices::tenant_id.eq(tenant_id.as_str()))
                .filter(devices::serial_key.eq_any(chunk))
                .select(devices::serial_key.assume_not_null())
                .load::<String>(conn)?,
        );
    }
    Ok(taken)
}

/// The header row of an export: the columns an import reads.
pub fn export_header() -> [&'static str; 14] {
    COLUMNS.map(|(_, name, _)| name)
}

/// One batch of an export: the rows of one page of the tenant's devices matching
/// `filter` (one statement), and the cursor of the next batch.
pub fn export_batch(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    filter: &DeviceFilter,
    page: &PageRequest,
) -> DomainResult<Page<Vec<String>>> {
    Ok(crate::devices::list(conn, tenant_id, filter, &Viewer::Staff, page)?.map(|d| record(&d)))
}

fn record(device: &Device) -> Vec<String> {
    let optional = |v: &Option<String>| safe_optional(v.as_deref());
    let number = |v: Option<f64>| v.map(|n| n.to_string()).unwrap_or_default();
    COLUMNS
        .iter()
        .map(|(column, ..)| match column {
            Column::SerialNo => optional(&device.serial_no),
            Column::MachineNo => optional(&device.machine_no),
            Column::Name => safe_cell(&device.name),
            Column::Brand => safe_cell(&device.brand),
            Column::Category => safe_cell(&device.category),
            Column::Model => safe_cell(&device.model),
            Column::InstallAddress => safe_cell(&device.install_address),
            Column::Latitude => number(device.latitude),
            Column::Longitude => number(device.longitude),
            Column::WarrantyStatus => enum_cell(device.warranty_status),
            Column::WarrantyEndsOn => device
                .warranty_ends_on
                .map(|d| d.to_string())
                .unwrap_or_default(),
            Column::Status => enum_cell(device.status),
            Column::Visibility => enum_cell(device.visibility),
            Column::AccountId => device.account_id.clone().unwrap_or_default(),
        })
        .collect()
}
