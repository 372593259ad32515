//! Checks of the fields people type: mobiles, slugs, names, passwords.

use baoxiu_core::FieldError;

/// Mobiles are checked by the forms engine, which mobile fields of forms use too.
pub use baoxiu_forms::normalise_mobile;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

pub fn check_password(field: &str, password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(FieldError::new(
            field,
            "too_short",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ))
    } else if chars > MAX_PASSWORD_CHARS {
        Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ))
    } else {
        Ok(())
    }
}

/// A trimmed, non-empty text of at most `max` characters.
pub fn text(field: &str, input: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        Err(FieldError::new(field, "required", "must not be empty"))
    } else if trimmed.chars().count() > max {
        Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// The most characters of a record type (`default`, `customer`, ...).
pub const MAX_RECORD_TYPE_CHARS: usize = 32;

/// A record type: a non-empty name of at most [`MAX_RECORD_TYPE_CHARS`] characters.
pub fn record_type(field: &str, input: &str) -> Result<String, FieldError> {
    text(field, input, MAX_RECORD_TYPE_CHARS)
}

/// A trimmed text that may be empty, of at most `max` characters.
pub fn optional_text(field: &str, input: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if trimmed.chars().count() > max {
        Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(trimmed.to_owned())
    }
}

const RESERVED_SLUGS: &[&str] = &[
    "www", "api", "admin", "platform", "docs", "static", "app", "mp", "h5", "portal", "mail",
];

/// A tenant slug: 3-32 of a-z, 0-9 and inner hyphens; also the sub-domain label.
pub fn check_slug(field: &str, slug: &str) -> Result<(), FieldError> {
    let shaped = (3..=32).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !shaped {
        Err(FieldError::new(
            field,
            "invalid",
            "must be 3-32 characters of a-z, 0-9 and inner hyphens",
        ))
    } else if RESERVED_SLUGS.contains(&slug) {
        Err(FieldError::new(field, "reserved", "is reserved"))
    } else {
        Ok(())
    }
}

/// A host name: labels of a-z, 0-9 and inner hyphens, at least two labels, lower case.
pub fn normalise_host(field: &str, host: &str) -> Result<String, FieldError> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let valid = host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(host)
    } else {
        Err(FieldError::new(
            field,
            "invalid",
            "must be a host name such as repair.example.com",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles() {
        assert_eq!(
            normalise_mobile("m", "+86 138-0013-8000").unwrap(),
            "13800138000"
        );
        assert!(normalise_mobile("m", "12800138000").is_err());
        assert!(normalise_mobile("m", "1380013800").is_err());
        assert!(normalise_mobile("m", "1380013800a").is_err());
    }

    #[test]
    fn slugs_and_hosts() {
        assert!(check_slug("s", "acme-repair").is_ok());
        assert!(check_slug("s", "Acme").is_err());
        assert!(check_slug("s", "-ab").is_err());
        assert!(check_slug("s", "api").is_err());
        assert_eq!(
            normalise_host("h", "Repair.Example.COM.").unwrap(),
            "repair.example.com"
        );
        assert!(normalise_host("h", "localhost").is_err());
        assert!(normalise_host("h", "a..b").is_err());
    }
}
