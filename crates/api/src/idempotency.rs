//! `Idempotency-Key` on the creating POST routes where a retry would create twice (a device,
//! an account, a contact, a registration, a photo upload): one middleware, put on a route with
//! `wrap = "from_fn(crate::idempotency::idempotent)"`. With the header, the first request
//! with a key runs and its answer is stored (`baoxiu_store::idempotency`) for 24 hours; a
//! retry with the same key and the same request gets that answer again, with
//! `Idempotent-Replayed: true`; the same key with another request answers 422 naming
//! `Idempotency-Key`; the same key while the first request is still running answers 409.
//! Keys are the caller's own: (tenant, principal, key), a guest's principal being their
//! session (`principal_of`). Without the header nothing changes.
//!
//! Answers a retry could change are not kept: server errors, 401, 409 and 429 give the key back,
//! so that the retry runs again.
//!
//! The work-order submissions (`POST /work-orders`, `POST /admin/work-orders`) keep their key
//! in their own unit of work instead (`in_unit`): the middleware only reads the body and
//! computes the fingerprint (no statement), the route's unit stores its answer under the key
//! with one insert (`UnitKey::answer`), and a second request with the key waits for the
//! first's commit, is rolled back and answers the first answer (or 422): no 409 there. An
//! answer the unit did not keep (a refusal) is looked up and kept after it, as above.

use std::collections::BTreeMap;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use baoxiu_core::DomainError;
use baoxiu_store::idempotency::{self, Claim, Held, KeyOwner, StoredResponse};
use sha2::{Digest, Sha256};

use crate::extract::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::tokens::TokenKind;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The headers of an answer that are stored and replayed with its body.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::ETAG, header::LOCATION];
const MAX_KEY_LEN: usize = 255;

fn key_of(req: &ServiceRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(HEADER)?;
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()))
        .filter(|k| k.bytes().all(|b| b.is_ascii_graphic()));
    Some(key.map(str::to_owned).ok_or_else(|| {
        DomainError::invalid(
            "Idempotency-Key",
            "invalid",
            format!("the key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )
        .into()
    }))
}

fn fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(req.method().as_str());
    hash.update(b" ");
    hash.update(req.uri().path_and_query().map_or("", |p| p.as_str()));
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

fn refuse(req: ServiceRequest, error: impl Into<ApiError>) -> ServiceResponse<BoxBody> {
    req.into_response(error.into().error_response())
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = u16::try_from(stored.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    let headers: BTreeMap<String, String> =
        serde_json::from_str(&stored.headers).unwrap_or_default();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((REPLAYED_HEADER, "true"));
    response.body(stored.body)
}

/// Whether an answer is the request's for good, so a retry gets it again. A 401 is the
/// session's (ended since the token was issued), not the request's.
fn keeps(status: StatusCode) -> bool {
    !(status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS)
}

/// Whose keys a caller's are: a user's own; the guest identity is one principal shared by
/// every guest, so a guest's keys are their session's (the token's `sid`), and two guests
/// sending the same key never get each other's answer.
fn principal_of(caller: &Caller) -> String {
    match (caller.kind, &caller.session_id) {
        (TokenKind::Guest, Some(session)) => format!("{}/session/{session}", caller.subject),
        _ => caller.subject.clone(),
    }
}

/// The key, fingerprint and whose, as `in_unit` leaves them for the route's unit.
#[derive(Debug, Clone)]
struct PendingKey {
    owner: KeyOwner,
    fingerprint: String,
}

/// The mark of an answer the route's unit kept under its key.
#[derive(Debug, Clone, Copy)]
struct Kept;

/// The `Idempotency-Key` of a request on a route wrapped in `in_unit` (none without the
/// header): the route's unit keeps its answer under it with `answer`.
#[derive(Debug, Clone, Default)]
pub struct UnitKey(Option<PendingKey>);

impl actix_web::FromRequest for UnitKey {
    type Error = Error;
    type Future = std::future::Ready<Result<Self, Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut Payload) -> Self::Future {
        use actix_web::HttpMessage;
        std::future::ready(Ok(UnitKey(req.extensions().get::<PendingKey>().cloned())))
    }
}

/// A JSON answer built inside a unit of work (and kept under its key there).
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl UnitKey {
    /// The answer `value` with `status`; with a key, kept under it in this transaction (one
    /// insert). A key another request holds fails the unit (so that it rolls back): the
    /// middleware then answers what the key holds.
    pub fn answer(
        &self,
        conn: &mut baoxiu_store::DbConn,
        now: chrono::NaiveDateTime,
        status: StatusCode,
        value: &impl serde::Serialize,
    ) -> Result<Answer, DomainError> {
        let body = serde_json::to_vec(value).map_err(|e| DomainError::Internal(e.to_string()))?;
        if let Some(pending) = &self.0 {
            let stored = StoredResponse {
                status: i32::from(status.as_u16()),
                headers: serde_json::json!({ header::CONTENT_TYPE.as_str(): "application/json" })
                    .to_string(),
                body: body.clone(),
            };
            if !idempotency::keep(conn, &pending.owner, &pending.fingerprint, &stored, now)? {
                return Err(in_flight());
            }
        }
        Ok(Answer { status, body })
    }
}

impl Answer {
    pub fn respond(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status)
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(self.body);
        response.extensions_mut().insert(Kept);
        response
    }
}

