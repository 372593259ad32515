//! The queries of the job runner: enqueue (in the caller's transaction), claim (one
//! statement taking a lease), finish, list, and the schedules of periodic jobs.

use baoxiu_core::{DomainError, DomainResult, Page, PageRequest, new_id};
use baoxiu_store::DbConn;
use baoxiu_store::schema::{job_schedules, jobs};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Timestamp};
use serde::Serialize;

use crate::job::Job;

baoxiu_core::text_enum! {
/// Where a job stands. Done jobs are deleted, so they have no status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for its run time, or running under a worker's lease.
    Queued = "queued",
    /// Its tries are spent (or it failed for good): kept, with its last error, for admins.
    Dead = "dead",
}
}

/// Adds a job to the queue, due now, in the caller's transaction: it exists exactly when
/// the caller's change commits. `tenant_id` is the tenant the job works for (or a fixed
/// scope such as `platform` for work of no tenant). Answers the job's id.
pub fn enqueue(
    conn: &mut DbConn,
    tenant_id: &str,
    kind: &str,
    payload: &serde_json::Value,
    now: NaiveDateTime,
) -> DomainResult<String> {
    let id = new_id();
    diesel::insert_into(jobs::table)
        .values((
            jobs::tenant_id.eq(tenant_id),
            jobs::id.eq(&id),
            jobs::kind.eq(kind),
            jobs::payload.eq(payload.to_string()),
            jobs::status.eq(JobStatus::Queued.as_str()),
            jobs::attempts.eq(0),
            jobs::run_at.eq(now),
            jobs::created_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// `enqueue` for a typed job.
pub fn enqueue_job<J: Job>(
    conn: &mut DbConn,
    tenant_id: &str,
    job: &J,
    now: NaiveDateTime,
) -> DomainResult<String> {
    let payload = serde_json::to_value(job)
        .map_err(|e| DomainError::Internal(format!("a {} job's payload: {e}", J::KIND)))?;
    enqueue(conn, tenant_id, J::KIND, &payload, now)
}

/// A job a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub tenant_id: String,
    pub id: String,
    pub kind: String,
    pub payload: String,
    /// Counting this run.
    pub attempts: i32,
    /// The lease's token: only its holder may finish the job.
    pub claim: String,
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

// The oldest due job of the given kinds that no live lease holds, leased in the same
// statement. PostgreSQL skips rows another claim has locked; SQLite runs one writer at a
// time, so the statement alone is enough there.
const CLAIM_POSTGRES: &str = "UPDATE jobs SET locked_by = $1, locked_until = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM jobs \
         WHERE status = 'queued' AND run_at <= $3 \
         AND (locked_until IS NULL OR locked_until <= $5) AND kind = ANY($4) \
         ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING tenant_id, id, kind, payload, attempts";
const CLAIM_SQLITE: &str = "UPDATE jobs SET locked_by = ?1, locked_until = ?2, \
     attempts = attempts + 1, updated_at = ?3 \
     WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM jobs \
         WHERE status = 'queued' AND run_at <= ?3 \
         AND (locked_until IS NULL OR locked_until <= ?5) \
         AND kind IN (SELECT value FROM json_each(?4)) \
         ORDER BY run_at, id LIMIT 1) \
     RETURNING tenant_id, id, kind, payload, attempts";

/// The span of a claim's lease, by the lease clock (wall-clock time: see
/// `Runner::lease_clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub from: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// Takes a lease on the next job of `kinds` due by `now` that no live lease holds,
/// counting a try.
pub fn claim(
    conn: &mut DbConn,
    kinds: &[&str],
    now: NaiveDateTime,
    lease: Lease,
) -> DomainResult<Option<Claimed>> {
    let token = new_id();
    let claimed: Vec<ClaimedRow> = match conn {
        DbConn::Postgresql(pg) => diesel::sql_query(CLAIM_POSTGRES)
            .bind::<Text, _>(&token)
            .bind::<Timestamp, _>(lease.until)
            .bind::<Timestamp, _>(now)
            .bind::<Array<Text>, _>(kinds)
            .bind::<Timestamp, _>(lease.from)
            .load(pg)?,
        DbConn::Sqlite(sqlite) => {
            let kinds =
                serde_json::to_string(kinds).map_err(|e| DomainError::Internal(e.to_string()))?;
            diesel::sql_query(CLAIM_SQLITE)
                .bind::<Text, _>(&token)
                .bind::<Timestamp, _>(lease.until)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(kinds)
                .bind::<Timestamp, _>(lease.from)
                .load(sqlite)?
        }
    };
    Ok(claimed.into_iter().next().map(|row| Claimed {
        tenant_id: row.tenant_id,
        id: row.id,
        kind: row.kind,
        payload: row.payload,
        attempts: row.attempts,
        claim: token,
    }))
}

/// The job's row, as long as this claim holds its lease.
macro_rules! held {
    ($job:expr) => {
        jobs::table
            .filter(jobs::tenant_id.eq($job.tenant_id.as_str()))
            .filter(jobs::id.eq($job.id.as_str()))
            .filter(jobs::locked_by.eq($job.claim.as_str()))
    };
}

/// The job ran: it goes. False when the lease was lost (another worker took the job over
/// after it passed), in which case nothing changed.
pub fn complete(conn: &mut DbConn, job: &Claimed) -> DomainResult<bool> {
    Ok(diesel::delete(held!(job)).execute(conn)? == 1)
}

/// The run failed and the job is tried again at `run_at`.
pub fn retry(
    conn: &mut DbConn,
    job: &Claimed,
    error: &str,
    run_at: NaiveDateTime,
    now: NaiveDateTime,
) -> DomainResult<bool> {
    let changed = diesel::update(held!(job))
        .set((
            jobs::run_at.eq(run_at),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::locked_by.eq(None::<String>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The job is dead: kept with its last error, never run again.
pub fn bury(
    conn: &mut DbConn,
    job: &Claimed,
    error: &str,
    now: NaiveDateTime,
) -> DomainResult<bool> {
    let changed = diesel::update(held!(job))
        .set((
            jobs::status.eq(JobStatus::Dead.as_str()),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::locked_by.eq(None::<String>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Deletes the dead jobs last changed before `before`; answers how many.
pub fn delete_dead(conn: &mut DbConn, before: NaiveDateTime) -> DomainResult<usize> {
    Ok(diesel::delete(
        jobs::table
            .filter(jobs::status.eq(JobStatus::Dead.as_str()))
            .filter(jobs::updated_at.lt(before)),
    )
    .execute(conn)?)
}

/// A job as an admin sees it: never its payload.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = jobs)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub run_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// How the list pages: oldest first.
pub const JOBS: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("jobs");

/// One tenant's jobs, oldest first, cursor-paged; all of them or those of one status.
pub fn list(
    conn: &mut DbConn,
    tenant_id: &str,
    status: Option<JobStatus>,
    page: &PageRequest,
) -> DomainResult<Page<JobRecord>> {
    let mut query = jobs::table
        .filter(jobs::tenant_id.eq(tenant_id))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(jobs::status.eq(status.as_str()));
    }
    let rows = baoxiu_store::paginate(query, jobs::created_at, jobs::id, &JOBS, page)?
        .select(JobRecord::as_select())
        .load(conn)?;
    Ok(page.finish(&JOBS, rows, |row| (row.created_at, row.id.clone())))
}

const ADD_SCHEDULE_POSTGRES: &str = "INSERT INTO job_schedules (tenant_id, name, next_run_at) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const ADD_SCHEDULE_SQLITE: &str = "INSERT INTO job_schedules (tenant_id, name, next_run_at) \
     VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";

/// Creates a schedule first due at `first_run_at`, unless it exists (another worker's).
pub fn add_schedule(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
    first_run_at: NaiveDateTime,
) -> DomainResult<()> {
    match conn {
        DbConn::Postgresql(pg) => diesel::sql_query(ADD_SCHEDULE_POSTGRES)
            .bind::<Text, _>(tenant_id)
            .bind::<Text, _>(name)
            .bind::<Timestamp, _>(first_run_at)
            .execute(pg)?,
        DbConn::Sqlite(sqlite) => diesel::sql_query(ADD_SCHEDULE_SQLITE)
            .bind::<Text, _>(tenant_id)
            .bind::<Text, _>(name)
            .bind::<Timestamp, _>(first_run_at)
            .execute(sqlite)?,
    };
    Ok(())
}

/// Moves a due schedule on to `next_run_at`. True for the one caller that moved it (who
/// then enqueues the run, in the same transaction); false when it was not due, or another
/// worker moved it first.
pub fn take_schedule(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
    next_run_at: NaiveDateTime,
    now: NaiveDateTime,
) -> DomainResult<bool> {
    let moved = diesel::update(
        job_schedules::table
            .filter(job_schedules::tenant_id.eq(tenant_id))
            .filter(job_schedules::name.eq(name))
            .filter(job_schedules::next_run_at.le(now)),
    )
    .set(job_schedules::next_run_at.eq(next_run_at))
    .execute(conn)?;
    Ok(moved == 1)
}

/// When a schedule is next due.
pub fn schedule_due_at(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
) -> DomainResult<Option<NaiveDateTime>> {
    Ok(job_schedules::table
        .filter(job_schedules::tenant_id.eq(tenant_id))
        .filter(job_schedules::name.eq(name))
        .select(job_schedules::next_run_at)
        .first(conn)
        .optional()?)
}
