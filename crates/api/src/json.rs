//! `ApiJson<T>`: the JSON body extractor. Requires `application/json`, enforces the body
//! limit, refuses control characters, rejects unknown fields (the request types say
//! `deny_unknown_fields`), and names the field that is wrong, as problem+json.
//!
//! A body is read in two steps: first as a JSON value (what does not parse is 400
//! `malformed-request`), then into the request type (whatever parses but does not fit the
//! types is 422, naming the field by its JSON path, `staff.0.role`, in words a person can
//! read rather than serde's Rust type names).

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use baoxiu_core::FieldError;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::problem::ApiError;
use crate::text;

#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// The largest body accepted, set from the configuration as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(64 * 1024);
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || v.ends_with("+json")
            })
            .unwrap_or(false);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "send the body as application/json",
                ));
            }
            let bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(limit)
                } else {
                    ApiError::malformed("the request body could not be read")
                }
            })?;
            if bytes.len() > limit {
                return Err(too_large(limit));
            }
            parse(&bytes).map(ApiJson)
        })
    }
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!("the body must be at most {limit} bytes"),
    )
}

/// Reads a request type out of a JSON value already parsed (and checked), naming the field
/// that is wrong as `parse` does (for bodies whose type depends on the caller).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    let errors = text::json_control_errors(&value);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    typed(value)
}

/// Parses JSON: syntax errors are 400; control characters, and content that does not fit
/// the type, are 422 naming the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| {
        let detail = match error.classify() {
            serde_json::error::Category::Eof => {
                format!(
                    "the body is not valid JSON: it ends too early (line {}, column {})",
                    error.line(),
                    error.column()
                )
            }
            _ => format!(
                "the body is not valid JSON: {} (line {}, column {})",
                syntax_words(&error),
                error.line(),
                error.column()
            ),
        };
        ApiError::malformed(detail)
    })?;
    from_value(value)
}

/// serde_json's description of a syntax error without its position (given apart).
fn syntax_words(error: &serde_json::Error) -> String {
    let message = error.to_string();
    message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned()
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    // The value is kept for the error's sake: serde says what it expected, the value says
    // where (serde loses the path inside internally tagged enums).
    match serde_path_to_error::deserialize::<_, T>(&value) {
        Ok(parsed) => Ok(parsed),
        Err(error) => Err(ApiError::validation(vec![describe::<T>(&value, error)])),
    }
}

/// One segment of a JSON path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &serde_path_to_error::Path) -> Vec<Step> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            // Our enums are unit variants or internally tagged: a variant is not a key.
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// `staff.0.role`; the body itself is `body`.
fn field_name(steps: &[Step]) -> String {
    if steps.is_empty() {
        return "body".to_owned();
    }
    steps
        .iter()
        .map(|step| match step {
            Step::Key(key) => key.clone(),
            Step::Index(index) => index.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn at<'v>(value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get(key),
        Step::Index(index) => value.get(index),
    })
}

fn at_mut<'v>(value: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    steps.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key),
        Step::Index(index) => value.get_mut(index),
    })
}

/// The field error for a body that parsed but does not fit `T`.
fn describe<T: DeserializeOwned>(
    body: &Value,
    error: serde_path_to_error::Error<serde_json::Error>,
) -> FieldError {
    let mut path = steps(error.path());
    let message = error.into_inner().to_string();
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        path.push(Step::Key(name.to_owned()));
        return FieldError::new(field_name(&path), "required", "is required");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        // The path ends with the field's name, but not inside a tagged union.
        if path.last() != Some(&Step::Key(name.to_owned())) {
            path.push(Step::Key(name.to_owned()));
        }
        let known = rest.split_once(", expected ").map(|(_, known)| known);
        let words = match known {
            Some(known) => format!("is not a field here (the fields are {})", list(known)),
            None => "is not a field here (this object takes no fields)".to_owned(),
        };
        return FieldError::new(field_name(&path), "unknown_field", words);
    }
    // Inside an internally tagged enum serde reads a buffered copy, and the path ends at
    // the enum: find the value the message names within it.
    if let Some(value) = at(body, &path)
        && let Some(unexpected) = unexpected_of(&message)
        && (value.is_object() || value.is_array())
        // A unit variant given content: the object is the bad value itself.
        && !message.ends_with(", expected unit")
        && !matches!(unexpected, Unexpected::Map | Unexpected::Seq)
        && let Some(inner) = locate(value, &unexpected)
    {
        path.extend(inner);
    }
    let words = human(&message, || variants::<T>(body, &path));
    FieldError::new(field_name(&path), "invalid", words)
}

