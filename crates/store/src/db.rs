//! The pool: backend chosen from the URL scheme, pragmas on every SQLite connection,
//! migrations before first use, and the transaction helpers every request goes through.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use parking_lot::Mutex;

use baoxiu_core::{Actor, DomainResult};
use chrono::NaiveDateTime;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

use crate::conn::DbConn;
use crate::statements::{StatementLog, instrumentation};
use crate::unit::{Tx, Work};

type Transactions = <DbConn as Connection>::TransactionManager;

/// Opens a write transaction: `BEGIN IMMEDIATE` on SQLite, so the write lock is taken at
/// the start (waiting up to `busy_timeout` for another process) rather than on the first
/// write, where a deferred transaction that has read cannot wait and fails with BUSY.
fn begin(conn: &mut DbConn) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        }
        DbConn::Postgresql(_) => Transactions::begin_transaction(conn),
    }
}

/// `f` in a write transaction (`begin`): committed when it succeeds, rolled back when it
/// fails, as diesel's own `transaction` does.
fn in_transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    begin(conn)?;
    match f(conn) {
        Ok(value) => match Transactions::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(error) => {
                // A failed COMMIT leaves nothing applied; diesel rolls back what it can.
                let _ = Transactions::rollback_transaction(conn);
                Err(error.into())
            }
        },
        Err(error) => {
            Transactions::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (use sqlite://PATH or postgres://...): {0}")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("no database connection available: {0}")]
    Pool(String),
}

impl From<StoreError> for baoxiu_core::DomainError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Where a database lives, parsed from its URL.
#[derive(Debug, Clone)]
enum Target {
    SqliteFile(PathBuf),
    Postgres(String),
}

impl Target {
    fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl(url.to_owned()));
            }
            Ok(Self::SqliteFile(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(without_loopback_tls(url)))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// A PostgreSQL URL with `sslmode=disable` added when it names a server on this machine
/// (loopback or a Unix socket) and says nothing of TLS itself: libpq's default, `prefer`,
/// encrypts every round trip to a server that has TLS on, which costs each statement on
/// loopback and protects nothing there. An explicit `sslmode` is kept as written.
fn without_loopback_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        return url.to_owned();
    }
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let local = matches!(host, "" | "localhost" | "127.0.0.1" | "::1");
    if !local || url.contains("host=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// Opens connections of the one backend the URL names (never guessing between them).
#[derive(Debug)]
struct Manager {
    target: Target,
    statements: Arc<StatementLog>,
}

// WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let statements = instrumentation(self.statements.clone());
        match &self.target {
            Target::SqliteFile(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                conn.set_instrumentation(statements);
                Ok(DbConn::Sqlite(conn))
            }
            Target::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(statements);
                Ok(DbConn::Postgresql(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    // Checked when a connection goes back to the pool (no statement), so that checking
    // out costs no `SELECT 1`: a broken connection is dropped, not handed out again.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking() || conn.is_broken()
    }
}

type Pool = r2d2::Pool<Manager>;

/// The database of one process: a pool plus what the transaction helpers need.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    // SQLite allows one writer; taking this before a write transaction keeps a deferred
    // transaction from failing with SQLITE_BUSY when it upgrades from read to write.
    // Embedded SQLite is one process by definition; PostgreSQL never takes it.
    sqlite_writer: Arc<Mutex<()>>,
    statements: Arc<StatementLog>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Opens the database at `url`, creating an SQLite file and its folder when missing,
    /// and runs pending migrations before any request can use it.
    pub fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        let backend = match &target {
            Target::SqliteFile(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Connect(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                Backend::Sqlite
            }
            Target::Postgres(_) => Backend::Postgres,
        };
        let statements = Arc::new(StatementLog::default());
        let manager = Manager {
            target,
            statements: statements.clone(),
        };
        let mut first = manager
            .connect()
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let applied = crate::migrations::run_pending(&mut first)?;
        if !applied.is_empty() {
            tracing::info!(backend = backend.name(), ?applied, "migrations applied");
        }
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        Ok(Self {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
            statements,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The statements this database's connections run, recorded while a test asks.
    pub fn statements(&self) -> &StatementLog {
        &self.statements
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Runs one unit of work (see `unit`): `f` gets the connection, who acts and now.
    /// A unit that writes commits all of it, or none of it. Blocking: call it from
    /// `web::block` (the API's `AppState` does).
    pub fn run<T>(
        &self,
        work: Work,
        actor: Actor,
        now: NaiveDateTime,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T>,
    ) -> DomainResult<T> {
        self.run_after(work, actor, now, |_| Ok(()), f)
    }

    /// `run`, with `first` run on the unit's connection before the unit begins: outside
    /// its transaction and, on SQLite, before the writer's lock is taken, so that a check
    /// deciding whether the unit runs at all (the caller's session) costs neither another
    /// trip to the blocking pool nor time in the one writer's turn. When `first` fails,
    /// nothing else runs.
    pub fn run_after<T>(
        &self,
        work: Work,
        actor: Actor,
        now: NaiveDateTime,
        first: impl FnOnce(&mut DbConn) -> DomainResult<()>,
        f: impl FnOnce(&mut Tx<'_>) -> DomainResult<T>,
    ) -> DomainResult<T> {
        let mut conn = self.conn()?;
        first(&mut conn)?;
        if matches!(work, Work::Read | Work::Single) {
            return f(&mut Tx::new(&mut conn, actor, now));
        }
        let _writer = (self.backend == Backend::Sqlite).then(|| self.sqlite_writer.lock());
        in_transaction(&mut conn, |conn| {
            let mut tx = Tx::new(conn, actor, now);
            if work == Work::Locked {
                tx.lock_tenant()?;
            }
            f(&mut tx)
        })
    }

    /// Runs `f`, which only reads, on one connection outside any transaction and outside
    /// a unit of work (the job runner's bookkeeping, tests): each statement reads
    /// committed data. Blocking.
    pub fn read<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// Runs `f` in a write transaction outside a unit of work (the job runner's
    /// bookkeeping, seeding, tests): all of it commits, or none of it. Blocking.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let mut conn = self.conn()?;
        let _writer = (self.backend == Backend::Sqlite).then(|| self.sqlite_writer.lock());
        in_transaction(&mut conn, f)
    }

    /// Whether the database answers (readiness probe).
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| StoreError::Connect(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use diesel::RunQueryDsl;

    use super::*;
    use crate::testing::TestDatabase;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn execute(db: &Db, sql: &str) {
        db.write(|conn| -> Result<usize, baoxiu_core::DomainError> {
            Ok(diesel::sql_query(sql).execute(conn)?)
        })
        .unwrap();
    }

    fn rows(url: &str) -> i64 {
        let db = Db::open(url, 1).unwrap();
        db.read(|conn| -> Result<Count, baoxiu_core::DomainError> {
            Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM broken_probe").get_result(conn)?)
        })
        .unwrap()
        .n
    }

    fn a_request_that_panicked_leaves_no_transaction_behind(backend: Backend) {
        let test_db = TestDatabase::new(backend);
        // One connection: the request after the panic gets the same one back, or a new one.
        let db = Db::open(&test_db.url, 1).unwrap();
        execute(&db, "CREATE TABLE broken_probe (x INTEGER)");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.write(|conn| -> Result<(), baoxiu_core::DomainError> {
                diesel::sql_query("INSERT INTO broken_probe VALUES (1)").execute(conn)?;
                panic!("the request panics inside its transaction");
            })
        }));
        assert!(panicked.is_err());
        execute(&db, "INSERT INTO broken_probe VALUES (2)");
        // Seen from another connection: the second write committed, the first did not.
        assert_eq!(rows(&test_db.url), 1, "{backend:?}");
    }

    #[test]
    fn a_request_that_panicked_leaves_no_transaction_behind_sqlite() {
        a_request_that_panicked_leaves_no_transaction_behind(Backend::Sqlite);
    }

    #[test]
    fn a_request_that_panicked_leaves_no_transaction_behind_postgres() {
        a_request_that_panicked_leaves_no_transaction_behind(Backend::Postgres);
    }

    #[test]
    fn loopback_postgres_goes_without_tls_unless_the_url_asks() {
        for (url, expected) in [
            (
                "postgres://u@127.0.0.1:5432/db",
                "postgres://u@127.0.0.1:5432/db?sslmode=disable",
            ),
            (
                "postgres://localhost/db?x=1",
                "postgres://localhost/db?x=1&sslmode=disable",
            ),
            (
                "postgresql://u:p@[::1]:5432/db",
                "postgresql://u:p@[::1]:5432/db?sslmode=disable",
            ),
            ("postgres:///db", "postgres:///db?sslmode=disable"),
            (
                "postgres://127.0.0.1/db?sslmode=require",
                "postgres://127.0.0.1/db?sslmode=require",
            ),
            (
                "postgres://db.internal:5432/db",
                "postgres://db.internal:5432/db",
            ),
            ("postgres://u@10.0.0.7/db", "postgres://u@10.0.0.7/db"),
            ("postgres:///db?host=/run/pg", "postgres:///db?host=/run/pg"),
        ] {
            assert_eq!(without_loopback_tls(url), expected, "{url}");
        }
    }

    #[test]
    fn a_connection_inside_a_transaction_has_broken() {
        use diesel::connection::{Connection, TransactionManager};
        let test_db = TestDatabase::new(Backend::Sqlite);
        let manager = Manager {
            target: Target::parse(&test_db.url).unwrap(),
            statements: Arc::default(),
        };
        let mut conn = manager.connect().unwrap();
        assert!(!manager.has_broken(&mut conn));
        <DbConn as Connection>::TransactionManager::begin_transaction(&mut conn).unwrap();
        assert!(manager.has_broken(&mut conn));
    }
}
