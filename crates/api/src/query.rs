//! `ApiQuery<T>`: the query-string extractor. Refuses control characters and names the
//! parameter that does not fit its type (`limit`, not `query`), in words a person can read.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use baoxiu_core::FieldError;
use futures_util::future::{Ready, ready};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::text;

/// The query string read into `T` (as `web::Query`, with our errors).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T> ApiQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ApiQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(ApiQuery))
    }
}

/// Reads a query string into `T`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let errors = text::query_control_errors(query);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        ApiError::validation(vec![describe(field, &message)])
    })
}

fn describe(field: String, message: &str) -> FieldError {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return FieldError::new(name, "required", "is required");
    }
    let words = if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (given, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        format!(
            "must be one of {} (not `{given}`)",
            expected
                .strip_prefix("one of ")
                .unwrap_or(expected)
                .replace(" or ", ", ")
        )
    } else if message.contains("invalid digit")
        || message.contains("cannot parse integer")
        || message.contains("number too large")
        || message.contains("number too small")
    {
        "must be a whole number".to_owned()
    } else if message.contains("invalid float literal") {
        "must be a number".to_owned()
    } else if message.contains("`true` or `false`") {
        "must be `true` or `false`".to_owned()
    } else if [
        "premature end of input",
        "input contains invalid characters",
        "input is out of range",
        "trailing input",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
    ]
    .contains(&message)
    {
        "must be a date and time in RFC 3339, such as 2026-01-31T08:00:00Z".to_owned()
    } else {
        "is not valid here".to_owned()
    };
    let field = if field == "." || field.is_empty() {
        "query".to_owned()
    } else {
        field
    };
    FieldError::new(field, "invalid", words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<i64>,
        since: Option<chrono::DateTime<chrono::Utc>>,
        bound: Option<bool>,
    }

    fn field_of(query: &str) -> (String, String) {
        let error = parse::<Page>(query).unwrap_err();
        let text = format!("{error:?}");
        (text, query.to_owned())
    }

    #[test]
    fn the_parameter_is_named() {
        for (query, field) in [
            ("limit=abc", "limit"),
            ("since=yesterday", "since"),
            ("bound=maybe", "bound"),
        ] {
            let (debug, _) = field_of(query);
            assert!(
                debug.contains(&format!("field: \"{field}\"")),
                "{query}: {debug}"
            );
            assert!(!debug.contains("invalid digit"), "{debug}");
        }
        assert!(parse::<Page>("limit=5&bound=true").is_ok());
    }
}