/// The value serde says it met (`invalid type: integer \`5\`, ...`).
#[derive(Debug)]
enum Unexpected {
    Null,
    Bool(bool),
    Number(String),
    Str(String),
    Map,
    Seq,
}

fn unexpected_of(message: &str) -> Option<Unexpected> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    if let Some(rest) = rest {
        let what = rest
            .rsplit_once(", expected ")
            .map_or(rest, |(what, _)| what);
        return Some(if what == "null" || what == "unit value" {
            Unexpected::Null
        } else if let Some(b) = what.strip_prefix("boolean `") {
            Unexpected::Bool(b.starts_with("true"))
        } else if let Some(n) = what
            .strip_prefix("integer `")
            .or_else(|| what.strip_prefix("floating point `"))
        {
            Unexpected::Number(n.trim_end_matches('`').to_owned())
        } else if let Some(s) = what.strip_prefix("string \"") {
            Unexpected::Str(s.strip_suffix('"').unwrap_or(s).to_owned())
        } else if what == "map" {
            Unexpected::Map
        } else if what == "sequence" {
            Unexpected::Seq
        } else {
            return None;
        });
    }
    let variant = message.strip_prefix("unknown variant `")?;
    Some(Unexpected::Str(
        variant.split('`').next().unwrap_or_default().to_owned(),
    ))
}

fn matches(value: &Value, unexpected: &Unexpected) -> bool {
    match (value, unexpected) {
        (Value::Null, Unexpected::Null) => true,
        (Value::Bool(a), Unexpected::Bool(b)) => a == b,
        (Value::Number(n), Unexpected::Number(text)) => {
            n.to_string() == *text || n.as_f64().map(|f| f.to_string()).as_deref() == Some(text)
        }
        (Value::String(s), Unexpected::Str(text)) => s == text,
        _ => false,
    }
}

/// The path, within `value`, of the first value that `unexpected` describes.
fn locate(value: &Value, unexpected: &Unexpected) -> Option<Vec<Step>> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, inner)| {
            if matches(inner, unexpected) {
                return Some(vec![Step::Key(key.clone())]);
            }
            let mut found = locate(inner, unexpected)?;
            found.insert(0, Step::Key(key.clone()));
            Some(found)
        }),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, inner)| {
            if matches(inner, unexpected) {
                return Some(vec![Step::Index(index)]);
            }
            let mut found = locate(inner, unexpected)?;
            found.insert(0, Step::Index(index));
            Some(found)
        }),
        _ => None,
    }
}

/// The values an enum field takes, found by sending it a string no enum has: serde then
/// lists them (`unknown variant ..., expected one of ...`).
fn variants<T: DeserializeOwned>(body: &Value, path: &[Step]) -> Option<String> {
    let mut probe = body.clone();
    *at_mut(&mut probe, path)? = Value::String("\u{0}".to_owned());
    let error = serde_path_to_error::deserialize::<_, T>(&probe).err()?;
    let message = error.into_inner().to_string();
    let expected = message
        .strip_prefix("unknown variant `\u{0}`, expected ")?
        .to_owned();
    Some(expected)
}

/// "`a`, `b`" from serde's "one of `a`, `b`" or "`a` or `b`".
fn list(expected: &str) -> String {
    expected
        .strip_prefix("one of ")
        .unwrap_or(expected)
        .replace(" or ", ", ")
}

