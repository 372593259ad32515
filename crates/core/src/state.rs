//! State changes are compare-and-set: `UPDATE … SET status = <to> WHERE … AND status IN
//! (<from>)`, and exactly one row must have changed. Never read, decide, then write by id
//! alone: two requests that read the same state would both win.

use crate::{DomainError, DomainResult};

/// One allowed change of an object's state: from any of `from` to `to`.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    /// What changes, for the error a caller reads (`registration`, `work order`).
    pub object: &'static str,
    pub from: &'static [&'static str],
    pub to: &'static str,
}

impl Transition {
    pub const fn new(
        object: &'static str,
        from: &'static [&'static str],
        to: &'static str,
    ) -> Self {
        Self { object, from, to }
    }

    /// Whether an object in `current` may take this transition (for a check before the
    /// guarded write, which still decides).
    pub fn allows(&self, current: &str) -> bool {
        self.from.contains(&current)
    }

    /// Fails with a conflict when the object is not in a state this transition leaves.
    pub fn require(&self, current: &str) -> DomainResult<()> {
        if self.allows(current) {
            Ok(())
        } else {
            Err(self.refused(Some(current)))
        }
    }

    /// Judges the guarded `UPDATE`'s row count: exactly one row, or another request changed
    /// the state first.
    pub fn applied(&self, rows: usize) -> DomainResult<()> {
        if rows == 1 {
            Ok(())
        } else {
            Err(self.refused(None))
        }
    }

    fn refused(&self, current: Option<&str>) -> DomainError {
        DomainError::conflict(
            "invalid-transition",
            match current {
                Some(current) => format!(
                    "the {} is {current}; it cannot become {}",
                    self.object, self.to
                ),
                None => format!(
                    "the {} was changed by another request; it cannot become {} now",
                    self.object, self.to
                ),
            },
        )
    }
}

/// Judges the delete (or soft delete) of one object read just before, guarded on its still
/// being there: exactly one row, or another request removed it first and this one answers
/// not-found (and audits nothing).
pub fn removed(rows: usize, object: &'static str) -> DomainResult<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(DomainError::NotFound(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPROVE: Transition = Transition::new("registration", &["pending"], "approved");

    #[test]
    fn one_row_applies_and_none_conflicts() {
        assert!(APPROVE.applied(1).is_ok());
        assert!(matches!(
            APPROVE.applied(0),
            Err(DomainError::Conflict {
                code: "invalid-transition",
                ..
            })
        ));
        assert!(APPROVE.require("pending").is_ok());
        assert!(
            matches!(APPROVE.require("approved"), Err(DomainError::Conflict { detail, .. }) if detail.contains("is approved"))
        );
    }

    #[test]
    fn a_delete_that_found_nothing_is_not_found() {
        assert!(removed(1, "role").is_ok());
        assert!(matches!(
            removed(0, "role"),
            Err(DomainError::NotFound("role"))
        ));
    }
}
