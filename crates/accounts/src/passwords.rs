//! Password hashing with argon2id.

use std::cell::RefCell;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use baoxiu_core::DomainError;
use rand::RngCore;
use subtle::ConstantTimeEq;

pub fn hash(password: &str) -> Result<String, DomainError> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| DomainError::Internal(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Internal(format!("password hashing failed: {e}")))
}

thread_local! {
    /// The argon2 memory of this thread's last check, kept for its next one. Left to
    /// argon2, every check allocates its own 19 MiB, and the allocator kept them: the
    /// login-flood bench saw a process grow by about one hash's memory per login. Password
    /// logins run on a few threads of their own, so this is a few buffers in all.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Whether `password` matches `stored` (a PHC string, with its own parameters); a
/// malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let hashed = MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut computed,
            &mut memory[..blocks],
        )
    });
    hashed.is_ok() && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
}

/// A hash of a random password: verifying against it costs the same as a real one, so a
/// login for an unknown mobile takes as long as one for a known mobile.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 24];
        rand::rng().fill_bytes(&mut random);
        hash(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_the_buffer_is_reused() {
        let stored = hash("correct-horse-battery").unwrap();
        assert!(verify("correct-horse-battery", &stored));
        assert!(!verify("correct-horse-batterz", &stored));
        assert!(!verify("correct-horse-battery", "not a PHC string"));
        let blocks = MEMORY.with_borrow(Vec::len);
        assert!(verify("correct-horse-battery", &stored));
        assert_eq!(MEMORY.with_borrow(Vec::len), blocks, "no second buffer");
        // Parameters come from the stored hash, not the defaults.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(
            b"pw-of-another-cost",
            &SaltString::encode_b64(&[7; 16]).unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(verify("pw-of-another-cost", &light));
        assert!(!verify("pw-of-another-cosT", &light));
    }
}
