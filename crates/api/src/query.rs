//! `ApiQuery<T>`: the query-string extractor. Refuses control characters and names the
//! parameter that does not fit its type (`limit`, not `query`), in words a person can read.
//! And a middleware that refuses, on every route, a query value past the bound the OpenAPI
//! document states for it (`maxLength`, a `uuid` format), read from the document itself so
//! that the two cannot disagree.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
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

/// Answers 422 naming each query parameter past the bound the document states for it,
/// before routing (and before a missing object's 404), whatever extractor the route uses.
pub async fn refuse_queries_past_their_bounds(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if !req.query_string().is_empty()
        && let Some(pattern) = req.match_pattern()
        && let Err(error) = check_bounds(req.method().as_str(), &pattern, req.query_string())
    {
        return Ok(req.error_response(error));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// What the document bounds a string query parameter by.
#[derive(Debug)]
struct Bound {
    name: String,
    max_chars: Option<usize>,
    uuid: bool,
}

/// The bounds of each operation's string query parameters, by method and path template,
/// read from the OpenAPI document once.
fn bounds() -> &'static HashMap<(String, String), Vec<Bound>> {
    static BOUNDS: OnceLock<HashMap<(String, String), Vec<Bound>>> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        let document = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
        let mut all = HashMap::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let found: Vec<Bound> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query" && p["schema"]["type"] == "string")
                    .map(|p| Bound {
                        name: p["name"].as_str().unwrap_or_default().to_owned(),
                        max_chars: p["schema"]["maxLength"]
                            .as_u64()
                            .and_then(|m| usize::try_from(m).ok()),
                        uuid: p["schema"]["format"] == "uuid",
                    })
                    .collect();
                if !found.is_empty() {
                    all.insert((method.to_uppercase(), path.clone()), found);
                }
            }
        }
        all
    })
}

/// 422 naming every query parameter past its documented bound. Values with control
/// characters are left to [`parse`], which names them as such.
fn check_bounds(method: &str, pattern: &str, query: &str) -> Result<(), ApiError> {
    let Some(bounds) = bounds().get(&(method.to_owned(), pattern.to_owned())) else {
        return Ok(());
    };
    let mut errors: Vec<FieldError> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(bound) = bounds.iter().find(|b| b.name == key) else {
            continue;
        };
        if value.chars().any(|c| text::is_refused(c, false))
            || errors.iter().any(|e| e.field == bound.name)
        {
            continue;
        }
        if let Some(max) = bound.max_chars.filter(|max| value.chars().count() > *max) {
            errors.push(FieldError::new(
                &bound.name,
                "too_long",
                format!("at most {max} characters"),
            ));
        } else if bound.uuid && uuid::Uuid::try_parse(&value).is_err() {
            errors.push(FieldError::new(
                &bound.name,
                "invalid",
                "must be an id (a UUID)",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
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
