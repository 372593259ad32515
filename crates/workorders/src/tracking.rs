//! Tracking links: each order has an unguessable token (256 random bits, base64url) that
//! shows its status and timeline and lets its holder rate it, without logging in. Only the
//! token's SHA-256 is stored: the token is shown once, in the answer to the submission.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new token and the hash stored for it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a path segment could be a token at all (43 base64url characters).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
