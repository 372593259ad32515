//! `CsvUpload`: a file sent as the request body (`text/csv`), read up to the upload limit,
//! which is larger than the JSON body limit.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

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

#[derive(Debug)]
pub struct CsvUpload(pub web::Bytes);

impl FromRequest for CsvUpload {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.config.max_upload_bytes)
            .unwrap_or(16 * 1024 * 1024);
        let is_csv = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| CSV_TYPES.contains(&v.trim().to_ascii_lowercase().as_str()));
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_csv {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "send the file as the body, with Content-Type: text/csv",
                ));
            }
            if declared.is_some_and(|length| length > limit) {
                return Err(too_large(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| ApiError::malformed("the request body could not be read"))?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            if let Some(error) = crate::text::csv_control_error(&body) {
                return Err(ApiError::validation(vec![error]));
            }
            Ok(CsvUpload(body.freeze()))
        })
    }
}
