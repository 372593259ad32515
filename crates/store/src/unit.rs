//! The unit of work: what one request (or job) does to the database, as one value. A `Tx`
//! is the connection inside the request's transaction together with who acts and when;
//! domain functions that change something take it, write through it, and record their
//! audit entries with `tx.audit(...)` and its outbox events with `tx.emit(...)` in the same
//! transaction, so a change, its entry and its events commit together or not at all.
//!
//! How a unit runs (`Db::run`):
//! - `Work::Read` runs without BEGIN/COMMIT: each statement sees committed data, and a
//!   read costs only its queries.
//! - `Work::Write` runs in one transaction, `BEGIN IMMEDIATE` on SQLite (a second process
//!   writing the file waits for the lock instead of failing with SQLITE_BUSY when a
//!   deferred transaction upgrades).
//! - `Work::Locked` also locks the actor's tenant row first, before anything else, so
//!   transactions that check a tenant-wide rule (seats in use, the last admin, one
//!   company per name) queue in one order. The lock is `FOR NO KEY UPDATE`: inserts of rows
//!   that reference the tenant take `FOR KEY SHARE` on it, which `FOR UPDATE` would wait
//!   for — two such transactions deadlock — and `FOR NO KEY UPDATE` does not.

use baoxiu_core::{Actor, DomainResult, TenantId, new_id};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::DbConn;
use crate::schema::{audit_log, outbox_events, tenants};

/// How a unit of work touches the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Only reads: no transaction.
    Read,
    /// Writes one statement (atomic by itself) and reads nothing that must share its
    /// snapshot: no transaction (a known user's login, which only records the session).
    Single,
    /// Writes, in one transaction.
    Write,
    /// Writes, in one transaction that first locks the actor's tenant row.
    Locked,
}

/// One request's (or job's) work in progress: the connection, who acts, and now.
///
/// The fields are public so that a domain function can lend the connection to a query
/// while it reads the actor (`get(tx.conn, &tx.actor.tenant_id, id)`).
pub struct Tx<'c> {
    pub conn: &'c mut DbConn,
    pub actor: Actor,
    /// The time of the whole unit: every row it writes carries the same instant.
    pub now: NaiveDateTime,
    tenant_locked: bool,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("actor", &self.actor)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// What changed, for the audit log: `action` is `<object>.<verb>` (`staff.create`).
#[derive(Debug)]
pub struct Change<'a, B: Serialize, A: Serialize> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub before: Option<&'a B>,
    pub after: Option<&'a A>,
}

impl<'a, T: Serialize> Change<'a, T, T> {
    /// An object that did not exist before.
    pub fn created(
        action: &'a str,
        object_type: &'a str,
        object_id: &'a str,
        after: &'a T,
    ) -> Self {
        Self {
            action,
            object_type,
            object_id,
            before: None,
            after: Some(after),
        }
    }

    /// An object as it was and as it is.
    pub fn updated(
        action: &'a str,
        object_type: &'a str,
        object_id: &'a str,
        before: &'a T,
        after: &'a T,
    ) -> Self {
        Self {
            action,
            object_type,
            object_id,
            before: Some(before),
            after: Some(after),
        }
    }

    /// An object that is gone.
    pub fn deleted(
        action: &'a str,
        object_type: &'a str,
        object_id: &'a str,
        before: &'a T,
    ) -> Self {
        Self {
            action,
            object_type,
            object_id,
            before: Some(before),
            after: None,
        }
    }
}

/// What `Tx::update_versioned` changes: one versioned object, audited as `action`.
#[derive(Debug, Clone, Copy)]
pub struct Versioned<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    /// The version `If-Match` named, if any.
    pub expected: Option<i32>,
}

// `None` binds NULL rather than leaving the column out, so that the statement is the same
// text every time and the connection keeps it prepared (an insert with defaultable columns
// is prepared anew on each call).
#[derive(Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewAuditEntry<'a> {
    tenant_id: &'a str,
    id: String,
    actor_kind: &'a str,
    actor_id: &'a str,
    action: &'a str,
    object_type: &'a str,
    object_id: &'a str,
    before_json: Option<String>,
    after_json: Option<String>,
    request_id: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// Something that happened, for whoever listens (customer notifications, webhooks): `kind`
/// is `<object>.<what>` (`work_order.status_changed`); the payload is its own versioned
/// JSON. Delivery reads the outbox later; emitting only records.
#[derive(Debug)]
pub struct Event<'a, P: Serialize> {
    pub kind: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub payload: &'a P,
}

