//! Provider sign-up and the public provider profile.

use actix_web::{HttpResponse, get, post, web};
use baoxiu_accounts::fields::normalise_mobile;
use baoxiu_accounts::sessions;
use baoxiu_accounts::sms::{self, PLATFORM_SCOPE, Purpose};
use baoxiu_accounts::tenants::{self, SignUp};
use baoxiu_core::DomainError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ClientInfo, TenantScope};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::routes::auth::{LoginSubject, login_answer};
use crate::routes::shared::{CodeSent, SendCodeRequest, TokenPair};
use crate::routes::staff::StaffResponse;
use crate::state::AppState;

/// Send a sign-up code.
///
/// Sends a 6-digit code to the mobile for `POST /providers`. Valid 5 minutes; one send a
/// minute and ten a day per mobile (and the platform-wide caps of the 429).
#[utoipa::path(
    tag = "providers",
    operation_id = "send_provider_sms_code",
    request_body = SendCodeRequest,
    responses(
        (status = 202, description = "The code is issued and goes out by SMS (from a background job)", body = CodeSent),
        (status = 429, description = "Sent too often (to this mobile: one a minute and 10 a day per tenant, 20 a day over all tenants; from this client address: 30 an hour over all tenants), or too many requests to the login and SMS routes (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/providers/sms-code")]
pub async fn send_provider_sms_code(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: ApiJson<SendCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let mobile =
        normalise_mobile("mobile", &body.0.mobile).map_err(|e| ApiError::validation(vec![e]))?;
    let sent = crate::sms_codes::send(
        &state,
        PLATFORM_SCOPE.into(),
        mobile,
        Purpose::ProviderSignup,
        client.ip,
        true,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(sent))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    #[schema(example = "13800138000", max_length = 20)]
    pub mobile: String,
    /// The code sent by `POST /providers/sms-code`.
    #[schema(example = "123456", max_length = 8)]
    pub code: String,
    /// The provider's name; it cannot be changed afterwards.
    #[schema(example = "深圳某某科技有限公司", min_length = 1, max_length = 64)]
    pub provider_name: String,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// 3-32 of a-z, 0-9 and inner hyphens: the tenant's handle (`X-Tenant`) and sub-domain.
    #[schema(
        example = "acme-repair",
        min_length = 3,
        max_length = 32,
        pattern = "^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$"
    )]
    pub slug: String,
    /// Name of the first admin (default "Admin").
    #[schema(max_length = 64)]
    pub admin_name: Option<String>,
}

/// A tenant as its admins see it after sign-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub trial_ends_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignUpResponse {
    pub tenant: TenantSummary,
    pub admin: StaffResponse,
    /// The admin's tokens, at the top level as every login answers them.
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Sign up as a provider.
///
/// Creates the tenant (15-day trial), its default settings and its first admin, and logs
/// the admin in.
#[utoipa::path(
    tag = "providers",
    operation_id = "create_provider",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "Signed up and logged in", body = SignUpResponse),
        (status = 429, description = "Too many requests to the login and SMS routes from this client address, or from all clients together (`rate-limited`); see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/providers")]
pub async fn create_provider(
    state: web::Data<AppState>,
    body: ApiJson<SignUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let input = SignUp {
        mobile: request.mobile,
        provider_name: request.provider_name,
        password: request.password,
        slug: request.slug,
        admin_name: request.admin_name,
    };
    // Every field first, so a bad form does not spend a code try.
    let valid = {
        let input = input.clone();
        state
            .read(&crate::state::Nobody, move |tx| {
                tenants::validate_sign_up(tx.conn, &input)
            })
            .await?
    };
    let code_id = crate::sms_codes::check(
        &state,
        PLATFORM_SCOPE.into(),
        valid.mobile().to_owned(),
        Purpose::ProviderSignup,
        request.code,
        || DomainError::invalid("code", "invalid", "the code is wrong or has expired"),
    )
    .await?;
    let now = state.now();
    let (tenant, admin, refresh) = state
        .write(&crate::state::Nobody, move |tx| {
            sms::consume(tx.conn, PLATFORM_SCOPE, &code_id, now).map_err(|_| {
                DomainError::invalid("code", "invalid", "the code is wrong or has expired")
            })?;
            let (tenant, admin) = tenants::sign_up(tx.conn, valid, now)?;
            baoxiu_workorders::settings::create_defaults(tx.conn, &tenant.tenant_id(), now)?;
            let refresh = sessions::start_staff(tx.conn, &tenant.tenant_id(), &admin.id, now)?;
            Ok((tenant, admin, refresh))
        })
        .await?;
    let tokens = login_answer(&state, LoginSubject::staff(&admin), refresh)?;
    Ok(HttpResponse::Created().json(SignUpResponse {
        tenant: TenantSummary {
            id: tenant.id,
            slug: tenant.slug,
            name: tenant.name,
            trial_ends_at: crate::routes::shared::utc(tenant.trial_ends_at),
        },
        admin: admin.into(),
        tokens,
    }))
}

/// What the portal header shows of a provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProfile {
    pub slug: String,
    pub name: String,
    pub display_name: String,
    pub introduction: String,
    pub contact_person: String,
    pub phone: String,
    pub address: String,
    pub about: String,
    pub logo_url: Option<String>,
}

/// Get the public provider profile.
///
/// The tenant comes from the token, else `X-Tenant` (slug), else the portal host.
#[utoipa::path(
    tag = "providers",
    operation_id = "get_provider",
    params(("X-Tenant" = Option<String>, Header, description = "The tenant's slug, for callers without a token", example = "demo")),
    responses(
        (status = 200, description = "The public profile", body = PublicProfile),
        (status = 400, description = "No tenant named", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[get("/provider")]
pub async fn get_provider(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<web::Json<PublicProfile>, ApiError> {
    let tenant = state
        .read(&scope, move |tx| tenants::get(tx.conn, &tx.actor.tenant_id))
        .await?;
    Ok(web::Json(PublicProfile {
        slug: tenant.slug,
        name: tenant.name,
        display_name: tenant.display_name,
        introduction: tenant.introduction,
        contact_person: tenant.contact_person,
        phone: tenant.phone,
        address: tenant.address,
        about: tenant.about,
        logo_url: tenant.logo_url,
    }))
}
