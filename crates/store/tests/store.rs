//! Both migration trees have the same versions, and every table of the schema loads on
//! both backends after migrating.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use baoxiu_store::schema::*;
use baoxiu_store::testing::TestDatabase;
use baoxiu_store::{Backend, Db};
use diesel::prelude::*;

fn versions(backend: &str) -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/").to_owned() + backend;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_trees_have_the_same_versions() {
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, versions("postgres"));
}

/// The Rust type a column of this SQL type loads into, so that a whole row of any table
/// loads without naming its types by hand.
trait Loads {
    type Out;
    const COLUMNS: usize;
}

macro_rules! loads_as {
    ($($sql:ty => $out:ty),* $(,)?) => {$(
        impl Loads for $sql {
            type Out = $out;
            const COLUMNS: usize = 1;
        }
        impl Loads for diesel::sql_types::Nullable<$sql> {
            type Out = Option<$out>;
            const COLUMNS: usize = 1;
        }
    )*};
}

loads_as!(
    diesel::sql_types::Text => String,
    diesel::sql_types::Integer => i32,
    diesel::sql_types::BigInt => i64,
    diesel::sql_types::Bool => bool,
    diesel::sql_types::Double => f64,
    diesel::sql_types::Timestamp => chrono::NaiveDateTime,
    diesel::sql_types::Date => chrono::NaiveDate,
    diesel::sql_types::Binary => Vec<u8>,
);

macro_rules! loads_tuple {
    ($($t:ident),+) => {
        impl<$($t: Loads),+> Loads for ($($t,)+) {
            type Out = ($($t::Out,)+);
            const COLUMNS: usize = 0 $(+ $t::COLUMNS)+;
        }
    };
}

loads_tuple!(A);
loads_tuple!(A, B);
loads_tuple!(A, B, C);
loads_tuple!(A, B, C, D);
loads_tuple!(A, B, C, D, E);
loads_tuple!(A, B, C, D, E, F);
loads_tuple!(A, B, C, D, E, F, G);
loads_tuple!(A, B, C, D, E, F, G, H);
loads_tuple!(A, B, C, D, E, F, G, H, I);
loads_tuple!(A, B, C, D, E, F, G, H, I, J);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S);
loads_tuple!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T);
loads_tuple!(
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U
);
loads_tuple!(
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V
);
loads_tuple!(
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W
);
loads_tuple!(
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45, T46
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45, T46, T47
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45, T46, T47, T48
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45, T46, T47, T48, T49
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45, T46, T47, T48, T49, T50
);
loads_tuple!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21,
    T22, T23, T24, T25, T26, T27, T28, T29, T30, T31, T32, T33, T34, T35, T36, T37, T38, T39, T40,
    T41, T42, T43, T44, T45, T46, T47, T48, T49, T50, T51
);

/// Every table of schema.rs: its name, its column count, and a function that reads every
/// column of every row (`SELECT` of `all_columns`, loaded into the columns' Rust types).
type TableCheck = (
    &'static str,
    usize,
    fn(&mut baoxiu_store::DbConn) -> QueryResult<usize>,
);

macro_rules! every_table {
    ($($table:ident),* $(,)?) => {
        [$(
            (
                stringify!($table),
                <$table::SqlType as Loads>::COLUMNS,
                (|conn: &mut baoxiu_store::DbConn| -> QueryResult<usize> {
                    type Row = <$table::SqlType as Loads>::Out;
                    Ok($table::table.select($table::all_columns).load::<Row>(conn)?.len())
                }) as fn(&mut baoxiu_store::DbConn) -> QueryResult<usize>,
            ),
        )*]
    };
}

