//! The application's background jobs, and the runner that runs them: SMS delivery (the
//! gateway is called here, never in a request), the hourly clean-ups of expired refresh
//! tokens, old SMS codes, wrong-password rows past their window and expired idempotency
//! keys, and of attachments no work order claimed within a day, and the daily one of dead
//! jobs 30 days old. `baoxiu serve` runs
//! the runner in-process (unless `jobs.in_process` is off); `baoxiu worker` runs it alone.

use baoxiu_accounts::retention;
use baoxiu_accounts::sms::PLATFORM_SCOPE;
use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_core::{DomainError, DomainResult};
use baoxiu_jobs::{Backoff, Job, JobError, JobRun, Runner, RunnerConfig};
use baoxiu_wechat::sms::{SmsError, SmsMessage};
use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// The runner of this process, with every kind of job and the periodic ones.
pub fn runner(state: &AppState) -> DomainResult<Runner<AppState>> {
    let config = &state.config.jobs;
    Runner::new(
        state.db.clone(),
        state.clock.clone(),
        state.clone(),
        RunnerConfig {
            workers: config.workers,
            poll_interval: std::time::Duration::from_millis(config.poll_interval_ms),
            lease: Duration::seconds(config.lease_secs),
        },
        state.jobs.clone(),
    )
    .register::<DeliverSms>()
    .every(
        PLATFORM_SCOPE,
        Duration::hours(1),
        &DeleteExpiredRefreshTokens {},
    )?
    .every(PLATFORM_SCOPE, Duration::hours(1), &DeleteOldSmsCodes {})?
    .every(
        PLATFORM_SCOPE,
        Duration::hours(1),
        &DeleteOldPasswordFailures {},
    )?
    .every(
        PLATFORM_SCOPE,
        Duration::hours(1),
        &DeleteExpiredIdempotencyKeys {},
    )?
    .every(PLATFORM_SCOPE, Duration::days(1), &DeleteOldDeadJobs {})?
    .every(
        PLATFORM_SCOPE,
        Duration::hours(1),
        &DeleteUnclaimedAttachments {},
    )?
    .every(
        PLATFORM_SCOPE,
        Duration::hours(1),
        &CloseUnconfirmedWorkOrders {},
    )
}

/// How long a dead job stays in the admins' list.
pub const DEAD_JOB_RETENTION: Duration = Duration::days(30);

/// Sends one SMS through the configured gateway. The message (mobile, template and code)
/// is sealed with the secrets key, so no code sits in the database in clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverSms {
    sealed: String,
    /// After this the code is useless: a message that could not go out by then is dropped.
    expires_at: NaiveDateTime,
}

impl DeliverSms {
    pub fn seal(
        key: &SecretsKey,
        message: &SmsMessage,
        expires_at: NaiveDateTime,
    ) -> DomainResult<Self> {
        let plain =
            serde_json::to_string(message).map_err(|e| DomainError::Internal(e.to_string()))?;
        Ok(Self {
            sealed: key.seal(&plain)?,
            expires_at,
        })
    }
}

impl Job for DeliverSms {
    const KIND: &'static str = "sms.deliver";
    const MAX_ATTEMPTS: i32 = 5;
    // 5, 10, 20 and 40 seconds: every try falls inside a code's five minutes.
    const BACKOFF: Backoff = Backoff {
        first: Duration::seconds(5),
        cap: Duration::minutes(1),
    };
    type Context = AppState;

    async fn run(self, state: AppState, run: JobRun) -> Result<(), JobError> {
        if run.now >= self.expires_at {
            return Err(JobError::Final(
                "the code expired before it could be delivered".into(),
            ));
        }
        let plain = state
            .secrets_key
            .open(&self.sealed)
            .map_err(|e| JobError::Final(e.to_string()))?;
        let message: SmsMessage = serde_json::from_str(&plain)
            .map_err(|e| JobError::Final(format!("the sealed message is not one: {e}")))?;
        state.sms.send(&message).await.map_err(|error| match error {
            SmsError::RateLimited | SmsError::Unavailable(_) => JobError::Retry(error.to_string()),
            SmsError::Rejected(_) => JobError::Final(error.to_string()),
        })
    }
}

async fn clean_up(
    run: JobRun,
    what: &'static str,
    delete: fn(&mut baoxiu_store::DbConn, NaiveDateTime) -> DomainResult<usize>,
) -> Result<(), JobError> {
    let (db, now) = (run.db, run.now);
    let deleted = tokio::task::spawn_blocking(move || db.write(|conn| delete(conn, now)))
        .await
        .map_err(|e| JobError::Retry(e.to_string()))??;
    tracing::info!(deleted, "deleted {what}");
    Ok(())
}

/// Deletes refresh tokens past their expiry (hourly).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteExpiredRefreshTokens {}

impl Job for DeleteExpiredRefreshTokens {
    const KIND: &'static str = "refresh_tokens.delete_expired";
    type Context = AppState;

    async fn run(self, _: AppState, run: JobRun) -> Result<(), JobError> {
        clean_up(
            run,
            "expired refresh tokens",
            retention::delete_expired_refresh_tokens,
        )
        .await
    }
}

/// Deletes SMS codes that have expired and count towards no send limit any more (hourly).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteOldSmsCodes {}

