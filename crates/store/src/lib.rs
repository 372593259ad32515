//! Storage: the diesel schema, one connection type over SQLite and PostgreSQL, the pool,
//! the embedded migrations of each backend, and fresh databases for tests.

pub mod blobs;
pub mod conn;
pub mod counters;
pub mod db;
pub mod idempotency;
pub mod migrations;
pub mod paginate;
pub mod schema;
pub mod statements;
pub mod testing;
pub mod unit;

pub use conn::{DbConn, MultiBackend};
pub use db::{Backend, Db, StoreError};
pub use paginate::paginate;
pub use statements::StatementLog;
pub use unit::{Change, Event, Tx, Versioned, Work};

/// Runs `$body` with `$c` bound to the backend's own connection (`&mut SqliteConnection` or
/// `&mut PgConnection`), for the hottest queries: through `DbConn` every execution builds
/// the statement's whole SQL text again to find it in the prepared-statement cache, while
/// the backend's own connection finds a statement of static shape by its type. `$body` is
/// compiled once per backend, so it builds its query itself.
#[macro_export]
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConn::Sqlite($c) => $body,
            $crate::DbConn::Postgresql($c) => $body,
        }
    };
}

/// Whether a diesel error is a unique-constraint violation (both backends).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Serialises, until the end of the current write transaction, the writes of one tenant
/// that check a tenant-wide rule before they write (seats in use, the last active admin,
/// the next QR code number, a mobile's wrong passwords): a second such transaction waits
/// here instead of reading the same count. PostgreSQL locks the tenant's row; SQLite already runs one write
/// transaction at a time (`Db::write`).
pub fn lock_tenant(conn: &mut DbConn, tenant_id: &str) -> Result<(), diesel::result::Error> {
    use diesel::prelude::*;
    match conn {
        DbConn::Postgresql(pg) => schema::tenants::table
            .filter(schema::tenants::id.eq(tenant_id))
            .select(schema::tenants::id)
            // Not FOR UPDATE: inserts that reference the tenant hold FOR KEY SHARE on it,
            // which FOR UPDATE waits for (two such transactions deadlock).
            .for_no_key_update()
            .execute(pg)
            .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Serialises, until the end of the current write transaction, the writes that check a
/// limit no tenant row stands for (the SMS sends to one mobile, or from one client address,
/// across every tenant): a second transaction that locks the same `key` waits here instead
/// of reading the same count. PostgreSQL takes a transaction-scoped advisory lock on a
/// stable 64-bit hash of the key, so every API node agrees; SQLite already runs one write
/// transaction at a time (`Db::write`). Lock several keys in one fixed order.
pub fn lock_key(conn: &mut DbConn, key: &str) -> Result<(), diesel::result::Error> {
    use diesel::prelude::*;
    match conn {
        DbConn::Postgresql(pg) => diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(stable_key_hash(key))
            .execute(pg)
            .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// FNV-1a: the same on every node and every build (std's hasher promises neither).
fn stable_key_hash(key: &str) -> i64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}
