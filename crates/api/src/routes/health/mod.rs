//! Liveness and readiness probes (outside `/api/v1`).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`.
    pub status: String,
}

/// Liveness: the process answers.
///
/// Answers 200 as long as the process serves requests; it does not touch the database.
#[utoipa::path(
    tag = "health",
    operation_id = "get_liveness",
    responses((status = 200, description = "Alive", body = HealthResponse)),
    security(()),
)]
#[get("/healthz/live")]
pub async fn get_liveness() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".into(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessResponse {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// Readiness: the database answers.
///
/// Answers 200 when the database answers, 503 when it does not; the body names the backend.
#[utoipa::path(
    tag = "health",
    operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready", body = ReadinessResponse),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[get("/healthz/ready")]
pub async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    web::block(move || db.ping()).await?.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::unavailable("the database does not answer")
    })?;
    Ok(HttpResponse::Ok().json(ReadinessResponse {
        status: "ok".into(),
        database: state.db.backend().name().into(),
    }))
}