fn every_table() -> Vec<TableCheck> {
    every_table!(
        tenants,
        tenant_settings,
        staff_users,
        refresh_tokens,
        sms_codes,
        password_failures,
        tenant_domains,
        audit_log,
        accounts,
        contacts,
        terminal_roles,
        terminal_users,
        external_enterprises,
        terminal_user_roles,
        wechat_identities,
        registration_policies,
        registration_methods,
        registration_method_roles,
        registration_method_owners,
        registrations,
        registration_attempts,
        invitation_codes,
        wechat_apps,
        devices,
        qr_settings,
        qr_codes,
        jobs,
        job_schedules,
        wechat_app_ids,
        tenant_hosts,
        counters,
        idempotency_keys,
        form_templates,
        attachments,
        outbox_events,
        work_orders,
        work_order_events,
    )
    .to_vec()
}

/// The tables `schema.rs` declares, read from its text (so a table added there and not to
/// the list above fails the test).
fn declared_tables() -> Vec<String> {
    let schema = include_str!("../src/schema.rs");
    let mut names: Vec<String> = schema
        .split("diesel::table! {")
        .skip(1)
        .filter_map(|block| {
            block
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with("///"))
                .and_then(|line| line.split_whitespace().next())
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

#[derive(QueryableByName)]
struct CatalogColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
}

/// The tables and columns the database has (migration bookkeeping aside).
fn catalog_columns(conn: &mut baoxiu_store::DbConn) -> Vec<(String, String)> {
    let sql = match conn {
        baoxiu_store::DbConn::Sqlite(_) => {
            "SELECT m.name AS table_name, c.name AS column_name
             FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
               AND m.name <> '__diesel_schema_migrations'"
        }
        baoxiu_store::DbConn::Postgresql(_) => {
            "SELECT table_name::TEXT AS table_name, column_name::TEXT AS column_name
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'"
        }
    };
    let mut columns: Vec<(String, String)> = diesel::sql_query(sql)
        .load::<CatalogColumn>(conn)
        .unwrap()
        .into_iter()
        .map(|c| (c.table_name, c.column_name))
        .collect();
    columns.sort();
    columns
}

/// Every table of schema.rs is in the list, every table of the database is in schema.rs
/// with as many columns, and every column of every table loads.
fn every_column_of_every_table_loads(conn: &mut baoxiu_store::DbConn) {
    let checks = every_table();
    let mut listed: Vec<String> = checks.iter().map(|(name, ..)| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(
        listed,
        declared_tables(),
        "the list names every table of schema.rs"
    );
    let columns = catalog_columns(conn);
    let mut in_database: Vec<String> = columns.iter().map(|(t, _)| t.clone()).collect();
    in_database.dedup();
    assert_eq!(
        listed, in_database,
        "schema.rs declares every table of the database"
    );
    for (name, count, load) in checks {
        let in_catalog = columns.iter().filter(|(t, _)| t == name).count();
        assert_eq!(
            count, in_catalog,
            "schema.rs declares every column of {name}"
        );
        load(conn).unwrap_or_else(|e| panic!("reading every column of {name}: {e}"));
    }
}

fn every_table_loads(backend: Backend) {
    let test_db = TestDatabase::new(backend);
    let db = Db::open(&test_db.url, 2).unwrap();
    assert_eq!(db.backend(), backend);
    db.read(|conn| -> Result<(), baoxiu_core::DomainError> {
        every_column_of_every_table_loads(conn);
        Ok(())
    })
    .unwrap();
    // Opening again finds nothing left to migrate.
    Db::open(&test_db.url, 1).unwrap();
}

fn raw_connection(test_db: &TestDatabase) -> baoxiu_store::DbConn {
    use baoxiu_store::DbConn;
    match test_db.backend() {
        Backend::Sqlite => DbConn::Sqlite(
            SqliteConnection::establish(test_db.url.trim_start_matches("sqlite://")).unwrap(),
        ),
        Backend::Postgres => DbConn::Postgresql(PgConnection::establish(&test_db.url).unwrap()),
    }
}

/// Every down migration runs, back to an empty database, and every up migration again.
fn every_migration_goes_down_and_up(backend: Backend) {
    use baoxiu_store::DbConn;
    use baoxiu_store::migrations::{POSTGRES, SQLITE};
    use diesel_migrations::MigrationHarness;

    let test_db = TestDatabase::new(backend);
    drop(Db::open(&test_db.url, 1).unwrap());
    let mut conn = raw_connection(&test_db);
    let reverted = match &mut conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE),
        DbConn::Postgresql(c) => c.revert_all_migrations(POSTGRES),
    }
    .unwrap();
    assert_eq!(reverted.len(), versions(backend.name()).len());
    assert!(
        catalog_columns(&mut conn).is_empty(),
        "down leaves no table"
    );
    baoxiu_store::migrations::run_pending(&mut conn).unwrap();
    every_column_of_every_table_loads(&mut conn);
}

