//! Optimistic concurrency for versioned objects (`ETag` / `If-Match`): an update checks
//! the version it read, and writes only where that version is still the current one, so
//! two requests that read the same version cannot both win (a lost update).

use crate::{DomainError, DomainResult};

/// Refuses an update whose `If-Match` named another version than the one just read.
pub fn check(current: i32, expected: Option<i32>) -> DomainResult<()> {
    match expected {
        Some(expected) if expected != current => Err(DomainError::PreconditionFailed),
        _ => Ok(()),
    }
}

/// Judges an `UPDATE ... WHERE version = <read version>`: no row means another request
/// changed the object after it was read. With `If-Match` that is a failed precondition;
/// without, a conflict the caller resolves by reading the object again.
pub fn updated(rows: usize, expected: Option<i32>) -> DomainResult<()> {
    match (rows, expected) {
        (0, Some(_)) => Err(DomainError::PreconditionFailed),
        (0, None) => Err(DomainError::conflict(
            "changed-since-read",
            "changed by another request since it was read; read it again",
        )),
        _ => Ok(()),
    }
}
