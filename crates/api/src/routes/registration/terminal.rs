//! The registration form and its completion by a terminal user.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use baoxiu_accounts::customers::ExtraFields;
use baoxiu_accounts::fields::normalise_mobile;
use baoxiu_accounts::sms::{self, Purpose};
use baoxiu_accounts::terminal_users;
use baoxiu_core::DomainError;
use baoxiu_registration::flows::{self, RegistrationInput, RegistrationOutcome};
use baoxiu_registration::{Channel, methods};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{Caller, RegistrantCaller};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{TerminalView, terminal_view};
use crate::state::AppState;

/// A field of the registration form.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormFieldDto {
    pub key: String,
    pub label: String,
    pub required: bool,
}

impl From<methods::FormField> for FormFieldDto {
    fn from(f: methods::FormField) -> Self {
        Self {
            key: f.key,
            label: f.label,
            required: f.required,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationFormResponse {
    pub method_id: String,
    pub method_name: String,
    /// Registrations wait for the provider's approval.
    pub requires_approval: bool,
    pub invitation_required: bool,
    /// `user_defined`, `existing_only` or `business_registry`.
    pub new_account_rule: methods::NewAccountRule,
    /// Asked besides the account name.
    pub account_fields: Vec<FormFieldDto>,
    /// Asked besides the contact name and the mobile.
    pub contact_fields: Vec<FormFieldDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelQuery {
    /// Where the user is; default `h5`.
    #[param(inline)]
    pub channel: Option<Channel>,
}

/// Get the registration form.
///
/// The form of the self-registration method that applies to the caller.
#[utoipa::path(
    tag = "registration",
    operation_id = "get_registration_form",
    params(ChannelQuery),
    responses(
        (status = 200, description = "The form", body = RegistrationFormResponse),
        (status = 404, description = "No self-registration method applies", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/registration/form")]
pub async fn get_registration_form(
    state: web::Data<AppState>,
    caller: RegistrantCaller,
    query: ApiQuery<ChannelQuery>,
) -> Result<web::Json<RegistrationFormResponse>, ApiError> {
    let RegistrantCaller(caller) = caller;
    let channel = query.channel.unwrap_or(Channel::H5);
    let form = state
        .read(&caller.clone(), move |tx| {
            let user = terminal_users::get(tx.conn, &caller.tenant_id, &caller.subject)?;
            flows::form(tx.conn, &caller.tenant_id, &user, channel)
        })
        .await?;
    Ok(web::Json(RegistrationFormResponse {
        method_id: form.method_id,
        method_name: form.method_name,
        requires_approval: form.requires_approval,
        invitation_required: form.invitation_required,
        new_account_rule: form.new_account_rule,
        account_fields: form.account_fields.into_iter().map(Into::into).collect(),
        contact_fields: form.contact_fields.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The customer company. Matched against existing accounts by the method's duplicate
    /// rule: `exact` (case, width and spacing aside) or `fuzzy` (also ignoring
    /// punctuation, a leading 省/市 place prefix's 省/市 character and legal suffixes
    /// such as 有限公司, 股份有限公司, 集团, Co., Ltd., Inc.).
    #[schema(example = "深圳市某某科技有限公司", max_length = 128)]
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub account_fields: ExtraFields,
    #[schema(min_length = 1, max_length = 64)]
    pub contact_name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub contact_fields: ExtraFields,
    /// The login mobile; it becomes the contact's mobile.
    #[schema(example = "13800138000", max_length = 20)]
    pub mobile: String,
    /// The code sent to the mobile by `POST /auth/sms-code` (proves it is the caller's).
    #[schema(max_length = 8)]
    pub mobile_code: String,
    #[schema(max_length = 64)]
    pub invitation_code: Option<String>,
    /// Registration by device serial: the contact joins the owner account of the device
    /// with this serial number (`account_name` is then not needed).
    #[schema(max_length = 64)]
    pub device_serial: Option<String>,
    /// Where the device is, captured on the spot (with `device_serial`).
    pub device_location: Option<DeviceLocation>,
    /// Where the user is; default `h5`.
    pub channel: Option<Channel>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceLocation {
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    #[schema(max_length = 200)]
    pub address: Option<String>,
}

/// With the `business_registry` rule, the registered name matching `name` (fuzzy), if any.
async fn registered_name(
    state: &AppState,
    caller: &Caller,
    name: &str,
    channel: Option<Channel>,
) -> Result<Option<String>, ApiError> {
    let (tenant_id, user_id) = (caller.tenant_id.clone(), caller.subject.clone());
    let channel = channel.unwrap_or(Channel::H5);
    let rule = state
        .read(&crate::state::Nobody, move |tx| {
            let user = terminal_users::get(tx.conn, &tenant_id, &user_id)?;
            Ok(flows::form(tx.conn, &tenant_id, &user, channel)?.new_account_rule)
        })
        .await?;
    if rule != methods::NewAccountRule::BusinessRegistry || name.trim().is_empty() {
        return Ok(None);
    }
    let registry = state
        .registry
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no business registry is configured"))?;
    let found = registry.search(name.trim()).await.map_err(|e| {
        tracing::error!(error = %e, "business registry failed");
        ApiError::unavailable("the business registry is not answering; try again shortly")
    })?;
    let wanted = baoxiu_accounts::company_names::fuzzy_key(name);
    Ok(found
        .into_iter()
        .find(|c| baoxiu_accounts::company_names::fuzzy_key(&c.name) == wanted)
        .map(|c| c.name))
}

/// Complete registration.
///
/// Matches or creates the account and contact and links the caller to them. Answers 202
/// (waiting for the provider's approval, `registration.approval_reason` says why) when the
/// method needs approval, or when the registration lands on an existing account without
/// proof that the caller belongs there: the login mobile is not one of the account's
/// contacts' and no invitation code issued for that account was given. A device serial
/// that matches no device also waits (202), so the answer does not tell which serials
/// exist. Each attempt spends one of the SMS code's 5 tries, and a user may make
/// 10 attempts an hour (429 with `Retry-After` beyond).
#[utoipa::path(
    tag = "registration",
    operation_id = "complete_registration",
    request_body = RegisterRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422, and while the first request runs, 409.")),
    responses(
        (status = 200, description = "Registered", body = TerminalView),
        (status = 202, description = "Waiting for approval", body = TerminalView),
        (status = 404, description = "No self-registration method applies", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already registered, waiting, or no seat left", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registration attempts this hour (`rate-limited`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The method looks names up in the business registry, which is not answering or is turned off", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post(
    "/me/registration",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::idempotent)"
)]
pub async fn complete_registration(
    state: web::Data<AppState>,
    caller: RegistrantCaller,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegistrantCaller(caller) = caller;
    let request = body.0;
    let mobile =
        normalise_mobile("mobile", &request.mobile).map_err(|e| ApiError::validation(vec![e]))?;
    let tenant_id = caller.tenant_id.clone();
    let code_id = crate::sms_codes::check(
        &state,
        tenant_id.0.clone(),
        mobile.clone(),
        Purpose::TerminalLogin,
        request.mobile_code,
        || DomainError::invalid("mobile_code", "invalid", "the code is wrong or has expired"),
    )
    .await?;
    // The attempt counts, and spends a try of the code, in a write of its own before the
    // attempt runs: a registration that then fails cannot be retried without limit.
    {
        let (tenant_id, user_id, code_id) =
            (tenant_id.clone(), caller.subject.clone(), code_id.clone());
        let now = state.now();
        state
            .write(&caller.clone(), move |tx| {
                flows::record_attempt(tx.conn, &tx.actor.tenant_id, &user_id, now)?;
                sms::spend_try(tx.conn, tenant_id.as_str(), &code_id).map_err(|_| {
                    DomainError::invalid(
                        "mobile_code",
                        "invalid",
                        "the code is wrong or has expired",
                    )
                })
            })
            .await?;
    }
    let registered_name =
        registered_name(&state, &caller, &request.account_name, request.channel).await?;
    let now = state.now();
    let input = RegistrationInput {
        registered_name,
        device_serial: request.device_serial,
        device_location: request
            .device_location
            .map(|l| (l.latitude, l.longitude, l.address)),
        account_name: request.account_name,
        account_fields: request.account_fields,
        contact_name: request.contact_name,
        contact_fields: request.contact_fields,
        mobile,
        invitation_code: request.invitation_code,
    };
    let channel = request.channel.unwrap_or(Channel::H5);
    let user_id = caller.subject.clone();
    let (outcome, view) = state
        .change_locked(&caller.clone(), move |tx| {
            let outcome = flows::register(tx, channel, input)?;
            sms::consume(tx.conn, tenant_id.as_str(), &code_id, now).map_err(|_| {
                DomainError::invalid("mobile_code", "invalid", "the code is wrong or has expired")
            })?;
            let user = terminal_users::get(tx.conn, &tx.actor.tenant_id, &user_id)?;
            Ok((outcome, terminal_view(tx.conn, &tx.actor.tenant_id, &user)?))
        })
        .await?;
    let status = match outcome {
        RegistrationOutcome::Registered(_) => StatusCode::OK,
        RegistrationOutcome::AwaitingApproval { .. } => StatusCode::ACCEPTED,
    };
    Ok(HttpResponse::build(status).json(view))
}
