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

fn every_table_loads(backend: Backend) {
    let test_db = TestDatabase::new(backend);
    let db = Db::open(&test_db.url, 2).unwrap();
    assert_eq!(db.backend(), backend);
    db.read(|conn| -> Result<(), baoxiu_core::DomainError> {
        let counts: [i64; 25] = [
            tenants::table.count().get_result(conn)?,
            tenant_settings::table.count().get_result(conn)?,
            staff_users::table.count().get_result(conn)?,
            refresh_tokens::table.count().get_result(conn)?,
            sms_codes::table.count().get_result(conn)?,
            password_failures::table.count().get_result(conn)?,
            tenant_domains::table.count().get_result(conn)?,
            audit_log::table.count().get_result(conn)?,
            accounts::table.count().get_result(conn)?,
            contacts::table.count().get_result(conn)?,
            terminal_roles::table.count().get_result(conn)?,
            terminal_users::table.count().get_result(conn)?,
            external_enterprises::table.count().get_result(conn)?,
            terminal_user_roles::table.count().get_result(conn)?,
            wechat_identities::table.count().get_result(conn)?,
            registration_policies::table.count().get_result(conn)?,
            registration_methods::table.count().get_result(conn)?,
            registrations::table.count().get_result(conn)?,
            invitation_codes::table.count().get_result(conn)?,
            wechat_apps::table.count().get_result(conn)?,
            devices::table.count().get_result(conn)?,
            qr_settings::table.count().get_result(conn)?,
            qr_codes::table.count().get_result(conn)?,
            jobs::table.count().get_result(conn)?,
            job_schedules::table.count().get_result(conn)?,
        ];
        assert_eq!(counts, [0; 25]);
        Ok(())
    })
    .unwrap();
    // Opening again finds nothing left to migrate.
    Db::open(&test_db.url, 1).unwrap();
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
