//! Per-request plumbing: the request id (taken from `X-Request-Id` when sane, else new),
//! echoed in the response and written into every problem body with the request path.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing_actix_web::RootSpanBuilder;

use crate::problem::Problem;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    sane.then(|| value.to_owned())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = incoming_id(&req).unwrap_or_else(baoxiu_core::new_id);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let path = req.path().to_owned();
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    // Only answers that are still errors: the metrics middleware turns the 404 of
    // `/metrics` into the metrics page.
    let problem = res.response().extensions().get::<Problem>().cloned();
    if let Some(mut problem) = problem.filter(|_| res.status().as_u16() >= 400) {
        problem.request_id = Some(request_id);
        problem.instance = Some(path);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        res = res.map_body(|_, _| BoxBody::new(body));
    }
    Ok(res)
}

/// The root span of a request carries the one request id the client sees (`X-Request-Id`,
/// also in every problem body), so every log line of the request names it; the request
/// ends with one short line for a client error (`info`) and one for a server error
/// (`error`, with what went wrong). Successes log nothing.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            path = %request.path(),
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        let _entered = span.enter();
        match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                if response.status().is_server_error() {
                    match response.response().error() {
                        Some(error) => tracing::error!(status, %error, "request failed"),
                        None => tracing::error!(status, "request failed"),
                    }
                } else if response.status().is_client_error() {
                    tracing::info!(status, "client error");
                }
            }
            Err(error) => tracing::error!(%error, "request failed"),
        }
    }
}
