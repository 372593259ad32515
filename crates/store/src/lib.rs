//! Storage: the diesel schema, one connection type over SQLite and PostgreSQL, the pool,
//! the embedded migrations of each backend, and fresh databases for tests.

pub mod conn;
pub mod db;
pub mod migrations;
pub mod schema;
pub mod testing;

pub use conn::{DbConn, MultiBackend};
pub use db::{Backend, Db, StoreError};

/// Whether a diesel error is a unique-constraint violation (both backends).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
