//! Fresh databases for tests: an SQLite file in the temp folder, or a new PostgreSQL
//! database on the server named by `BAOXIU_TEST_PG_URL`. Dropped with the value.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::db::Backend;

/// The PostgreSQL server tests create their databases on.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The server's URL, with TLS off unless the URL says otherwise: loopback needs none, and
/// libpq's OpenSSL clean-up at process exit races the connections that other test threads
/// still hold (seen as `free(): invalid size` after every test had passed).
pub fn test_pg_url() -> String {
    let url =
        std::env::var("BAOXIU_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_owned());
    match (url.contains("sslmode="), url.contains('?')) {
        (true, _) => url,
        (false, true) => format!("{url}&sslmode=disable"),
        (false, false) => format!("{url}?sslmode=disable"),
    }
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
        let (path, query) = admin_url
            .split_once('?')
            .map_or((admin_url.as_str(), String::new()), |(path, query)| {
                (path, format!("?{query}"))
            });
        let base = path.rsplit_once('/').map_or(path, |(base, _)| base);
        Self {
            url: format!("{base}/{name}{query}"),
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