#[test]
fn every_migration_goes_down_and_up_on_sqlite() {
    every_migration_goes_down_and_up(Backend::Sqlite);
}

#[test]
fn every_migration_goes_down_and_up_on_postgres() {
    every_migration_goes_down_and_up(Backend::Postgres);
}

#[test]
fn every_table_loads_on_sqlite() {
    every_table_loads(Backend::Sqlite);
}

#[test]
fn every_table_loads_on_postgres() {
    every_table_loads(Backend::Postgres);
}

#[test]
fn unknown_urls_are_refused() {
    assert!(Db::open("mysql://localhost/x", 1).is_err());
    assert!(Db::open("./data.db", 1).is_err());
    assert!(Db::open("sqlite://", 1).is_err());
}

#[test]
fn a_failed_write_changes_nothing() {
    let test_db = TestDatabase::sqlite();
    let db = Db::open(&test_db.url, 2).unwrap();
    let result: Result<(), baoxiu_core::DomainError> = db.write(|conn| {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::tenant_id.eq("t"),
                audit_log::id.eq("1"),
                audit_log::actor_kind.eq("system"),
                audit_log::actor_id.eq("x"),
                audit_log::action.eq("a.b"),
                audit_log::object_type.eq("a"),
                audit_log::object_id.eq("b"),
                audit_log::created_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        Err(baoxiu_core::DomainError::conflict("stop", "stop"))
    });
    assert!(result.is_err());
    let rows: i64 = db
        .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(audit_log::table.count().get_result(conn)?)
        })
        .unwrap();
    assert_eq!(rows, 0);
}

/// Migration 000004 gives users who existed before it an external enterprise: an account's
/// users share the account's, others get one of their own under their old name.
fn existing_users_get_enterprises(backend: Backend) {
    use baoxiu_store::DbConn;
    use baoxiu_store::migrations::{POSTGRES, SQLITE};
    use diesel::connection::SimpleConnection;
    use diesel_migrations::MigrationHarness;

    let test_db = TestDatabase::new(backend);
    let mut conn = match backend {
        Backend::Sqlite => DbConn::Sqlite(
            SqliteConnection::establish(test_db.url.trim_start_matches("sqlite://")).unwrap(),
        ),
        Backend::Postgres => DbConn::Postgresql(PgConnection::establish(&test_db.url).unwrap()),
    };
    for _ in 0..3 {
        match &mut conn {
            DbConn::Sqlite(c) => c.run_next_migration(SQLITE).map(|_| ()),
            DbConn::Postgresql(c) => c.run_next_migration(POSTGRES).map(|_| ()),
        }
        .unwrap();
    }
    let at = "'2026-11-01 00:00:00'";
    conn.batch_execute(&format!(
        "INSERT INTO tenants (id, slug, name, display_name, trial_ends_at, version, created_at, updated_at)
             VALUES ('t', 'acme', 'Acme', 'Acme', {at}, 1, {at}, {at});
         INSERT INTO accounts (tenant_id, id, name, exact_key, fuzzy_key, record_type, fields_json, source, activated, version, created_at, updated_at)
             VALUES ('t', 'a', '甲公司', 'x', 'x', 'customer', '{{}}', 'admin', TRUE, 1, {at}, {at});
         INSERT INTO terminal_users (tenant_id, id, kind, enterprise_name, account_id, status, version, created_at, updated_at) VALUES
             ('t', 'u1', 'user', '甲公司', 'a', 'active', 1, {at}, {at}),
             ('t', 'u2', 'user', '甲公司', 'a', 'active', 1, {at}, {at}),
             ('t', 'u3', 'user', '微信用户', NULL, 'active', 1, {at}, {at}),
             ('t', 't-guest', 'guest', 'Guest', NULL, 'active', 1, {at}, {at});"
    ))
    .unwrap();
    baoxiu_store::migrations::run_pending(&mut conn).unwrap();

    let mut users: Vec<(String, Option<String>)> = terminal_users::table
        .select((terminal_users::id, terminal_users::enterprise_id))
        .load(&mut conn)
        .unwrap();
    users.sort();
    assert_eq!(
        users,
        [
            ("t-guest".into(), None),
            ("u1".into(), Some("a".into())),
            ("u2".into(), Some("a".into())),
            ("u3".into(), Some("u3".into())),
        ]
    );
    let mut enterprises: Vec<(String, String, Option<String>)> = external_enterprises::table
        .select((
            external_enterprises::id,
            external_enterprises::name,
            external_enterprises::account_id,
        ))
        .load(&mut conn)
        .unwrap();
    enterprises.sort();
    assert_eq!(
        enterprises,
        [
            ("a".into(), "甲公司".into(), Some("a".into())),
            ("u3".into(), "微信用户".into(), None),
        ]
    );
}