/// serde's sentence in words for people: what the field must be, and what it was.
fn human(message: &str, variants: impl FnOnce() -> Option<String>) -> String {
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (given, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        if expected.is_empty() {
            return format!("`{given}` is not one of the accepted values");
        }
        return format!("must be one of {} (not `{given}`)", list(expected));
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        let (given, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        let expected = match expected_words(expected) {
            Expected::Words(words) => words,
            Expected::Choice => match variants() {
                Some(values) => format!("one of {}", list(&values)),
                None => "one of the documented values".to_owned(),
            },
        };
        return format!("must be {expected}, not {}", given_words(given));
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let (length, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        if expected.starts_with("struct ") || expected.starts_with("tuple struct") {
            // serde reads a struct from an array too, but the document says object.
            return "must be an object, not an array".to_owned();
        }
        return format!(
            "has {length} items; it must have {}",
            expected.trim_start_matches("a ").trim_start_matches("an ")
        );
    }
    if is_chrono(message) {
        return "must be a date and time in RFC 3339, such as 2026-01-31T08:00:00Z".to_owned();
    }
    if message.starts_with("data did not match any variant") {
        return "does not match any of the accepted shapes".to_owned();
    }
    message.to_owned()
}

/// chrono's parse errors (a date-time string that is not one).
fn is_chrono(message: &str) -> bool {
    [
        "premature end of input",
        "input contains invalid characters",
        "input is out of range",
        "trailing input",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
        "bad or unsupported format string",
    ]
    .contains(&message)
}

enum Expected {
    Words(String),
    /// A closed set of values: list them.
    Choice,
}

fn expected_words(expected: &str) -> Expected {
    let integer =
        |low: &str, high: &str| Expected::Words(format!("a whole number from {low} to {high}"));
    let words = |w: &str| Expected::Words(w.to_owned());
    match expected {
        "a string" | "a borrowed string" | "string" | "a character" | "char" => words("a string"),
        "a boolean" | "bool" => words("true or false"),
        "u8" => integer("0", "255"),
        "u16" => integer("0", "65535"),
        "u32" => integer("0", "4294967295"),
        "u64" | "usize" | "u128" => words("a whole number, 0 or more"),
        "i8" => integer("-128", "127"),
        "i16" => integer("-32768", "32767"),
        "i32" => integer("-2147483648", "2147483647"),
        "i64" | "isize" | "i128" => words("a whole number"),
        "f32" | "f64" => words("a number"),
        "a sequence" | "sequence" | "a tuple" => words("an array"),
        // A unit variant given content (`{"admin": 1}`).
        "unit" => Expected::Choice,
        "string or map" | "variant identifier" | "unit variant" => Expected::Choice,
        "map with a single key" => Expected::Choice,
        e if e.starts_with("enum ") => Expected::Choice,
        e if e.starts_with("struct ")
            || e.starts_with("internally tagged enum")
            || e.starts_with("adjacently tagged enum")
            || e.starts_with("a map")
            || e == "map" =>
        {
            words("an object")
        }
        e if e.starts_with("tuple") || e.starts_with("an array") || e.starts_with("a sequence") => {
            words("an array")
        }
        e if e.contains("RFC 3339") || e.contains("date and time") || e.contains("datetime") => {
            words("a date and time in RFC 3339, such as 2026-01-31T08:00:00Z")
        }
        e if e.contains("date") => words("a date, such as 2026-01-31"),
        e if e.is_empty() || e.chars().any(|c| c.is_ascii_uppercase()) => {
            // A Rust type name says nothing to a client.
            words("a value of the documented type")
        }
        e => words(e),
    }
}

fn given_words(given: &str) -> String {
    if given == "null" || given == "unit value" {
        "null".to_owned()
    } else if given.starts_with("boolean") {
        given.replace("boolean ", "").replace('`', "")
    } else if given.starts_with("integer") || given.starts_with("floating point") {
        let n = given.split('`').nth(1).unwrap_or_default();
        format!("the number {n}")
    } else if given.starts_with("string") {
        format!("the string {}", given.trim_start_matches("string "))
    } else if given == "map" {
        "an object".to_owned()
    } else if given == "sequence" {
        "an array".to_owned()
    } else {
        given.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_no_rust_types() {
        assert_eq!(
            human(
                "invalid type: null, expected struct CreateAccountRequest",
                || None
            ),
            "must be an object, not null"
        );
        assert_eq!(
            human("invalid value: integer `-1`, expected i32", || None),
            "must be a whole number from -2147483648 to 2147483647, not the number -1"
        );
        assert_eq!(
            human("invalid type: integer `5`, expected enum Role", || Some(
                "one of `admin`, `engineer`".into()
            )),
            "must be one of `admin`, `engineer`, not the number 5"
        );
        assert_eq!(
            human("premature end of input", || None),
            "must be a date and time in RFC 3339, such as 2026-01-31T08:00:00Z"
        );
    }
}
