//! Staff manage customer accounts and their contacts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use baoxiu_accounts::customers::{
    self, Account, AccountChanges, AccountFilter, Contact, ContactChanges, ExtraFields, NewAccount,
    NewContact,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{IfMatch, StaffCaller, versioned};
use crate::json::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse, double_option, utc};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    pub id: String,
    pub name: String,
    pub record_type: String,
    #[schema(value_type = Object)]
    pub fields: ExtraFields,
    pub owner_staff_id: Option<String>,
    /// `admin`, `registration` or `guest`.
    pub source: String,
    /// Whether its contacts were activated as terminal users.
    pub activated: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountResponse {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            name: a.name,
            record_type: a.record_type,
            fields: a.fields,
            owner_staff_id: a.owner_staff_id,
            source: a.source,
            activated: a.activated,
            version: a.version,
            created_at: utc(a.created_at),
            updated_at: utc(a.updated_at),
        }
    }
}

fn account_response(status: StatusCode, account: Account) -> HttpResponse {
    versioned(status, account.version, AccountResponse::from(account))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Names containing this text.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

/// List accounts.
///
/// The tenant's customer accounts, by name (`q` matches a part of it), one page at a time.
#[utoipa::path(tag = "accounts", operation_id = "list_accounts", params(AccountQuery, PageQuery),
    responses((status = 200, description = "One page of accounts", body = PageResponse<AccountResponse>)))]
#[get("/admin/accounts")]
pub async fn list_accounts(
    state: web::Data<AppState>,
    staff: StaffCaller,
    query: ApiQuery<AccountQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<AccountResponse>>, ApiError> {
    let request = page.request()?;
    let filter = AccountFilter {
        q: query.into_inner().q,
    };
    let page = state
        .read(&staff, move |tx| {
            customers::list_accounts(tx.conn, &tx.actor.tenant_id, &filter, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(
        page,
        AccountResponse::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// Default `default`.
    #[schema(min_length = 1, max_length = 32)]
    pub record_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: ExtraFields,
    #[schema(format = Uuid)]
    pub owner_staff_id: Option<String>,
}

/// Create an account.
///
/// A customer account (客户) of the tenant; its custom `fields` follow the account form of the registration methods. Answers the account with its version as `ETag`.
#[utoipa::path(tag = "accounts", operation_id = "create_account", request_body = CreateAccountRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422, and while the first request runs, 409.")),
    responses((status = 201, description = "Created", body = AccountResponse)))]
#[post(
    "/admin/accounts",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::idempotent)"
)]
pub async fn create_account(
    state: web::Data<AppState>,
    staff: StaffCaller,
    body: ApiJson<CreateAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let account = state
        .change(&staff, move |tx| {
            if let Some(owner) = &request.owner_staff_id {
                baoxiu_accounts::staff::get(tx.conn, &tx.actor.tenant_id, owner).map_err(|_| {
                    baoxiu_core::DomainError::invalid(
                        "owner_staff_id",
                        "not_found",
                        "no such staff user",
                    )
                })?;
            }
            customers::create_account(
                tx,
                NewAccount {
                    name: request.name,
                    record_type: request.record_type.unwrap_or_else(|| "default".into()),
                    fields: request.fields,
                    owner_staff_id: request.owner_staff_id,
                    source: "admin",
                },
            )
        })
        .await?;
    Ok(account_response(StatusCode::CREATED, account))
}

/// Get an account.
///
/// One account of the tenant, with its version as `ETag`; another tenant's id answers 404.
#[utoipa::path(tag = "accounts", operation_id = "get_account", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account", body = AccountResponse),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/accounts/{id}")]
pub async fn get_account(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = state
        .read(&staff, move |tx| {
            customers::get_account(tx.conn, &tx.actor.tenant_id, &id)
        })
        .await?;
    Ok(account_response(StatusCode::OK, account))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<ExtraFields>,
    /// `null` clears the owner.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, format = Uuid)]
    pub owner_staff_id: Option<Option<String>>,
}