#[test]
fn existing_users_get_enterprises_on_sqlite() {
    existing_users_get_enterprises(Backend::Sqlite);
}

#[test]
fn existing_users_get_enterprises_on_postgres() {
    existing_users_get_enterprises(Backend::Postgres);
}

/// The statement log records what connections run while it is on, without bound values.
fn statements_are_recorded_while_asked(backend: Backend) {
    let test_db = TestDatabase::new(backend);
    let db = Db::open(&test_db.url, 2).unwrap();
    let count = |db: &Db, slug: &str| {
        db.read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(tenants::table
                .filter(tenants::slug.eq(slug))
                .count()
                .get_result(conn)?)
        })
        .unwrap()
    };
    count(&db, "before");
    db.statements().start();
    count(&db, "first");
    count(&db, "second");
    let recorded = db.statements().stop();
    count(&db, "after");
    let selects: Vec<_> = recorded
        .iter()
        .filter(|sql| sql.contains("FROM \"tenants\"") || sql.contains("FROM `tenants`"))
        .collect();
    assert_eq!(selects.len(), 2, "{recorded:?}");
    assert_eq!(
        selects[0], selects[1],
        "the same statement, whatever its values"
    );
    assert!(
        !recorded.iter().any(|sql| sql.contains("first")),
        "{recorded:?}"
    );
    assert!(db.statements().stop().is_empty(), "nothing while off");
}

#[test]
fn statements_are_recorded_while_asked_on_sqlite() {
    statements_are_recorded_while_asked(Backend::Sqlite);
}

#[test]
fn statements_are_recorded_while_asked_on_postgres() {
    statements_are_recorded_while_asked(Backend::Postgres);
}

/// Tables that hold rows of no tenant, or lookups that start from no tenant (their key is
/// what a request names: an app id, a host). Nothing else may lack `tenant_id` or key on
/// anything but it.
const GLOBAL_TABLES: [&str; 4] = [
    "__diesel_schema_migrations",
    "tenants",
    "wechat_app_ids",
    "tenant_hosts",
];

#[derive(QueryableByName)]
struct KeyColumns {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    first_column: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    referenced: String,
}

