//! The migrations of each backend, embedded in the binary and run before the pool serves.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::conn::DbConn;
use crate::db::StoreError;

pub const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Runs every pending migration; answers the versions applied.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE),
        DbConn::Postgresql(c) => c.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}
