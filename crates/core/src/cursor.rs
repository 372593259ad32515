//! Opaque list cursors: the sort key and id of the last row a page showed, with the list
//! and direction they belong to and a checksum, so that a cursor of one list, or one a
//! client changed, is refused (422 naming `cursor`) instead of paging from somewhere else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime};

use crate::error::{DomainError, FieldError};
use crate::page::{Direction, Keyset};

const VERSION: &str = "c1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key of the last row shown (its `created_at`, or whatever the list sorts by).
    pub key: NaiveDateTime,
    pub id: String,
}

fn invalid() -> DomainError {
    DomainError::Validation(vec![FieldError::new(
        "cursor",
        "invalid",
        "the cursor is not one this list gave out",
    )])
}

/// FNV-1a over the cursor's fields: not a secret (the cursor only says where a page of the
/// caller's own rows starts), but a changed cursor no longer matches it.
fn checksum(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Cursor {
    /// The cursor as a client sees it, bound to `keyset`'s list and direction.
    pub fn encode(&self, keyset: &Keyset) -> String {
        let micros = self.key.and_utc().timestamp_micros();
        let body = format!(
            "{VERSION}|{}|{}|{micros}|{}",
            keyset.list,
            keyset.direction.as_str(),
            self.id
        );
        let sum = checksum(&body);
        URL_SAFE_NO_PAD.encode(format!("{body}|{sum:016x}"))
    }

    /// Reads a cursor given out by `keyset`'s list; anything else is a 422 on `cursor`.
    pub fn decode(text: &str, keyset: &Keyset) -> Result<Self, DomainError> {
        if text.len() > 512 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (body, sum) = text.rsplit_once('|').ok_or_else(invalid)?;
        if format!("{:016x}", checksum(body)) != sum {
            return Err(invalid());
        }
        let mut parts = body.splitn(5, '|');
        let (Some(version), Some(list), Some(direction), Some(micros), Some(id)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        if version != VERSION || list != keyset.list || direction != keyset.direction.as_str() {
            return Err(invalid());
        }
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let key = DateTime::from_timestamp_micros(micros)
            .ok_or_else(invalid)?
            .naive_utc();
        if id.is_empty() || id.len() > 64 {
            return Err(invalid());
        }
        Ok(Self {
            key,
            id: id.to_owned(),
        })
    }
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::OldestFirst => "asc",
            Direction::NewestFirst => "desc",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICES: Keyset = Keyset::oldest_first("devices");
    const AUDIT: Keyset = Keyset::newest_first("audit_log");

    #[test]
    fn round_trips_and_rejects_garbage_other_lists_and_changes() {
        let cursor = Cursor {
            key: DateTime::from_timestamp_micros(1_700_000_000_123_456)
                .unwrap()
                .naive_utc(),
            id: "0190-abc".into(),
        };
        let text = cursor.encode(&DEVICES);
        assert_eq!(Cursor::decode(&text, &DEVICES).unwrap(), cursor);
        assert!(Cursor::decode(&text, &AUDIT).is_err());
        assert!(Cursor::decode(&text, &Keyset::newest_first("devices")).is_err());
        assert!(Cursor::decode("not a cursor!", &DEVICES).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x|y"), &DEVICES).is_err());
        let plain = String::from_utf8(URL_SAFE_NO_PAD.decode(&text).unwrap()).unwrap();
        let changed = URL_SAFE_NO_PAD.encode(plain.replace("0190-abc", "0190-abd"));
        assert!(Cursor::decode(&changed, &DEVICES).is_err());
    }
}
