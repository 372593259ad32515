//! Development mode only, and left out of the OpenAPI document: the SMS messages the fake
//! sender would have sent, so a newcomer can log in without an SMS gateway. In production
//! the fake is refused at start and this route answers 404.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::problem::ApiError;
use crate::query::ApiQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DevSmsQuery {
    pub mobile: String,
}

/// `GET /api/v1/dev/sms?mobile=...`: messages to that mobile, newest first.
pub async fn list_dev_sms(
    state: web::Data<AppState>,
    query: ApiQuery<DevSmsQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(dev) = &state.dev_sms else {
        return Err(ApiError::route_not_found());
    };
    Ok(HttpResponse::Ok().json(dev.sent_to(&query.mobile)))
}
