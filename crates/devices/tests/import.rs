//! A CSV import written in batches, step by step: a serial number another request takes
//! between the check and the write refuses the file (and the batches written before are
//! removed again) or, in a partial import, that row alone. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use baoxiu_accounts::tenants::{self, SignUp};
use baoxiu_core::{Actor, ActorKind, DomainError};
use baoxiu_devices::devices::{self, DeviceInput};
use baoxiu_devices::transfer::{self, BATCH_ROWS, ImportOptions};
use baoxiu_store::testing::TestDatabase;
use baoxiu_store::{Backend, Db, Work};
use diesel::prelude::*;

fn tenant(db: &Db) -> Actor {
    let now = chrono::Utc::now().naive_utc();
    db.write(|conn| -> Result<Actor, DomainError> {
        let valid = tenants::validate_sign_up(
            conn,
            &SignUp {
                mobile: "13800138000".into(),
                provider_name: "导入测试有限公司".into(),
                password: "correct-horse-battery".into(),
                slug: "importer".into(),
                admin_name: None,
            },
        )?;
        let (tenant, _) = tenants::sign_up(conn, valid, now)?;
        Ok(Actor {
            tenant_id: tenant.tenant_id(),
            kind: ActorKind::System,
            id: "test".into(),
            request_id: None,
        })
    })
    .unwrap()
}

/// `rows` devices with serials `{prefix}-00000`, ... (row n + 2 has serial n).
fn file(prefix: &str, rows: usize) -> String {
    let mut file = String::from("serial_no,name\n");
    for i in 0..rows {
        file.push_str(&format!("{prefix}-{i:05},设备 {i}\n"));
    }
    file
}

fn count(db: &Db, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    db.read(|conn| -> Result<i64, DomainError> {
        Ok(
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(conn)?
                .n,
        )
    })
    .unwrap()
}

/// Someone else's device with this serial, written between two batches.
fn take_serial(db: &Db, actor: &Actor, serial: &str) {
    let now = chrono::Utc::now().naive_utc();
    db.run(Work::Write, actor.clone(), now, |tx| {
        devices::create(
            tx,
            DeviceInput {
                name: "抢先登记".into(),
                serial_no: Some(serial.into()),
                ..DeviceInput::default()
            },
        )
    })
    .unwrap();
}

fn serial_taken_after_the_check(backend: Backend) {
    let database = TestDatabase::new(backend);
    let db = Db::open(&database.url, 2).unwrap();
    let actor = tenant(&db);
    let now = chrono::Utc::now().naive_utc();
    let rows = BATCH_ROWS + 500;

    // All or nothing: the first batch is written, a serial of the second is taken, and
    // the import fails naming the row; what it wrote is removed.
    let whole = ImportOptions::default();
    let parsed = transfer::parse_file(file("AN", rows).as_bytes()).unwrap();
    let mut plan = db
        .read(|conn| transfer::check(conn, &actor.tenant_id, parsed, whole))
        .unwrap();
    assert_eq!(plan.batches(), 2);
    let first = db
        .run(Work::Write, actor.clone(), now, |tx| {
            transfer::write_batch(tx, &mut plan, 0)
        })
        .unwrap();
    assert_eq!(first.len(), BATCH_ROWS);
    take_serial(&db, &actor, "AN-01200");
    let failed = db
        .run(Work::Write, actor.clone(), now, |tx| {
            transfer::write_batch(tx, &mut plan, 1)
        })
        .unwrap_err();
    let DomainError::Validation(errors) = failed else {
        panic!("{failed:?}")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "rows.1202.serial_no");
    assert_eq!(errors[0].code, "taken");
    db.write(|conn| transfer::remove(conn, &actor.tenant_id, &first))
        .unwrap();
    assert_eq!(count(&db, "devices"), 1, "only the other request's device");
    assert_eq!(count(&db, "audit_log WHERE action = 'device.import'"), 0);

    // Partial: the taken row is refused, the rest written, one audit entry.
    let partial = ImportOptions {
        partial: true,
        dry_run: false,
    };
    let parsed = transfer::parse_file(file("PA", rows).as_bytes()).unwrap();
    let mut plan = db
        .read(|conn| transfer::check(conn, &actor.tenant_id, parsed, partial))
        .unwrap();
    db.run(Work::Write, actor.clone(), now, |tx| {
        transfer::write_batch(tx, &mut plan, 0)
    })
    .unwrap();
    take_serial(&db, &actor, "PA-01499");
    let second = db
        .run(Work::Write, actor.clone(), now, |tx| {
            transfer::write_batch(tx, &mut plan, 1)
        })
        .unwrap();
    assert_eq!(second.len(), 499);
    let report = plan.report();
    assert_eq!((report.rows, report.imported), (rows, rows - 1));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].row, 1501);
    assert_eq!(report.rejected[0].errors[0].code, "taken");
    assert_eq!(count(&db, "devices"), 2 + (rows as i64 - 1));
    assert_eq!(count(&db, "audit_log WHERE action = 'device.import'"), 1);
}

#[test]
fn a_serial_taken_after_the_check_refuses_the_file_or_its_row_sqlite() {
    serial_taken_after_the_check(Backend::Sqlite);
}

#[test]
fn a_serial_taken_after_the_check_refuses_the_file_or_its_row_postgres() {
    serial_taken_after_the_check(Backend::Postgres);
}