/// What a tenant-sharded engine (Citus) refuses in the PostgreSQL catalog: a tenant-owned
/// table whose primary key, a unique index or a foreign key does not start with
/// `tenant_id` (a foreign key must also land on `tenant_id`, or on `tenants`), and a table
/// without `tenant_id` outside the global ones named above.
fn tenant_key_violations(conn: &mut PgConnection) -> Vec<String> {
    let mut violations = Vec::new();
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        has_tenant: bool,
    }
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT t.table_name::TEXT AS table_name,
                EXISTS (SELECT 1 FROM information_schema.columns c
                        WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                          AND c.column_name = 'tenant_id') AS has_tenant
         FROM information_schema.tables t
         WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .load(conn)
    .unwrap();
    for table in &tables {
        if !table.has_tenant && !GLOBAL_TABLES.contains(&table.table_name.as_str()) {
            violations.push(format!("{}: no tenant_id and not global", table.table_name));
        }
    }
    // Primary keys and unique indexes (constraints or not), by their first key column;
    // foreign keys by their first column and the first column they point at.
    let keys: Vec<KeyColumns> = diesel::sql_query(
        "SELECT c.relname::TEXT AS table_name, i.relname::TEXT AS name,
                CASE WHEN x.indisprimary THEN 'primary key' ELSE 'unique index' END AS kind,
                COALESCE(a.attname::TEXT, '') AS first_column, ''::TEXT AS referenced
         FROM pg_index x
         JOIN pg_class c ON c.oid = x.indrelid
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
         WHERE x.indisunique
         UNION ALL
         SELECT c.relname::TEXT, k.conname::TEXT, 'foreign key',
                a.attname::TEXT, r.relname::TEXT || '.' || ra.attname::TEXT
         FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
         JOIN pg_class r ON r.oid = k.confrelid
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]
         JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = k.confkey[1]
         WHERE k.contype = 'f'",
    )
    .load(conn)
    .unwrap();
    for key in keys {
        let global = GLOBAL_TABLES.contains(&key.table_name.as_str());
        // A global table keys on what it looks up; it may point into a tenant's rows only
        // through tenant_id like anyone else.
        if global && key.kind != "foreign key" {
            continue;
        }
        let leads = key.first_column == "tenant_id"
            && (key.kind != "foreign key"
                || key.referenced == "tenants.id"
                || key.referenced.ends_with(".tenant_id"));
        if !leads {
            violations.push(format!(
                "{}: {} {} starts with {}{}",
                key.table_name,
                key.kind,
                key.name,
                if key.first_column.is_empty() {
                    "an expression"
                } else {
                    &key.first_column
                },
                if key.referenced.is_empty() {
                    String::new()
                } else {
                    format!(" (to {})", key.referenced)
                }
            ));
        }
    }
    violations.sort();
    violations
}