fn in_flight() -> DomainError {
    DomainError::conflict(
        "idempotency-key-in-flight",
        "a request with this Idempotency-Key is still running; retry once it has answered",
    )
}

fn reused() -> DomainError {
    DomainError::invalid(
        "Idempotency-Key",
        "reused",
        "this key was used for another request; use a new key for a new request",
    )
}

/// The answer to keep of a response: its status, kept headers and body (read whole).
async fn to_keep(
    response: ServiceResponse<impl MessageBody + 'static>,
) -> (ServiceResponse<BoxBody>, Option<StoredResponse>) {
    let status = response.status();
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        let failed = ApiError::from(DomainError::Internal("the answer could not be read".into()))
            .error_response();
        return (ServiceResponse::new(request, failed), None);
    };
    let headers: BTreeMap<&str, &str> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            head.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| (name.as_str(), v))
        })
        .collect();
    let stored = StoredResponse {
        status: i32::from(status.as_u16()),
        headers: serde_json::to_string(&headers).unwrap_or_else(|_| "{}".into()),
        body: bytes.to_vec(),
    };
    let response = head.set_body(BoxBody::new(bytes));
    (ServiceResponse::new(request, response), Some(stored))
}

/// The key of a request with the header and a token, its body read and put back: None
/// passes the request on as it is; an error is the answer.
async fn pending_of(req: &mut ServiceRequest) -> Option<Result<(AppState, PendingKey), ApiError>> {
    let key = match key_of(req)? {
        Err(error) => return Some(Err(error)),
        Ok(key) => key,
    };
    let state = req.app_data::<web::Data<AppState>>().cloned()?;
    let caller = Caller::from_token(req.request())?;
    let limit = if crate::upload::is_multipart(req.headers()) {
        crate::upload::MULTIPART_BODY_LIMIT
    } else {
        state.config.max_body_bytes
    };
    let body =
        match crate::upload::read_body(actix_web::HttpMessage::take_payload(req), limit).await {
            Ok(body) => body,
            Err(error) => return Some(Err(error)),
        };
    let fingerprint = fingerprint(req, &body);
    req.set_payload(Payload::from(body));
    let owner = KeyOwner {
        tenant_id: caller.tenant_id.0.clone(),
        principal_id: principal_of(&caller),
        key,
    };
    Some(Ok((
        AppState::clone(&state),
        PendingKey { owner, fingerprint },
    )))
}