/// Change an account.
///
/// Changes only the fields sent (`null` clears an optional one); `If-Match` with the version read makes the change conditional (412 when it is stale).
#[utoipa::path(tag = "accounts", operation_id = "update_account", request_body = UpdateAccountRequest,
    params(("id" = String, Path, description = "Account id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = AccountResponse),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/accounts/{id}")]
pub async fn update_account(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let changes = AccountChanges {
        name: request.name,
        fields: request.fields,
        owner_staff_id: request.owner_staff_id,
    };
    let account = state
        .change(&staff, move |tx| {
            customers::update_account(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(account_response(StatusCode::OK, account))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactResponse {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub mobile: Option<String>,
    pub record_type: String,
    #[schema(value_type = Object)]
    pub fields: ExtraFields,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactResponse {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id,
            account_id: c.account_id,
            name: c.name,
            mobile: c.mobile,
            record_type: c.record_type,
            fields: c.fields,
            version: c.version,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// List an account's contacts.
///
/// The contacts (联系人) of one account of the tenant; another tenant's account answers 404.
#[utoipa::path(tag = "accounts", operation_id = "list_contacts", params(("id" = String, Path, description = "Account id"), PageQuery),
    responses((status = 200, description = "One page of the account's contacts, oldest first", body = PageResponse<ContactResponse>),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/accounts/{id}/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PageResponse<ContactResponse>>, ApiError> {
    let request = page.request()?;
    let contacts = state
        .read(&staff, move |tx| {
            customers::get_account(tx.conn, &tx.actor.tenant_id, &id)?;
            customers::list_contacts(tx.conn, &tx.actor.tenant_id, &id, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(contacts, Into::into)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// The login mobile of the contact once its account is activated.
    #[schema(max_length = 20)]
    pub mobile: Option<String>,
    #[schema(min_length = 1, max_length = 32)]
    pub record_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: ExtraFields,
}

/// Add a contact to an account.
///
/// A contact person of the account; the mobile, when given, is unique within the tenant. Answers the contact with its version as `ETag`.
#[utoipa::path(tag = "accounts", operation_id = "create_contact", request_body = CreateContactRequest,
    params(("id" = String, Path, description = "Account id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422, and while the first request runs, 409.")),
    responses((status = 201, description = "Created", body = ContactResponse),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json")))]
#[post(
    "/admin/accounts/{id}/contacts",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::idempotent)"
)]
pub async fn create_contact(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    body: ApiJson<CreateContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let contact = state
        .change(&staff, move |tx| {
            customers::create_contact(
                tx,
                &id,
                NewContact {
                    name: request.name,
                    mobile: request.mobile,
                    record_type: request.record_type.unwrap_or_else(|| "default".into()),
                    fields: request.fields,
                },
            )
        })
        .await?;
    Ok(versioned(
        StatusCode::CREATED,
        contact.version,
        ContactResponse::from(contact),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    /// `null` clears the mobile.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable, max_length = 20)]
    pub mobile: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<ExtraFields>,
}

/// Change a contact.
///
/// Changes only the fields sent (`null` clears an optional one); `If-Match` makes the change conditional (412 when stale).
#[utoipa::path(tag = "accounts", operation_id = "update_contact", request_body = UpdateContactRequest,
    params(("id" = String, Path, description = "Contact id"), ("If-Match" = Option<String>, Header, description = "ETag read")),
    responses((status = 200, description = "Changed", body = ContactResponse),
        (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
        crate::routes::shared::answers::Stale))]
#[patch("/admin/contacts/{id}")]
pub async fn update_contact(
    state: web::Data<AppState>,
    staff: StaffCaller,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<UpdateContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let changes = ContactChanges {
        name: request.name,
        mobile: request.mobile,
        fields: request.fields,
    };
    let contact = state
        .change(&staff, move |tx| {
            customers::update_contact(tx, &id, changes, if_match.0)
        })
        .await?;
    Ok(versioned(
        StatusCode::OK,
        contact.version,
        ContactResponse::from(contact),
    ))
}
