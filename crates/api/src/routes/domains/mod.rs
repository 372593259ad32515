//! Portal domains: tenants ask, platform operators approve.

use actix_web::{HttpResponse, get, post, web};
use baoxiu_accounts::domains::{self, DomainRequest, NewDomain};
use baoxiu_core::DomainError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{AdminCaller, PlatformCaller};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainResponse {
    pub id: String,
    pub host: String,
    /// `subdomain` or `custom`.
    #[schema(value_type = DomainKind)]
    pub kind: String,
    /// `pending`, `approved` or `rejected`. Approved hosts resolve to the tenant.
    #[schema(value_type = crate::routes::shared::Decision)]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// For a custom host: serve this token as the whole body of
    /// `https://{host}/.well-known/baoxiu-domain-verification.txt`; the platform approves
    /// the host only once it does.
    pub verification_token: Option<String>,
    /// Why the platform rejected the request.
    pub reason: Option<String>,
}

impl From<DomainRequest> for DomainResponse {
    fn from(d: DomainRequest) -> Self {
        Self {
            id: d.id,
            host: d.host,
            kind: d.kind,
            status: d.status,
            created_at: utc(d.created_at),
            decided_at: d.decided_at.map(utc),
            verification_token: d.verification_token,
            reason: d.reason,
        }
    }
}

/// The kinds of domain request (the document's enum; answered as text).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DomainKind {
    Subdomain,
    Custom,
}

/// A sub-domain of the portal domain, or a domain of the tenant's own.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CreateDomainRequest {
    /// `label.<portal domain>`: an extra address; `<slug>.<portal domain>` needs no request.
    Subdomain {
        /// 3-32 of a-z, 0-9 and inner hyphens (the slug rule).
        #[schema(min_length = 3, max_length = 32)]
        label: String,
    },
    /// A host the tenant controls (point its DNS at the portal).
    Custom {
        /// At most 253 characters, labels of 1-63.
        #[schema(max_length = 253)]
        host: String,
    },
}

/// List domain requests.
///
/// The tenant's requests for portal domains, pending and decided, one page at a time.
#[utoipa::path(
    tag = "domains",
    operation_id = "list_domains",
    params(PageQuery),
    responses((status = 200, description = "One page of requests", body = PageResponse<DomainResponse>)),
)]
#[get("/admin/domains")]
pub async fn list_domains(
    state: web::Data<AppState>,
    admin: AdminCaller,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<DomainResponse>>, ApiError> {
    let request = page.request()?;
    let page = state
        .read(&admin, move |tx| {
            domains::list(tx.conn, &tx.actor.tenant_id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        DomainResponse::from,
    )))
}

/// Ask for a portal domain.
///
/// Waits for a platform operator's approval. Every tenant already has
/// `<slug>.<portal domain>` (its slug names it there without a request), so another
/// tenant's slug is refused as a label (422 `label` `taken`), and a label asked for here
/// is no longer free as a new provider's slug.
#[utoipa::path(
    tag = "domains",
    operation_id = "create_domain",
    request_body = CreateDomainRequest,
    responses((status = 201, description = "Requested", body = DomainResponse)),
)]
#[post("/admin/domains")]
pub async fn create_domain(
    state: web::Data<AppState>,
    admin: AdminCaller,
    body: ApiJson<CreateDomainRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = match body.0 {
        CreateDomainRequest::Subdomain { label } => NewDomain::Subdomain { label },
        CreateDomainRequest::Custom { host } => NewDomain::Custom { host },
    };
    let portal_domain = state.config.portal_domain.clone();
    let created = state
        .change(&admin, move |tx| {
            domains::request(tx, input, &portal_domain)
        })
        .await?;
    Ok(HttpResponse::Created().json(DomainResponse::from(created)))
}

/// Approve a domain request.
///
/// A custom host is approved only once it serves the request's verification token at
/// `https://{host}/.well-known/baoxiu-domain-verification.txt` (checked now; 409
/// `conflict` until it does). Sub-domains of the portal domain need no check.
#[utoipa::path(
    tag = "platform",
    operation_id = "approve_domain",
    params(("id" = String, Path, description = "Domain request id")),
    responses(
        (status = 200, description = "Approved: the host now resolves to the tenant", body = DomainResponse),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or the custom host does not serve its verification token", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/platform/domains/{id}/approve")]
pub async fn approve_domain(
    state: web::Data<AppState>,
    operator: PlatformCaller,
    id: web::Path<String>,
) -> Result<web::Json<DomainResponse>, ApiError> {
    let id = id.into_inner();
    let request = {
        let id = id.clone();
        state
            .read(&operator, move |tx| domains::find_any(tx.conn, &id))
            .await?
    };
    if let (Some(token), "pending") = (&request.verification_token, request.status.as_str()) {
        let served = state
            .hosts
            .serves_token(&request.host, token)
            .await
            .unwrap_or_else(|cause| {
                tracing::info!(host = %request.host, %cause, "custom host check failed");
                false
            });
        if !served {
            return Err(DomainError::conflict("host-unverified", format!(
                "{} does not serve the verification token at /.well-known/baoxiu-domain-verification.txt yet",
                request.host
            ))
            .into());
        }
    }
    let now = state.now();
    let approved = state
        .write(&operator, move |tx| {
            domains::approve(tx.conn, &tx.actor.id, &id, tx.actor.request_id.clone(), now)
        })
        .await?;
    Ok(web::Json(approved.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectDomainRequest {
    /// Shown to the tenant.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Reject a domain request.
///
/// A pending request (someone else's host, a name that may not be used) is refused with a
/// reason; the host is free to be requested again.
#[utoipa::path(
    tag = "platform",
    operation_id = "reject_domain",
    request_body = RejectDomainRequest,
    params(("id" = String, Path, description = "Domain request id")),
    responses(
        (status = 200, description = "Rejected", body = DomainResponse),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/platform/domains/{id}/reject")]
pub async fn reject_domain(
    state: web::Data<AppState>,
    operator: PlatformCaller,
    id: web::Path<String>,
    body: ApiJson<RejectDomainRequest>,
) -> Result<web::Json<DomainResponse>, ApiError> {
    let reason = body.0.reason;
    let now = state.now();
    let rejected = state
        .write(&operator, move |tx| {
            domains::reject(
                tx.conn,
                &tx.actor.id,
                &id,
                &reason,
                tx.actor.request_id.clone(),
                now,
            )
        })
        .await?;
    Ok(web::Json(rejected.into()))
}
