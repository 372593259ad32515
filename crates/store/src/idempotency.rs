//! The idempotency store: (tenant, principal, key) → the fingerprint of the request that
//! first used the key and, once answered, its answer. A retry with the same key and the
//! same request gets the stored answer again; the same key with another request is refused;
//! the same key while the first request is still running is refused as a conflict. Keys are
//! kept `RETENTION` (a periodic job deletes them after); a request that stopped without an
//! answer (its process died) holds its key at most `IN_FLIGHT_LEASE`.
//!
//! Two ways to use it. `claim` is a write of its own, committed before the request's work
//! starts, so that a second request with the key sees it at once on any API node (then
//! `complete` or `release`). `keep` is one insert inside the request's own transaction,
//! with its answer: a second request with the key waits for the first's commit (or meets
//! it on the primary key) and its work is rolled back; `held` then tells what to answer.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConn;
use crate::schema::idempotency_keys;

/// How long a key and its answer are kept.
pub const RETENTION: Duration = Duration::hours(24);
/// How long a claimed key without an answer keeps others out.
pub const IN_FLIGHT_LEASE: Duration = Duration::minutes(1);

/// Whose key it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub tenant_id: String,
    pub principal_id: String,
    pub key: String,
}

/// The answer stored for a key: status, the headers worth replaying (JSON object) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: i32,
    pub headers: String,
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's now: run it, then `complete` or `release`.
    Fresh,
    /// The same request was answered before: answer this again.
    Replay(StoredResponse),
    /// The first request with this key has not answered yet.
    InFlight,
    /// The key was used for another request.
    Mismatch,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
