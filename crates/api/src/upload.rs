//! Files sent to the API, read up to a limit and never held past it: `CsvUpload`, a file
//! sent as the request body (`text/csv`, up to the upload limit, which is larger than the
//! JSON body limit), and `file_part`, the one file of a `multipart/form-data` body (a
//! photo). Both refuse a body whose declared length is over the limit before reading it,
//! and stop reading (413) as soon as what arrives goes past it.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use baoxiu_core::FieldError;
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};

use crate::json::too_large;
use crate::problem::ApiError;
use crate::state::AppState;

/// The media types a CSV file arrives as: browsers on Windows call it
/// `application/vnd.ms-excel`.
const CSV_TYPES: [&str; 4] = [
    "text/csv",
    "application/csv",
    "text/plain",
    "application/vnd.ms-excel",
];

/// What a multipart body may carry besides its file: boundaries and part headers.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The largest `multipart/form-data` body read whole (by the idempotency middleware): one
/// photo and its envelope.
pub const MULTIPART_BODY_LIMIT: usize =
    baoxiu_workorders::attachments::MAX_BYTES + MULTIPART_OVERHEAD;

#[derive(Debug)]
pub struct CsvUpload(pub web::Bytes);

/// The request's media type, lowercase, without parameters.
fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Whether the request says its body is `multipart/form-data`.
pub fn is_multipart(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// 413 at once when the body says it is longer than `limit`.
fn refuse_declared_over(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    Ok(())
}

/// Reads `stream` whole, refusing with 413 as soon as more than `limit` bytes have come:
/// what is held is never more than `limit`. `check_start` sees the first `start_len` bytes
/// (or all, if fewer come) once, and may refuse the rest unread.
pub async fn read_limited<S, E>(
    mut stream: S,
    limit: usize,
    start_len: usize,
    check_start: impl Fn(&[u8]) -> Result<(), ApiError>,
    too_large: impl Fn() -> ApiError,
) -> Result<web::Bytes, ApiError>
where
    S: Stream<Item = Result<web::Bytes, E>> + Unpin,
{
    let mut body = web::BytesMut::new();
    let mut checked = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::malformed("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
        if !checked && body.len() >= start_len {
            check_start(&body)?;
            checked = true;
        }
    }
    if !checked {
        check_start(&body)?;
    }
    Ok(body.freeze())
}

/// The bytes of a request body, read up to `limit` (the idempotency middleware reads a
/// body whole to fingerprint it).
pub async fn read_body(payload: Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    read_limited(payload, limit, 0, |_| Ok(()), || too_large(limit)).await
}

impl FromRequest for CsvUpload {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.config.max_upload_bytes)
            .unwrap_or(16 * 1024 * 1024);
        let is_csv = media_type(req).is_some_and(|v| CSV_TYPES.contains(&v.as_str()));
        let declared = refuse_declared_over(req, limit);
        let payload = payload.take();
        Box::pin(async move {
            if !is_csv {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "send the file as the body, with Content-Type: text/csv",
                ));
            }
            declared?;
            let body = read_body(payload, limit).await?;
            if let Some(error) = crate::text::csv_control_error(&body) {
                return Err(ApiError::validation(vec![error]));
            }
            Ok(CsvUpload(body))
        })
    }
}

/// The one file of a `multipart/form-data` body, sent as the part named `part`, at most
/// `limit` bytes; `check_start` sees its first `start_len` bytes as soon as they come (a
/// file that is not what the route takes is refused unread). Any other part, a second
/// file or none answers 422 naming the part.
pub async fn file_part(
    req: &HttpRequest,
    payload: web::Payload,
    part: &'static str,
    limit: usize,
    start_len: usize,
    check_start: impl Fn(&[u8]) -> Result<(), ApiError>,
) -> Result<web::Bytes, ApiError> {
    if !is_multipart(req.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the file as the part `{part}` of a multipart/form-data body"),
        ));
    }
    refuse_declared_over(req, limit + MULTIPART_OVERHEAD)?;
    let invalid = |field: &str, code: &str, message: String| {
        ApiError::validation(vec![FieldError::new(field, code, message)])
    };
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut file = None;
    while let Some(field) = form.next().await {
        let field = field.map_err(|e| {
            ApiError::malformed(format!("the multipart body could not be read: {e}"))
        })?;
        let name = field.name().unwrap_or_default().to_owned();
        if name != part {
            return Err(invalid(
                if name.is_empty() { part } else { &name },
                "unexpected",
                format!("this route takes one part, `{part}`, and nothing else"),
            ));
        }
        if file.is_some() {
            return Err(invalid(
                part,
                "too_many",
                "send one file per request".into(),
            ));
        }
        file = Some(
            read_limited(field, limit, start_len, &check_start, || {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Payload too large",
                    format!("the file `{part}` must be at most {limit} bytes"),
                )
            })
            .await?,
        );
    }
    file.ok_or_else(|| {
        invalid(
            part,
            "required",
            format!("send the file as the part `{part}`"),
        )
    })
}