#[derive(Insertable)]
#[diesel(table_name = outbox_events, treat_none_as_default_value = false)]
struct NewOutboxEvent<'a> {
    tenant_id: &'a str,
    id: String,
    kind: &'a str,
    subject_type: &'a str,
    subject_id: &'a str,
    payload: String,
    actor_kind: &'a str,
    actor_id: &'a str,
    request_id: Option<&'a str>,
    created_at: NaiveDateTime,
    delivered_at: Option<NaiveDateTime>,
    attempts: i32,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl<'c> Tx<'c> {
    /// A unit over a connection the caller already holds inside a transaction (seeding,
    /// tests, jobs that open their own). Requests get theirs from `Db::run`.
    pub fn new(conn: &'c mut DbConn, actor: Actor, now: NaiveDateTime) -> Self {
        Self {
            conn,
            actor,
            now,
            tenant_locked: false,
        }
    }

    /// The tenant the actor acts in.
    pub fn tenant_id(&self) -> &TenantId {
        &self.actor.tenant_id
    }

    /// Records one change in the audit log, in this transaction.
    pub fn audit<B: Serialize, A: Serialize>(
        &mut self,
        change: Change<'_, B, A>,
    ) -> DomainResult<()> {
        let entry = NewAuditEntry {
            tenant_id: self.actor.tenant_id.as_str(),
            id: new_id(),
            actor_kind: self.actor.kind.as_str(),
            actor_id: &self.actor.id,
            action: change.action,
            object_type: change.object_type,
            object_id: change.object_id,
            before_json: change.before.map(json),
            after_json: change.after.map(json),
            request_id: self.actor.request_id.as_deref(),
            created_at: self.now,
        };
        diesel::insert_into(audit_log::table)
            .values(&entry)
            .execute(self.conn)?;
        Ok(())
    }

    /// Records one event in the outbox, in this transaction: it is there exactly when the
    /// change that emitted it committed.
    pub fn emit<P: Serialize>(&mut self, event: Event<'_, P>) -> DomainResult<()> {
        let row = NewOutboxEvent {
            tenant_id: self.actor.tenant_id.as_str(),
            id: new_id(),
            kind: event.kind,
            subject_type: event.subject_type,
            subject_id: event.subject_id,
            payload: json(event.payload),
            actor_kind: self.actor.kind.as_str(),
            actor_id: &self.actor.id,
            request_id: self.actor.request_id.as_deref(),
            created_at: self.now,
            delivered_at: None,
            attempts: 0,
        };
        diesel::insert_into(outbox_events::table)
            .values(&row)
            .execute(self.conn)?;
        Ok(())
    }

    /// Serialises, until this transaction ends, the writes of the actor's tenant that check
    /// a tenant-wide rule before they write: a second such transaction waits here instead
    /// of reading the same count. Routes whose work needs it run as `Work::Locked`, which
    /// takes it first; taking it again is free. SQLite already runs one write transaction
    /// at a time.
    pub fn lock_tenant(&mut self) -> DomainResult<()> {
        if !self.tenant_locked {
            lock_tenant_row(self.conn, self.actor.tenant_id.as_str())?;
            self.tenant_locked = true;
        }
        Ok(())
    }

    /// Changes one versioned object (`ETag` / `If-Match`): reads it, refuses a stale
    /// `If-Match`, lets `write` update it only where the version read still holds (the
    /// rows it changed decide), reads it back, and audits before and after.
    pub fn update_versioned<T: Serialize>(
        &mut self,
        what: Versioned<'_>,
        load: impl Fn(&mut DbConn, &TenantId) -> DomainResult<T>,
        version_of: impl Fn(&T) -> i32,
        write: impl FnOnce(&mut Self, &T) -> DomainResult<usize>,
    ) -> DomainResult<T> {
        let before = load(self.conn, &self.actor.tenant_id)?;
        baoxiu_core::version::check(version_of(&before), what.expected)?;
        let rows = write(self, &before)?;
        baoxiu_core::version::updated(rows, what.expected)?;
        let after = load(self.conn, &self.actor.tenant_id)?;
        self.audit(Change::updated(
            what.action,
            what.object_type,
            what.object_id,
            &before,
            &after,
        ))?;
        Ok(after)
    }
}

/// Locks one tenant's row for this transaction (PostgreSQL; SQLite serialises writers).
fn lock_tenant_row(conn: &mut DbConn, tenant_id: &str) -> QueryResult<()> {
    match conn {
        DbConn::Postgresql(pg) => tenants::table
            .filter(tenants::id.eq(tenant_id))
            .select(tenants::id)
            .for_no_key_update()
            .execute(pg)
            .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}