impl Job for DeleteOldSmsCodes {
    const KIND: &'static str = "sms_codes.delete_old";
    type Context = AppState;

    async fn run(self, _: AppState, run: JobRun) -> Result<(), JobError> {
        clean_up(run, "old SMS codes", retention::delete_old_sms_codes).await
    }
}

/// Deletes dead jobs that have not changed for `DEAD_JOB_RETENTION` (daily).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteOldDeadJobs {}

impl Job for DeleteOldDeadJobs {
    const KIND: &'static str = "jobs.delete_old_dead";
    type Context = AppState;

    async fn run(self, _: AppState, run: JobRun) -> Result<(), JobError> {
        clean_up(run, "old dead jobs", |conn, now| {
            baoxiu_jobs::storage::delete_dead(conn, now - DEAD_JOB_RETENTION)
        })
        .await
    }
}

/// Deletes wrong-password rows that have left the pause window, in every tenant (hourly).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteOldPasswordFailures {}

impl Job for DeleteOldPasswordFailures {
    const KIND: &'static str = "password_failures.delete_old";
    type Context = AppState;

    async fn run(self, _: AppState, run: JobRun) -> Result<(), JobError> {
        clean_up(
            run,
            "old wrong-password rows",
            retention::delete_old_password_failures,
        )
        .await
    }
}

/// Deletes idempotency keys (and their stored answers) past their 24 hours (hourly).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteExpiredIdempotencyKeys {}

impl Job for DeleteExpiredIdempotencyKeys {
    const KIND: &'static str = "idempotency_keys.delete_expired";
    type Context = AppState;

    async fn run(self, _: AppState, run: JobRun) -> Result<(), JobError> {
        clean_up(run, "expired idempotency keys", |conn, now| {
            Ok(baoxiu_store::idempotency::delete_expired(conn, now)?)
        })
        .await
    }
}

/// Attachments removed per statement batch of the clean-up.
const UNCLAIMED_BATCH: i64 = 200;

/// Deletes attachments that no work order claimed within a day, row and blobs, in every
/// tenant (hourly). A row goes first, guarded on being still unclaimed, and its blobs only
/// if it went: a claim that comes in between keeps its photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteUnclaimedAttachments {}

impl Job for DeleteUnclaimedAttachments {
    const KIND: &'static str = "attachments.delete_unclaimed";
    type Context = AppState;

    async fn run(self, state: AppState, run: JobRun) -> Result<(), JobError> {
        use baoxiu_workorders::attachments;
        let (db, before) = (run.db, run.now - attachments::UNCLAIMED_FOR);
        let blobs = state.blobs.clone();
        let removed = tokio::task::spawn_blocking(move || -> DomainResult<usize> {
            let mut removed = 0;
            loop {
                let batch =
                    db.read(|conn| attachments::unclaimed_before(conn, before, UNCLAIMED_BATCH))?;
                let full = i64::try_from(batch.len()).unwrap_or(i64::MAX) == UNCLAIMED_BATCH;
                for row in batch {
                    if db.write(|conn| attachments::remove_unclaimed(conn, &row))? {
                        if let Some(stored) = row.blobs() {
                            attachments::discard(&*blobs, &stored);
                        }
                        removed += 1;
                    }
                }
                if !full {
                    return Ok(removed);
                }
            }
        })
        .await
        .map_err(|e| JobError::Retry(e.to_string()))??;
        tracing::info!(removed, "deleted unclaimed attachments");
        Ok(())
    }
}

/// Closes completed work orders their customers did not confirm within their tenant's
/// `auto_close_days`: each in its own transaction, through the status machine (timeline
/// row and outbox event), as the system. An order confirmed meanwhile is left as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloseUnconfirmedWorkOrders {}

/// The most orders one tenant has closed per run (the next run goes on).
const AUTO_CLOSE_BATCH: i64 = 500;

fn close_unconfirmed(db: &baoxiu_store::Db, now: NaiveDateTime) -> DomainResult<usize> {
    use baoxiu_workorders::orders;
    let mut closed = 0;
    for (tenant_id, days) in db.read(orders::auto_close_days)? {
        let before = now - Duration::days(i64::from(days));
        let due =
            db.read(|conn| orders::due_for_auto_close(conn, &tenant_id, before, AUTO_CLOSE_BATCH))?;
        for id in due {
            let actor = baoxiu_core::Actor {
                tenant_id: tenant_id.clone(),
                kind: baoxiu_core::ActorKind::System,
                id: "auto-close".into(),
                request_id: None,
            };
            match db.run(baoxiu_store::Work::Write, actor, now, |tx| {
                orders::auto_close(tx, &id)
            }) {
                Ok(()) => closed += 1,
                Err(DomainError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(closed)
}

impl Job for CloseUnconfirmedWorkOrders {
    const KIND: &'static str = "work_orders.auto_close";
    type Context = AppState;

    async fn run(self, _: AppState, run: JobRun) -> Result<(), JobError> {
        let (db, now) = (run.db, run.now);
        let closed = tokio::task::spawn_blocking(move || close_unconfirmed(&db, now))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))??;
        tracing::info!(closed, "closed unconfirmed work orders");
        Ok(())
    }
}
