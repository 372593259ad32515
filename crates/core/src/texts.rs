//! Schemas of the bounded strings that request lists hold (role ids, QR codes, tags,
//! options), for `#[schema(value_type = Vec<…>, inline)]`: utoipa states no bound on the
//! items of a `Vec<String>` otherwise. Documentation only; the domain checks each bound.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

/// The longest role id: a UUID, or a built-in role's `{tenant id}-end-customer`.
pub const MAX_ROLE_ID_CHARS: usize = 64;

/// The longest QR code: a device serial's letters and digits (at most 64), or a rule's
/// prefix and sequence or random characters (at most 24).
pub const MAX_CODE_CHARS: usize = 64;

/// What a QR code may hold: letters and digits (it goes into URLs as it is).
pub const CODE_PATTERN: &str = "^[A-Za-z0-9]{1,64}$";

/// Whether `text` has the shape of a QR code ([`CODE_PATTERN`]).
pub fn is_code(text: &str) -> bool {
    (1..=MAX_CODE_CHARS).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric())
}

fn text(max: usize, pattern: Option<&str>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max))
        .pattern(pattern)
        .description(Some(description))
        .into()
}

macro_rules! text_schema {
    ($(#[$meta:meta])* $name:ident => $schema:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

text_schema! {
    /// A role id (at most 64 characters).
    RoleIdText => text(MAX_ROLE_ID_CHARS, None, "A role id")
}

text_schema! {
    /// A QR code: 1-64 letters and digits.
    CodeText => text(MAX_CODE_CHARS, Some(CODE_PATTERN), "A QR code: 1-64 letters and digits")
}

text_schema! {
    /// A rating tag: 1-16 characters.
    RatingTagText => text(16, None, "A rating tag: 1-16 characters")
}

text_schema! {
    /// A select field's option: at most 64 characters.
    OptionText => text(64, None, "A choice of a select field: 1-64 characters")
}

text_schema! {
    /// An object's id: a UUID.
    UuidText => ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}
