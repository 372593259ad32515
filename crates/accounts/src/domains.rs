//! Portal addresses: a tenant asks for a sub-domain of the portal domain or its own
//! domain; a platform operator approves it; approved hosts resolve to the tenant.

use baoxiu_core::{
    Actor, DomainError, DomainResult, Page, PageRequest, TenantId, Transition, new_id,
};
use baoxiu_store::schema::{tenant_domains, tenant_hosts};
use baoxiu_store::{Change, Tx};
use baoxiu_store::{DbConn, is_unique_violation};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::fields;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = tenant_domains)]
pub struct DomainRequest {
    pub tenant_id: String,
    pub id: String,
    pub host: String,
    /// `subdomain` or `custom`.
    pub kind: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    /// For a custom host: what the host must serve to prove it is the tenant's.
    pub verification_token: Option<String>,
    /// Why the platform rejected it.
    pub reason: Option<String>,
}

/// What a tenant asks for.
#[derive(Debug, Clone)]
pub enum NewDomain {
    /// `label.<portal domain>`.
    Subdomain {
        label: String,
    },
    Custom {
        host: String,
    },
}

pub fn request(
    tx: &mut Tx<'_>,
    input: NewDomain,
    portal_domain: &str,
) -> DomainResult<DomainRequest> {
    let (host, kind) = match input {
        NewDomain::Subdomain { label } => {
            let label = label.trim().to_ascii_lowercase();
            fields::check_slug("label", &label).map_err(|e| DomainError::Validation(vec![e]))?;
            // `slug.<portal domain>` is every tenant's own address: nobody else may take it.
            let owner = crate::tenants::find_by_slug(tx.conn, &label)?;
            if owner.is_some_and(|t| t.id != tx.actor.tenant_id.as_str()) {
                return Err(DomainError::invalid(
                    "label",
                    "taken",
                    "this is another provider's portal address",
                ));
            }
            (format!("{label}.{portal_domain}"), "subdomain")
        }
        NewDomain::Custom { host } => {
            let host = fields::normalise_host("host", &host)
                .map_err(|e| DomainError::Validation(vec![e]))?;
            if host == portal_domain || host.ends_with(&format!(".{portal_domain}")) {
                return Err(DomainError::invalid(
                    "host",
                    "invalid",
                    "sub-domains of the portal domain are requested as kind subdomain",
                ));
            }
            (host, "custom")
        }
    };
    let id = new_id();
    let inserted = diesel::insert_into(tenant_domains::table)
        .values((
            tenant_domains::tenant_id.eq(tx.actor.tenant_id.as_str()),
            tenant_domains::id.eq(&id),
            tenant_domains::host.eq(&host),
            tenant_domains::kind.eq(kind),
            tenant_domains::status.eq("pending"),
            tenant_domains::created_at.eq(tx.now),
            tenant_domains::verification_token.eq((kind == "custom").then(|| {
                let mut token = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut token);
                hex::encode(token)
            })),
        ))
        .execute(tx.conn)
        .and_then(|_| {
            // The global lookup holds the host while the request is pending or approved.
            diesel::insert_into(tenant_hosts::table)
                .values((
                    tenant_hosts::host.eq(&host),
                    tenant_hosts::tenant_id.eq(tx.actor.tenant_id.as_str()),
                    tenant_hosts::domain_id.eq(&id),
                ))
                .execute(tx.conn)
        });
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(DomainError::invalid(
                "host",
                "taken",
                "this host is already requested or in use",
            ));
        }
        other => other?,
    };
    let created = get(tx.conn, &tx.actor.tenant_id, &id)?;
    tx.audit(Change::<(), _> {
        action: "domain.request",
        object_type: "domain",
        object_id: &id,
        before: None,
        after: Some(&created),
    })?;
    Ok(created)
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId, id: &str) -> DomainResult<DomainRequest> {
    tenant_domains::table
        .filter(tenant_domains::tenant_id.eq(tenant_id.as_str()))
        .filter(tenant_domains::id.eq(id))
        .select(DomainRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("domain"))
}

/// How the list pages: oldest first.
pub const DOMAINS: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("tenant_domains");

pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    page: &PageRequest,
) -> DomainResult<Page<DomainRequest>> {
    let query = tenant_domains::table
        .filter(tenant_domains::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let rows = baoxiu_store::paginate(
        query,
        tenant_domains::created_at,
        tenant_domains::id,
        &DOMAINS,
        page,
    )?
    .select(DomainRequest::as_select())
    .load(conn)?;
    Ok(page.finish(&DOMAINS, rows, |d| (d.created_at, d.id.clone())))
}

const APPROVE: Transition = Transition::new("domain request", &["pending"], "approved");
const REJECT: Transition = Transition::new("domain request", &["pending"], "rejected");

/// A request by id alone, for platform operators (who work across tenants).
pub fn find_any(conn: &mut DbConn, id: &str) -> DomainResult<DomainRequest> {
    tenant_domains::table
        .filter(tenant_domains::id.eq(id))
        .select(DomainRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("domain"))
}

/// A platform operator decides a pending request: one decision, whatever the concurrency
/// (the write is guarded on `pending`). The audit entry goes to the owning tenant.
fn decide(
    conn: &mut DbConn,
    operator_id: &str,
    id: &str,
    transition: Transition,
    reason: Option<&str>,
    request_id: Option<String>,
    now: NaiveDateTime,
) -> DomainResult<DomainRequest> {
    let before = find_any(conn, id)?;
    transition.require(&before.status)?;
    let tenant_id = TenantId(before.tenant_id.clone());
    let rows = diesel::update(
        tenant_domains::table
            .filter(tenant_domains::tenant_id.eq(tenant_id.as_str()))
            .filter(tenant_domains::id.eq(id))
            .filter(tenant_domains::status.eq_any(transition.from)),
    )
    .set((
        tenant_domains::status.eq(transition.to),
        tenant_domains::reason.eq(reason),
        tenant_domains::decided_at.eq(now),
    ))
    .execute(conn)?;
    transition.applied(rows)?;
    if transition.to == "rejected" {
        // A rejected request frees its host for whoever asks next.
        diesel::delete(
            tenant_hosts::table
                .filter(tenant_hosts::tenant_id.eq(tenant_id.as_str()))
                .filter(tenant_hosts::domain_id.eq(id)),
        )
        .execute(conn)?;
    }
    let after = get(conn, &tenant_id, id)?;
    let actor = Actor {
        tenant_id,
        kind: baoxiu_core::ActorKind::Platform,
        id: operator_id.to_owned(),
        request_id,
    };
    Tx::new(conn, actor, now).audit(Change {
        action: if transition.to == "approved" {
            "domain.approve"
        } else {
            "domain.reject"
        },
        object_type: "domain",
        object_id: id,
        before: Some(&before),
        after: Some(&after),
    })?;
    Ok(after)
}

/// Approves a request (for a custom host, once the caller has checked that the host serves
/// the request's verification token).
pub fn approve(
    conn: &mut DbConn,
    operator_id: &str,
    id: &str,
    request_id: Option<String>,
    now: NaiveDateTime,
) -> DomainResult<DomainRequest> {
    decide(conn, operator_id, id, APPROVE, None, request_id, now)
}

/// Rejects a request with a reason the tenant reads; the host is free again.
pub fn reject(
    conn: &mut DbConn,
    operator_id: &str,
    id: &str,
    reason: &str,
    request_id: Option<String>,
    now: NaiveDateTime,
) -> DomainResult<DomainRequest> {
    let reason =
        fields::text("reason", reason, 500).map_err(|e| DomainError::Validation(vec![e]))?;
    decide(
        conn,
        operator_id,
        id,
        REJECT,
        Some(&reason),
        request_id,
        now,
    )
}

/// The tenant an approved host belongs to.
pub fn tenant_for_host(conn: &mut DbConn, host: &str) -> DomainResult<Option<TenantId>> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    Ok(tenant_hosts::table
        .inner_join(
            tenant_domains::table.on(tenant_domains::tenant_id
                .eq(tenant_hosts::tenant_id)
                .and(tenant_domains::id.eq(tenant_hosts::domain_id))),
        )
        .filter(tenant_hosts::host.eq(host))
        .filter(tenant_domains::status.eq("approved"))
        .select(tenant_hosts::tenant_id)
        .first::<String>(conn)
        .optional()?
        .map(TenantId))
}

/// Whether some tenant asked for `label.<portal domain>`: a new tenant may not take that
/// label as its slug, which would name the same host.
pub fn subdomain_label_requested(conn: &mut DbConn, label: &str) -> DomainResult<bool> {
    let requested: i64 = tenant_domains::table
        .filter(tenant_domains::kind.eq("subdomain"))
        // Labels are a-z, 0-9 and '-': nothing LIKE would read as a wildcard.
        .filter(tenant_domains::host.like(format!("{label}.%")))
        .count()
        .get_result(conn)?;
    Ok(requested > 0)
}

/// The tenant's first approved host, for URLs printed in QR codes.
pub fn primary_host(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Option<String>> {
    Ok(tenant_domains::table
        .filter(tenant_domains::tenant_id.eq(tenant_id.as_str()))
        .filter(tenant_domains::status.eq("approved"))
        .order((tenant_domains::created_at.asc(), tenant_domains::id.asc()))
        .select(tenant_domains::host)
        .first(conn)
        .optional()?)
}
