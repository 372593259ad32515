//! Identifiers: opaque strings holding UUIDv7 (sortable, not guessable), generated in Rust.

use serde::{Deserialize, Serialize};

/// A fresh UUIDv7 as text: the id of every new row.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The tenant a row or a caller belongs to. Every query on tenant data filters on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
