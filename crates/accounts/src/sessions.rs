//! Refresh tokens: opaque 256-bit random values, stored hashed, rotated on every use. A
//! token presented twice revokes its whole family (it was stolen, or replayed); logout
//! revokes the family too. The family id is the session id carried by access tokens.

use baoxiu_core::{DomainResult, TenantId, new_id};
use baoxiu_store::DbConn;
use baoxiu_store::schema::refresh_tokens;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A refresh token lives this long unused (each rotation starts it again)...
pub const REFRESH_TTL: Duration = Duration::days(30);
/// ...but no session outlives this age from its login, however often it is rotated.
pub const SESSION_MAX_AGE: Duration = Duration::days(90);

baoxiu_core::text_enum! {
/// What kind of principal a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    Staff = "staff",
    Terminal = "terminal",
    Guest = "guest",
}
}

/// A refresh token handed to a client, with the session it belongs to.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub session_id: String,
    pub expires_at: NaiveDateTime,
}

/// The WeChat identity a terminal session was started with (app id and OpenID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionWechat {
    pub app_id: String,
    pub openid: String,
}

/// The principal a rotated token belonged to.
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub tenant_id: TenantId,
    pub kind: PrincipalKind,
    pub subject_id: String,
    pub session_id: String,
    pub wechat: Option<SessionWechat>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The token names its tenant in clear (`<tenant>.<secret>`) so the lookup can filter on
/// the tenant like every other query; the secret part carries the 256 random bits.
fn split(token: &str) -> Option<(&str, &str)> {
    token
        .split_once('.')
        .filter(|(tenant, secret)| !tenant.is_empty() && secret.len() >= 40)
}

#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    family_id: &str,
    kind: PrincipalKind,
    subject_id: &str,
    wechat: Option<&SessionWechat>,
    started_at: NaiveDateTime,
    now: NaiveDateTime,
) -> DomainResult<IssuedRefresh> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{}.{}", tenant_id, URL_SAFE_NO_PAD.encode(secret));
    let expires_at = (now + REFRESH_TTL).min(started_at + SESSION_MAX_AGE);
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::tenant_id.eq(tenant_id.as_str()),
            refresh_tokens::id.eq(new_id()),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(hash(&token)),
            refresh_tokens::principal_kind.eq(kind.as_str()),
            refresh_tokens::subject_id.eq(subject_id),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(expires_at),
            refresh_tokens::wechat_app_id.eq(wechat.map(|w| &w.app_id)),
            refresh_tokens::wechat_openid.eq(wechat.map(|w| &w.openid)),
            refresh_tokens::session_started_at.eq(started_at),
        ))
        .execute(conn)?;
    Ok(IssuedRefresh {
        token,
        session_id: family_id.to_owned(),
        expires_at,
    })
}

/// Starts a session: a new family with its first refresh token; `wechat` is the identity
/// a terminal user logged in with, if WeChat.
pub fn start(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    kind: PrincipalKind,
    subject_id: &str,
    wechat: Option<&SessionWechat>,
    now: NaiveDateTime,
) -> DomainResult<IssuedRefresh> {
    insert(
        conn,
        tenant_id,
        &new_id(),
        kind,
        subject_id,
        wechat,
        now,
        now,
    )
}

/// Starts a staff session (staff log in by password or SMS code, never through WeChat).
pub fn start_staff(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    staff_id: &str,
    now: NaiveDateTime,
) -> DomainResult<IssuedRefresh> {
    start(conn, tenant_id, PrincipalKind::Staff, staff_id, None, now)
}

