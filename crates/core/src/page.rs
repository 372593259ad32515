//! The one pagination model: `limit` + `cursor` in, `{items, next_cursor}` out. Each list
//! names its `Keyset` (the list's name and its direction); `baoxiu_store::paginate` applies
//! it to a query (a keyset filter on `(key, id)`, never OFFSET) and `PageRequest::finish`
//! cuts the rows down to a page with the cursor of the next.

use chrono::NaiveDateTime;

use crate::cursor::Cursor;
use crate::error::{DomainError, FieldError};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Which way a list runs over its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A catalogue: what was added first comes first, and new rows join the last page.
    OldestFirst,
    /// A feed (the audit log, a timeline): the newest row comes first.
    NewestFirst,
}

/// How one list pages: its name (cursors are bound to it) and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    pub list: &'static str,
    pub direction: Direction,
}

impl Keyset {
    pub const fn oldest_first(list: &'static str) -> Self {
        Self {
            list,
            direction: Direction::OldestFirst,
        }
    }

    pub const fn newest_first(list: &'static str) -> Self {
        Self {
            list,
            direction: Direction::NewestFirst,
        }
    }
}

/// A page request: the limit checked, the cursor still opaque (the list reads it, with
/// `after`, since only the list knows which cursors are its own).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, DomainError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(DomainError::Validation(vec![FieldError::new(
                "limit",
                "out_of_range",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )]));
        }
        Ok(Self {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()).map(str::to_owned),
        })
    }

    /// The first page of `limit` rows.
    pub fn first(limit: i64) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// Where the page starts: after the row the cursor names (none on the first page).
    pub fn after(&self, keyset: &Keyset) -> Result<Option<Cursor>, DomainError> {
        self.cursor
            .as_deref()
            .map(|text| Cursor::decode(text, keyset))
            .transpose()
    }

    /// How many rows to fetch: one more than shown, to know whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Cut the fetched rows (in `keyset`'s order of (key, id)) down to a page.
    pub fn finish<T>(
        &self,
        keyset: &Keyset,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (NaiveDateTime, String),
    ) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| {
                let (key, id) = key(last);
                Cursor { key, id }.encode(keyset)
            })
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
