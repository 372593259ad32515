//! `ApiJson<T>`: the JSON body extractor. Requires `application/json`, enforces the body
//! limit, rejects unknown fields (the request types say `deny_unknown_fields`), and names
//! the field that is wrong, as problem+json.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use baoxiu_core::FieldError;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

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

/// Reads a request type out of a JSON value already parsed, naming the field that is
/// wrong as `parse` does (for bodies whose type depends on the caller).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(&value)
        .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
    parse(&bytes)
}

/// Parses JSON, telling syntax errors (400) from content errors (422 naming the field).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                let (field, code) = if message.starts_with("unknown field `") {
                    // The path already ends with the unknown field's name.
                    (path, "unknown_field")
                } else if let Some(rest) = message.strip_prefix("missing field `") {
                    let name = rest.split('`').next().unwrap_or_default();
                    (join(&path, name), "required")
                } else {
                    (if path == "." { String::new() } else { path }, "invalid")
                };
                ApiError::validation(vec![FieldError::new(field, code, message)])
            }
            _ => ApiError::malformed(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|_| {
        ApiError::malformed("the body has trailing characters after the JSON value")
    })?;
    Ok(value)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}