/// What presenting a refresh token led to. Reuse revokes the family, and that must be
/// committed although the request fails: so it is a value, not an error.
#[derive(Debug)]
pub enum Rotation {
    Rotated {
        principal: SessionPrincipal,
        refresh: IssuedRefresh,
    },
    /// Unknown, expired or revoked: nothing changed.
    Invalid,
    /// Used before: the family is now revoked.
    Reused,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct TokenRow {
    id: String,
    family_id: String,
    principal_kind: String,
    subject_id: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    wechat_app_id: Option<String>,
    wechat_openid: Option<String>,
    created_at: NaiveDateTime,
    session_started_at: Option<NaiveDateTime>,
}

/// Exchanges a refresh token for the next one of its family.
pub fn rotate(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> DomainResult<Rotation> {
    let Some((tenant, _)) = split(token) else {
        return Ok(Rotation::Invalid);
    };
    let row: Option<TokenRow> = refresh_tokens::table
        .filter(refresh_tokens::tenant_id.eq(tenant))
        .filter(refresh_tokens::token_hash.eq(hash(token)))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?;
    let Some(TokenRow {
        id,
        family_id,
        principal_kind: kind,
        subject_id,
        expires_at,
        used_at,
        revoked_at,
        wechat_app_id,
        wechat_openid,
        created_at,
        session_started_at,
    }) = row
    else {
        return Ok(Rotation::Invalid);
    };
    let tenant_id = TenantId(tenant.to_owned());
    if revoked_at.is_some() || expires_at <= now {
        return Ok(Rotation::Invalid);
    }
    if used_at.is_some() {
        revoke_family(conn, &tenant_id, &family_id, now)?;
        return Ok(Rotation::Reused);
    }
    // Guarded on used_at so two concurrent rotations cannot both win.
    let marked = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant))
            .filter(refresh_tokens::id.eq(&id))
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    if marked != 1 {
        revoke_family(conn, &tenant_id, &family_id, now)?;
        return Ok(Rotation::Reused);
    }
    let kind = PrincipalKind::from_stored(&kind)?;
    let wechat = wechat_app_id
        .zip(wechat_openid)
        .map(|(app_id, openid)| SessionWechat { app_id, openid });
    // Tokens from before sessions recorded their start count from their own creation.
    let started_at = session_started_at.unwrap_or(created_at);
    let refresh = insert(
        conn,
        &tenant_id,
        &family_id,
        kind,
        &subject_id,
        wechat.as_ref(),
        started_at,
        now,
    )?;
    Ok(Rotation::Rotated {
        principal: SessionPrincipal {
            tenant_id,
            kind,
            subject_id,
            session_id: family_id,
            wechat,
        },
        refresh,
    })
}

/// Revokes every token of a session.
pub fn revoke_family(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    family_id: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant_id.as_str()))
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Logout with a refresh token: revokes its family. Unknown tokens are ignored, so logout
/// answers the same whatever was sent.
pub fn revoke_by_token(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> DomainResult<()> {
    let Some((tenant, _)) = split(token) else {
        return Ok(());
    };
    let family: Option<String> = refresh_tokens::table
        .filter(refresh_tokens::tenant_id.eq(tenant))
        .filter(refresh_tokens::token_hash.eq(hash(token)))
        .select(refresh_tokens::family_id)
        .first(conn)
        .optional()?;
    if let Some(family_id) = family {
        revoke_family(conn, &TenantId(tenant.to_owned()), &family_id, now)?;
    }
    Ok(())
}

/// Whether a session is still live (not revoked): checked on every authenticated request,
/// so logout and theft detection take effect at once, not when access tokens expire.
pub fn is_live(conn: &mut DbConn, tenant_id: &TenantId, session_id: &str) -> DomainResult<bool> {
    let revoked: i64 = refresh_tokens::table
        .filter(refresh_tokens::tenant_id.eq(tenant_id.as_str()))
        .filter(refresh_tokens::family_id.eq(session_id))
        .filter(refresh_tokens::revoked_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(revoked == 0)
}

/// Revokes every session of one principal (a staff user disabled or deleted).
pub fn revoke_subject(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    subject_id: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant_id.as_str()))
            .filter(refresh_tokens::subject_id.eq(subject_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Revokes every session of one kind of principal in a tenant (the guest's, when guest
/// access is switched off).
pub fn revoke_kind(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    kind: PrincipalKind,
    now: NaiveDateTime,
) -> DomainResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::tenant_id.eq(tenant_id.as_str()))
            .filter(refresh_tokens::principal_kind.eq(kind.as_str()))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}