#[test]
fn every_tenant_key_starts_with_tenant_id_on_postgres() {
    let test_db = TestDatabase::postgres();
    drop(Db::open(&test_db.url, 1).unwrap());
    let mut conn = PgConnection::establish(&test_db.url).unwrap();
    let violations = tenant_key_violations(&mut conn);
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The check fails where it should: on the schema before migration 000012 (the WeChat app
/// id and the host were unique across tenants in tenant-owned tables), and on a table that
/// holds no tenant's rows.
#[test]
fn the_tenant_key_check_finds_what_it_looks_for() {
    use baoxiu_store::migrations::POSTGRES;
    use diesel::connection::SimpleConnection;
    use diesel_migrations::MigrationHarness;

    let test_db = TestDatabase::postgres();
    let mut conn = PgConnection::establish(&test_db.url).unwrap();
    for _ in 0..versions("postgres")
        .iter()
        .take_while(|v| !v.contains("000012"))
        .count()
    {
        conn.run_next_migration(POSTGRES).unwrap();
    }
    assert_eq!(
        tenant_key_violations(&mut conn),
        [
            "tenant_domains: unique index tenant_domains_host starts with host",
            "wechat_apps: unique index wechat_apps_app_id starts with app_id",
        ]
    );
    conn.run_pending_migrations(POSTGRES).unwrap();
    conn.batch_execute(
        "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);
         CREATE UNIQUE INDEX refresh_tokens_any ON refresh_tokens (token_hash);
         ALTER TABLE contacts ADD FOREIGN KEY (account_id, tenant_id) REFERENCES accounts (id, tenant_id);",
    )
    .unwrap();
    assert_eq!(
        tenant_key_violations(&mut conn),
        [
            "contacts: foreign key contacts_account_id_tenant_id_fkey starts with account_id (to accounts.id)",
            "notes: no tenant_id and not global",
            "notes: primary key notes_pkey starts with id",
            "refresh_tokens: unique index refresh_tokens_any starts with token_hash",
        ]
    );
}

/// Migration 000011 moves a method's role and owner ids out of its settings JSON into join
/// tables (dropping ids that name nothing), and its down puts them back.
fn method_references_move_out_of_json(backend: Backend) {
    use baoxiu_store::DbConn;
    use baoxiu_store::migrations::{POSTGRES, SQLITE};
    use diesel::connection::SimpleConnection;
    use diesel_migrations::MigrationHarness;

    let test_db = TestDatabase::new(backend);
    let mut conn = raw_connection(&test_db);
    let before = versions(backend.name())
        .iter()
        .take_while(|v| !v.contains("000011"))
        .count();
    for _ in 0..before {
        match &mut conn {
            DbConn::Sqlite(c) => c.run_next_migration(SQLITE).map(|_| ()),
            DbConn::Postgresql(c) => c.run_next_migration(POSTGRES).map(|_| ()),
        }
        .unwrap();
    }
    let at = "'2026-11-01 00:00:00'";
    let settings = |owner: &str, roles: &str| {
        format!(
            r#"{{"channels":["h5"],"mode":"openid_auto","requires_approval":false,"account":{{"record_type":"customer","fields":[],"show_only_required":false,"owner":{owner},"duplicate_check":"exact","new_account_rule":"user_defined"}},"contact":{{"record_type":"default","fields":[],"show_only_required":false}},"role_ids":{roles}}}"#
        )
    };
    conn.batch_execute(&format!(
        "INSERT INTO tenants (id, slug, name, display_name, trial_ends_at, version, created_at, updated_at)
             VALUES ('t', 'acme', 'Acme', 'Acme', {at}, 1, {at}, {at});
         INSERT INTO staff_users (tenant_id, id, mobile, name, role, disabled, version, created_at, updated_at)
             VALUES ('t', 's1', '13800138000', 'A', 'admin', FALSE, 1, {at}, {at}),
                    ('t', 's2', '13800138001', 'B', 'agent', FALSE, 1, {at}, {at});
         INSERT INTO terminal_roles (tenant_id, id, key, name, permissions_json, built_in, version, created_at, updated_at)
             VALUES ('t', 'r1', 'vip', 'VIP', '[]', FALSE, 1, {at}, {at}),
                    ('t', 'r2', 'gold', 'Gold', '[]', FALSE, 1, {at}, {at});
         INSERT INTO registration_methods (tenant_id, id, name, enabled, settings_json, owner_cursor, version, created_at, updated_at)
             VALUES ('t', 'm1', 'One', TRUE, '{}', 0, 1, {at}, {at}),
                    ('t', 'm2', 'Two', TRUE, '{}', 0, 1, {at}, {at});",
        settings(r#"{"kind":"round_robin","staff_ids":["s2","gone","s1"]}"#, r#"["r2","deleted","r1"]"#),
        settings(r#"{"kind":"fixed","staff_id":"s1"}"#, "[]"),
    ))
    .unwrap();
    baoxiu_store::migrations::run_pending(&mut conn).unwrap();

    let roles: Vec<(String, String, i32)> = registration_method_roles::table
        .select((
            registration_method_roles::method_id,
            registration_method_roles::role_id,
            registration_method_roles::position,
        ))
        .order((
            registration_method_roles::method_id,
            registration_method_roles::position,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        roles,
        [("m1".into(), "r2".into(), 0), ("m1".into(), "r1".into(), 2)]
    );
    let owners: Vec<(String, String)> = registration_method_owners::table
        .select((
            registration_method_owners::method_id,
            registration_method_owners::staff_id,
        ))
        .order((
            registration_method_owners::method_id,
            registration_method_owners::position,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        owners,
        [
            ("m1".into(), "s2".into()),
            ("m1".into(), "s1".into()),
            ("m2".into(), "s1".into())
        ]
    );
    let stored: Vec<String> = registration_methods::table
        .select(registration_methods::settings_json)
        .order(registration_methods::id)
        .load(&mut conn)
        .unwrap();
    for json in &stored {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(value.get("role_ids").is_none(), "{json}");
        assert!(
            value["account"]["owner"].get("staff_ids").is_none(),
            "{json}"
        );
        assert!(
            value["account"]["owner"].get("staff_id").is_none(),
            "{json}"
        );
        assert!(value["account"]["owner"]["kind"].is_string(), "{json}");
    }

    // Down to 000010 again: the ids are back in the JSON (those that named something).
    for _ in before..versions(backend.name()).len() {
        match &mut conn {
            DbConn::Sqlite(c) => c.revert_last_migration(SQLITE).map(|_| ()),
            DbConn::Postgresql(c) => c.revert_last_migration(POSTGRES).map(|_| ()),
        }
        .unwrap();
    }
    let stored: Vec<String> = registration_methods::table
        .select(registration_methods::settings_json)
        .order(registration_methods::id)
        .load(&mut conn)
        .unwrap();
    let one: serde_json::Value = serde_json::from_str(&stored[0]).unwrap();
    let two: serde_json::Value = serde_json::from_str(&stored[1]).unwrap();
    assert_eq!(one["role_ids"], serde_json::json!(["r2", "r1"]));
    assert_eq!(
        one["account"]["owner"],
        serde_json::json!({ "kind": "round_robin", "staff_ids": ["s2", "s1"] })
    );
    assert_eq!(two["role_ids"], serde_json::json!([]));
    assert_eq!(
        two["account"]["owner"],
        serde_json::json!({ "kind": "fixed", "staff_id": "s1" })
    );
}

#[test]
fn method_references_move_out_of_json_on_sqlite() {
    method_references_move_out_of_json(Backend::Sqlite);
}

#[test]
fn method_references_move_out_of_json_on_postgres() {
    method_references_move_out_of_json(Backend::Postgres);
}

/// Two units of work of one tenant, each inserting a row that references the tenant (a
/// key-share lock on its row) and then taking the tenant lock: with `FOR UPDATE` the
/// second waits for the first's key-share lock and the first for the second's, and
/// PostgreSQL kills one (`deadlock detected`). The tenant lock is `FOR NO KEY UPDATE`,
/// which key-share locks do not block: both commit, one after the other.
#[test]
fn the_tenant_lock_never_deadlocks_with_inserts_on_postgres() {
    use baoxiu_core::{Actor, ActorKind, TenantId};
    use baoxiu_store::Work;
    use std::sync::{Arc, Barrier};

    let database = TestDatabase::new(Backend::Postgres);
    let db = Db::open(&database.url, 4).unwrap();
    let now = chrono::Utc::now().naive_utc();
    db.write(|conn| -> Result<(), baoxiu_core::DomainError> {
        diesel::sql_query(
            "INSERT INTO tenants (id, slug, name, display_name, trial_ends_at, version, \
             created_at, updated_at) VALUES ('t1', 't1', 'T', 'T', $1, 1, $1, $1)",
        )
        .bind::<diesel::sql_types::Timestamp, _>(now)
        .execute(conn)?;
        Ok(())
    })
    .unwrap();
    let actor = Actor {
        tenant_id: TenantId("t1".into()),
        kind: ActorKind::System,
        id: "test".into(),
        request_id: None,
    };
    let both_inserted = Arc::new(Barrier::new(2));
    let units: Vec<_> = (0..2)
        .map(|i| {
            let (db, actor, both_inserted) = (db.clone(), actor.clone(), both_inserted.clone());
            std::thread::spawn(move || {
                db.run(Work::Write, actor, now, |tx| {
                    diesel::insert_into(terminal_roles::table)
                        .values((
                            terminal_roles::tenant_id.eq("t1"),
                            terminal_roles::id.eq(format!("r{i}")),
                            terminal_roles::key.eq(format!("k{i}")),
                            terminal_roles::name.eq("role"),
                            terminal_roles::permissions_json.eq("[]"),
                            terminal_roles::built_in.eq(false),
                            terminal_roles::version.eq(1),
                            terminal_roles::created_at.eq(now),
                            terminal_roles::updated_at.eq(now),
                        ))
                        .execute(tx.conn)?;
                    both_inserted.wait();
                    tx.lock_tenant()
                })
            })
        })
        .collect();
    for unit in units {
        unit.join().unwrap().unwrap();
    }
    let roles: i64 = db
        .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(terminal_roles::table.count().get_result(conn)?)
        })
        .unwrap();
    assert_eq!(roles, 2);
}

/// Two processes writing one SQLite file (two pools stand for them: each has its own
/// writer lock). Each unit reads, then writes, while the other is between the two. With a
/// deferred BEGIN both hold a read lock when they try to write; SQLite cannot wait its way
/// out of that and answers SQLITE_BUSY at once. Write units begin IMMEDIATE: the second
/// waits for the first at BEGIN (up to `busy_timeout`), and both commit.
#[test]
fn two_processes_writing_one_sqlite_file_both_commit() {
    use baoxiu_core::{Actor, ActorKind, TenantId};
    use baoxiu_store::Work;

    let database = TestDatabase::new(Backend::Sqlite);
    let first = Db::open(&database.url, 2).unwrap();
    let second = Db::open(&database.url, 2).unwrap();
    let now = chrono::Utc::now().naive_utc();
    let actor = Actor {
        tenant_id: TenantId("t1".into()),
        kind: ActorKind::System,
        id: "test".into(),
        request_id: None,
    };
    let unit = |db: Db, actor: Actor, i: i64| {
        std::thread::spawn(move || {
            db.run(Work::Write, actor, now, |tx| {
                let before: i64 = tenants::table.count().get_result(tx.conn)?;
                // The other process reads now too.
                std::thread::sleep(std::time::Duration::from_millis(200));
                diesel::sql_query(format!(
                    "INSERT INTO tenants (id, slug, name, display_name, trial_ends_at, version, \
                     created_at, updated_at) VALUES ('t{i}', 't{i}', 'T', 'T', ?, 1, ?, ?)"
                ))
                .bind::<diesel::sql_types::Timestamp, _>(now)
                .bind::<diesel::sql_types::Timestamp, _>(now)
                .bind::<diesel::sql_types::Timestamp, _>(now)
                .execute(tx.conn)?;
                Ok(before)
            })
        })
    };
    let a = unit(first.clone(), actor.clone(), 1);
    let b = unit(second, actor, 2);
    let counts = [a.join().unwrap().unwrap(), b.join().unwrap().unwrap()];
    // One after the other: the second saw the first's row.
    let mut sorted = counts;
    sorted.sort();
    assert_eq!(sorted, [0, 1]);
    let rows: i64 = first
        .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(tenants::table.count().get_result(conn)?)
        })
        .unwrap();
    assert_eq!(rows, 2);
}

#[derive(diesel::QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    enabled: i32,
}

/// diesel keeps every statement prepared between executions. SQLite parses and plans one
/// again each time a parameter its planner looked at (every `LIMIT ?`) is bound anew,
/// unless the query planner stability guarantee is compiled in (`.cargo/config.toml`):
/// without it a read by key on SQLite spent most of its time in SQLite's parser.
#[test]
fn sqlite_is_built_to_keep_prepared_statements() {
    let test_db = TestDatabase::sqlite();
    let db = Db::open(&test_db.url, 1).unwrap();
    let flag: Flag = db
        .read(|conn| -> Result<Flag, baoxiu_core::DomainError> {
            Ok(
                diesel::sql_query("SELECT sqlite_compileoption_used('ENABLE_QPSG') AS enabled")
                    .get_result(conn)?,
            )
        })
        .unwrap();
    assert_eq!(
        flag.enabled, 1,
        "the bundled SQLite lacks SQLITE_ENABLE_QPSG"
    );
}