struct KeyRow {
    fingerprint: String,
    status: Option<i32>,
    response_headers: Option<String>,
    response_body: Option<Vec<u8>>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

macro_rules! owned_by {
    ($owner:expr) => {
        idempotency_keys::table
            .filter(idempotency_keys::tenant_id.eq(&$owner.tenant_id))
            .filter(idempotency_keys::principal_id.eq(&$owner.principal_id))
            .filter(idempotency_keys::idempotency_key.eq(&$owner.key))
    };
}

/// Claims `owner`'s key for a request of `fingerprint`, or says why not.
pub fn claim(
    conn: &mut DbConn,
    owner: &KeyOwner,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<Claim, diesel::result::Error> {
    // In a savepoint: on PostgreSQL a failed insert would end the transaction otherwise.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::tenant_id.eq(&owner.tenant_id),
                idempotency_keys::principal_id.eq(&owner.principal_id),
                idempotency_keys::idempotency_key.eq(&owner.key),
                idempotency_keys::fingerprint.eq(fingerprint),
                idempotency_keys::created_at.eq(now),
                idempotency_keys::expires_at.eq(now + RETENTION),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => return Ok(Claim::Fresh),
        Err(e) if crate::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    let Some(row) = owned_by!(owner)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?
    else {
        // Deleted (released or purged) between the insert and the read: the caller retries.
        return Ok(Claim::InFlight);
    };
    let claimed_at = row.created_at;
    Ok(match judge(row, fingerprint, now) {
        Held::Nothing => {
            // Take it over, unless another request just did (compare-and-set on the claim time).
            let taken = diesel::update(
                owned_by!(owner).filter(idempotency_keys::created_at.eq(claimed_at)),
            )
            .set((
                idempotency_keys::fingerprint.eq(fingerprint),
                idempotency_keys::status.eq(None::<i32>),
                idempotency_keys::response_headers.eq(None::<String>),
                idempotency_keys::response_body.eq(None::<Vec<u8>>),
                idempotency_keys::created_at.eq(now),
                idempotency_keys::expires_at.eq(now + RETENTION),
            ))
            .execute(conn)?;
            if taken == 1 {
                Claim::Fresh
            } else {
                Claim::InFlight
            }
        }
        Held::Replay(stored) => Claim::Replay(stored),
        Held::InFlight => Claim::InFlight,
        Held::Mismatch => Claim::Mismatch,
    })
}

/// What a key's row holds for a request of `fingerprint` at `now`: `Nothing` once it is
/// past its retention or abandoned in flight.
fn judge(row: KeyRow, fingerprint: &str, now: NaiveDateTime) -> Held {
    let expired = row.expires_at <= now;
    let abandoned = row.status.is_none() && row.created_at <= now - IN_FLIGHT_LEASE;
    if expired || abandoned {
        return Held::Nothing;
    }
    if row.fingerprint != fingerprint {
        return Held::Mismatch;
    }
    match (row.status, row.response_body) {
        (Some(status), Some(body)) => Held::Replay(StoredResponse {
            status,
            headers: row.response_headers.unwrap_or_else(|| "{}".into()),
            body,
        }),
        _ => Held::InFlight,
    }
}

/// Stores the answer of the request that holds `owner`'s key.
pub fn complete(
    conn: &mut DbConn,
    owner: &KeyOwner,
    response: &StoredResponse,
) -> Result<(), diesel::result::Error> {
    diesel::update(owned_by!(owner).filter(idempotency_keys::status.is_null()))
        .set((
            idempotency_keys::status.eq(response.status),
            idempotency_keys::response_headers.eq(&response.headers),
            idempotency_keys::response_body.eq(&response.body),
        ))
        .execute(conn)
        .map(drop)
}

/// Gives the key up without an answer (the request failed in a way worth retrying).
pub fn release(conn: &mut DbConn, owner: &KeyOwner) -> Result<(), diesel::result::Error> {
    diesel::delete(owned_by!(owner).filter(idempotency_keys::status.is_null()))
        .execute(conn)
        .map(drop)
}

/// What a key holds, read after a request's own unit did not keep its answer under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// No live key: the request's answer is its own.
    Nothing,
    /// The same request was answered before: answer this again.
    Replay(StoredResponse),
    /// A request claimed the key and has not answered yet (a route that claims first).
    InFlight,
    /// The key was used for another request.
    Mismatch,
}

/// Keeps `response` as the answer of `owner`'s key for a request of `fingerprint`, inside
/// the request's own transaction, in one statement: an insert that takes over a key past
/// its retention (or abandoned in flight). False when a live key holds it already (another
/// request with the key committed first; on PostgreSQL the insert waits for that commit):
/// the caller then rolls its work back and answers what `held` finds.
pub fn keep(
    conn: &mut DbConn,
    owner: &KeyOwner,
    fingerprint: &str,
    response: &StoredResponse,
    now: NaiveDateTime,
) -> Result<bool, diesel::result::Error> {
    let values = (
        idempotency_keys::tenant_id.eq(&owner.tenant_id),
        idempotency_keys::principal_id.eq(&owner.principal_id),
        idempotency_keys::idempotency_key.eq(&owner.key),
        idempotency_keys::fingerprint.eq(fingerprint),
        idempotency_keys::status.eq(Some(response.status)),
        idempotency_keys::response_headers.eq(Some(&response.headers)),
        idempotency_keys::response_body.eq(Some(&response.body)),
        idempotency_keys::created_at.eq(now),
        idempotency_keys::expires_at.eq(now + RETENTION),
    );
    let stale = idempotency_keys::expires_at
        .le(now)
        .or(idempotency_keys::status
            .is_null()
            .and(idempotency_keys::created_at.le(now - IN_FLIGHT_LEASE)));
    let target = (
        idempotency_keys::tenant_id,
        idempotency_keys::principal_id,
        idempotency_keys::idempotency_key,
    );
    // Per backend: the upsert's `WHERE` is written for each (the same SQL).
    macro_rules! upsert {
        () => {
            diesel::insert_into(idempotency_keys::table)
                .values(values)
                .on_conflict(target)
                .do_update()
                .set(values)
        };
    }
    let written = match conn {
        DbConn::Postgresql(pg) => {
            diesel::query_dsl::methods::FilterDsl::filter(upsert!(), stale).execute(pg)?
        }
        DbConn::Sqlite(lite) => {
            diesel::query_dsl::methods::FilterDsl::filter(upsert!(), stale).execute(lite)?
        }
    };
    Ok(written == 1)
}

/// What `owner`'s key holds for a request of `fingerprint` at `now` (one read).
pub fn held(
    conn: &mut DbConn,
    owner: &KeyOwner,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<Held, diesel::result::Error> {
    Ok(owned_by!(owner)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?
        .map_or(Held::Nothing, |row| judge(row, fingerprint, now)))
}

/// Deletes the keys past their retention, across every tenant (the periodic clean-up).
pub fn delete_expired(
    conn: &mut DbConn,
    now: NaiveDateTime,
) -> Result<usize, diesel::result::Error> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
        .execute(conn)
}
