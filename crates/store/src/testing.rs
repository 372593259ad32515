//! Fresh databases for tests: an SQLite file in the temp folder, or a new PostgreSQL
//! database on the server named by `BAOXIU_TEST_PG_URL`. Dropped with the value.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::db::Backend;

/// The PostgreSQL server tests create their databases on.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn test_pg_url() -> String {
    std::env::var("BAOXIU_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_owned())
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(std::path::PathBuf),
    PgDatabase { admin_url: String, name: String },
}

impl TestDatabase {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres(),
        }
    }

    pub fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("baoxiu-test-{}.db", uuid::Uuid::now_v7()));
        Self {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::File(path),
        }
    }

    /// Panics when PostgreSQL cannot be reached: a PostgreSQL test must fail, not skip.
    #[allow(clippy::expect_used)]
    pub fn postgres() -> Self {
        let admin_url = test_pg_url();
        let name = format!("bx_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
            panic!("PostgreSQL for tests is not reachable at {admin_url}: {e}")
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .unwrap_or(admin_url.clone());
        Self {
            url: format!("{base}/{name}"),
            backend: Backend::Postgres,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PgDatabase { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}
