//! The one pagination helper: `limit` + `cursor` in, `{items, next_cursor}` out.

use chrono::NaiveDateTime;

use crate::cursor::Cursor;
use crate::error::{DomainError, FieldError};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Cursor>,
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
        let after = match cursor {
            Some(text) if !text.is_empty() => Some(Cursor::decode(text)?),
            _ => None,
        };
        Ok(Self { limit, after })
    }

    /// How many rows to fetch: one more than shown, to know whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Cut the fetched rows (ordered by created_at, id) down to a page.
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (NaiveDateTime, String),
    ) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| {
                let (created_at, id) = key(last);
                Cursor { created_at, id }.encode()
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
