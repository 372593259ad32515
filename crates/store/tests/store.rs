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
        let counts: [i64; 21] = [
            tenants::table.count().get_result(conn)?,
            tenant_settings::table.count().get_result(conn)?,
            staff_users::table.count().get_result(conn)?,
            refresh_tokens::table.count().get_result(conn)?,
            sms_codes::table.count().get_result(conn)?,
            tenant_domains::table.count().get_result(conn)?,
            audit_log::table.count().get_result(conn)?,
            accounts::table.count().get_result(conn)?,
            contacts::table.count().get_result(conn)?,
            terminal_roles::table.count().get_result(conn)?,
            terminal_users::table.count().get_result(conn)?,
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
        ];
        assert_eq!(counts, [0; 21]);
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
        Err(baoxiu_core::DomainError::Conflict("stop".into()))
    });
    assert!(result.is_err());
    let rows: i64 = db
        .read(|conn| -> Result<i64, baoxiu_core::DomainError> {
            Ok(audit_log::table.count().get_result(conn)?)
        })
        .unwrap();
    assert_eq!(rows, 0);
}