/// Middleware for the routes that keep their key in their own unit (see the module).
pub async fn in_unit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (state, pending) = match pending_of(&mut req).await {
        None => return Ok(next.call(req).await?.map_into_boxed_body()),
        Some(Err(error)) => return Ok(refuse(req, error)),
        Some(Ok(found)) => found,
    };
    actix_web::HttpMessage::extensions_mut(&req).insert(pending.clone());
    let response = next.call(req).await?;
    if response.response().extensions().get::<Kept>().is_some() {
        return Ok(response.map_into_boxed_body());
    }
    // Not kept by the unit: a refusal, or another request with the key came first.
    let now = state.now();
    let held = {
        let pending = pending.clone();
        state
            .read(&crate::state::Nobody, move |tx| {
                Ok(idempotency::held(
                    tx.conn,
                    &pending.owner,
                    &pending.fingerprint,
                    now,
                )?)
            })
            .await
    };
    let answer = |response: ServiceResponse, replaced: HttpResponse| {
        let (request, _) = response.into_parts();
        ServiceResponse::new(request, replaced)
    };
    let response = response.map_into_boxed_body();
    match held {
        Ok(Held::Replay(stored)) => Ok(answer(response, replay(stored))),
        Ok(Held::Mismatch) => Ok(answer(response, ApiError::from(reused()).error_response())),
        Ok(Held::InFlight) => Ok(answer(
            response,
            ApiError::from(in_flight()).error_response(),
        )),
        Ok(Held::Nothing) if keeps(response.status()) => {
            let (response, stored) = to_keep(response).await;
            if let Some(stored) = stored {
                let saved = state
                    .write(&crate::state::Nobody, move |tx| {
                        Ok(idempotency::keep(
                            tx.conn,
                            &pending.owner,
                            &pending.fingerprint,
                            &stored,
                            now,
                        )?)
                    })
                    .await;
                if let Err(error) = saved {
                    tracing::error!(%error, "the idempotent answer could not be stored");
                }
            }
            Ok(response)
        }
        Ok(Held::Nothing) => Ok(response),
        Err(error) => {
            tracing::error!(%error, "an idempotency key could not be read");
            Ok(response)
        }
    }
}

/// Middleware for the routes that take `Idempotency-Key` (see the module).
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Whose key: the token's caller (the route checks its session with the principal it
    // resolves anyway). Without a valid token the route itself answers (401, 403).
    let (state, PendingKey { owner, fingerprint }) = match pending_of(&mut req).await {
        None => return Ok(next.call(req).await?.map_into_boxed_body()),
        Some(Err(error)) => return Ok(refuse(req, error)),
        Some(Ok(found)) => found,
    };
    let now = state.now();
    let claim = {
        let owner = owner.clone();
        state
            .write(&crate::state::Nobody, move |tx| {
                Ok(idempotency::claim(tx.conn, &owner, &fingerprint, now)?)
            })
            .await
    };
    match claim {
        Err(error) => return Ok(refuse(req, error)),
        Ok(Claim::Replay(stored)) => return Ok(req.into_response(replay(stored))),
        Ok(Claim::InFlight) => return Ok(refuse(req, in_flight())),
        Ok(Claim::Mismatch) => return Ok(refuse(req, reused())),
        Ok(Claim::Fresh) => {}
    }
    let outcome = next.call(req).await;
    let response = match outcome {
        Ok(response) => response,
        Err(error) => {
            forget(&state, owner).await;
            return Err(error);
        }
    };
    if !keeps(response.status()) {
        forget(&state, owner).await;
        return Ok(response.map_into_boxed_body());
    }
    let (response, stored) = to_keep(response).await;
    let Some(stored) = stored else {
        forget(&state, owner).await;
        return Ok(response);
    };
    let saved = state
        .write(&crate::state::Nobody, move |tx| {
            Ok(idempotency::complete(tx.conn, &owner, &stored)?)
        })
        .await;
    if let Err(error) = saved {
        // The change is made; only its replay is lost. A retry then runs again.
        tracing::error!(%error, "the idempotent answer could not be stored");
    }
    Ok(response)
}

async fn forget(state: &AppState, owner: KeyOwner) {
    if let Err(error) = state
        .write(&crate::state::Nobody, move |tx| {
            Ok(idempotency::release(tx.conn, &owner)?)
        })
        .await
    {
        tracing::error!(%error, "an idempotency key could not be given back");
    }
}
