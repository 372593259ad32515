//! Opaque list cursors: the (created_at, id) of the last row a page showed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime};

use crate::error::{DomainError, FieldError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: NaiveDateTime,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let micros = self.created_at.and_utc().timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("{micros}|{}", self.id))
    }

    pub fn decode(text: &str) -> Result<Self, DomainError> {
        let invalid = || {
            DomainError::Validation(vec![FieldError::new(
                "cursor",
                "invalid",
                "the cursor is not one this API gave out",
            )])
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let created_at = DateTime::from_timestamp_micros(micros)
            .ok_or_else(invalid)?
            .naive_utc();
        if id.is_empty() || id.len() > 64 {
            return Err(invalid());
        }
        Ok(Self {
            created_at,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456)
                .unwrap()
                .naive_utc(),
            id: "0190-abc".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("not a cursor!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x|y")).is_err());
    }
}
