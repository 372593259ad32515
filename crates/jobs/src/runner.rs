//! The runner: the registered kinds of job, the periodic schedules, and the loops that
//! claim and run jobs (`start`), or single steps of them for tests (`run_next`).

use std::collections::HashMap;
use std::sync::Arc;

use baoxiu_core::{Clock, DomainError, DomainResult, SystemClock};
use baoxiu_store::{Db, DbConn};
use chrono::{Duration, NaiveDateTime};
use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::job::{Backoff, Job, JobError, JobRun};
use crate::storage::{self, Claimed, Lease};

/// How a runner runs.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Jobs run at once by this process.
    pub workers: usize,
    /// How often an idle worker looks for due jobs (enqueues in this process wake it at once).
    pub poll_interval: std::time::Duration,
    /// How long a claim holds a job. A run is cut off when its lease ends; a worker that
    /// dies leaves the job to others once it has passed.
    pub lease: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            poll_interval: std::time::Duration::from_secs(1),
            lease: Duration::seconds(60),
        }
    }
}

/// Wakes the idle workers of this process: call it after a transaction that enqueued
/// jobs has committed. Workers of other processes find them at their next poll.
#[derive(Debug, Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }
}

type RunFn<C> = dyn Fn(C, String, JobRun) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync;

struct Kind<C> {
    max_attempts: i32,
    backoff: Backoff,
    run: Arc<RunFn<C>>,
}

struct Schedule {
    tenant_id: String,
    kind: &'static str,
    every: Duration,
    payload: serde_json::Value,
    /// When this process last read it is due: no statement until then.
    known_due: Mutex<Option<NaiveDateTime>>,
}

struct Inner<C> {
    db: Db,
    clock: Arc<dyn Clock>,
    lease_clock: Arc<dyn Clock>,
    context: C,
    config: RunnerConfig,
    waker: Waker,
    kinds: HashMap<&'static str, Kind<C>>,
    schedules: Vec<Schedule>,
}

/// The job runner of one process. Cheap to clone.
pub struct Runner<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Runner<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: the job is deleted.
    Done,
    /// Failed; tried again at this time.
    Retry { at: NaiveDateTime, error: String },
    /// Failed for good, or its last try: dead.
    Dead { error: String },
    /// The lease passed before the run ended and another worker has the job now; this
    /// run's result was dropped.
    LeaseLost,
}

/// One job run by `run_next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub tenant_id: String,
    pub job_id: String,
    pub kind: String,
    /// 1 on the first run.
    pub attempt: i32,
    pub outcome: Outcome,
}

fn blocking_failed(error: tokio::task::JoinError) -> DomainError {
    DomainError::Internal(format!("a job runner task failed: {error}"))
}

// What the admin list shows stays readable.
fn shorten(message: &str) -> String {
    const MAX: usize = 1000;
    match message.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

impl<C: Clone + Send + Sync + 'static> Runner<C> {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        context: C,
        config: RunnerConfig,
        waker: Waker,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                lease_clock: Arc::new(SystemClock),
                context,
                config,
                waker,
                kinds: HashMap::new(),
                schedules: Vec::new(),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner<C> {
        Arc::get_mut(&mut self.inner).unwrap_or_else(|| {
            unreachable!("a runner is configured before it is cloned or started")
        })
    }

    /// The clock of leases (wall-clock time unless changed). Due times and back-off follow
    /// the runner's clock, which tests move; a lease bounds a run in the time it really
    /// takes (the run is cut off by a timer), so a clock moved on mid-run must not hand the
    /// job to a second worker. Tests of the leases themselves pass their clock here.
    pub fn lease_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.inner_mut().lease_clock = clock;
        self
    }

    /// Lets this runner run jobs of kind `J`.
    pub fn register<J: Job<Context = C>>(mut self) -> Self {
        let run: Arc<RunFn<C>> = Arc::new(|context: C, payload: String, run: JobRun| {
            Box::pin(async move {
                let job: J = serde_json::from_str(&payload).map_err(|e| {
                    JobError::Final(format!("the payload is not a {} job: {e}", J::KIND))
                })?;
                job.run(context, run).await
            })
        });
        self.inner_mut().kinds.insert(
            J::KIND,
            Kind {
                max_attempts: J::MAX_ATTEMPTS.max(1),
                backoff: J::BACKOFF,
                run,
            },
        );
        self
    }

    /// Enqueues `job` for `tenant_id` every `every`, the first time when the runner starts
    /// (unless another worker already keeps that schedule). Registers `J` too.
    pub fn every<J: Job<Context = C>>(
        self,
        tenant_id: &str,
        every: Duration,
        job: &J,
    ) -> Result<Self, DomainError> {
        let payload = serde_json::to_value(job)
            .map_err(|e| DomainError::Internal(format!("a {} job's payload: {e}", J::KIND)))?;
        let mut runner = self.register::<J>();
        runner.inner_mut().schedules.push(Schedule {
            tenant_id: tenant_id.to_owned(),
            kind: J::KIND,
            every,
            payload,
            known_due: Mutex::new(None),
        });
        Ok(runner)
    }

    /// What wakes this runner's idle workers.
    pub fn waker(&self) -> Waker {
        self.inner.waker.clone()
    }

    fn now(&self) -> NaiveDateTime {
        self.inner.clock.now().naive_utc()
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConn) -> DomainResult<T> + Send + 'static,
    ) -> DomainResult<T> {
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || db.write(work))
            .await
            .map_err(blocking_failed)?
    }

    /// Claims the next due job and runs it; `None` when no job is due.
    pub async fn run_next(&self) -> DomainResult<Option<Ran>> {
        let now = self.now();
        let from = self.inner.lease_clock.now().naive_utc();
        let lease = Lease {
            from,
            until: from + self.inner.config.lease,
        };
        let kinds: Vec<&'static str> = self.inner.kinds.keys().copied().collect();
        let Some(job) = self
            .write(move |conn| storage::claim(conn, &kinds, now, lease))
            .await?
        else {
            return Ok(None);
        };
        let Some(kind) = self.inner.kinds.get(job.kind.as_str()) else {
            // Claimed only among registered kinds.
            return Err(DomainError::Internal(format!(
                "no such job kind: {}",
                job.kind
            )));
        };
        let result = if job.attempts > kind.max_attempts {
            // Each earlier run ended with its worker gone before it could say how it went.
            Err(JobError::Final(format!(
                "its worker stopped mid-run {} times",
                job.attempts - 1
            )))
        } else {
            self.execute(kind, &job, now).await
        };
        let outcome = self.finish(kind, &job, result).await?;
        Ok(Some(Ran {
            tenant_id: job.tenant_id,
            job_id: job.id,
            kind: job.kind,
            attempt: job.attempts,
            outcome,
        }))
    }

    async fn execute(
        &self,
        kind: &Kind<C>,
        job: &Claimed,
        now: NaiveDateTime,
    ) -> Result<(), JobError> {
        let run = JobRun {
            tenant_id: job.tenant_id.clone(),
            job_id: job.id.clone(),
            attempt: job.attempts,
            now,
            db: self.inner.db.clone(),
        };
        let future = (kind.run)(self.inner.context.clone(), job.payload.clone(), run);
        let limit = self
            .inner
            .config
            .lease
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        // Its own task, so that a panicking job fails alone and an overdue one can be
        // stopped.
        let mut task = tokio::spawn(future);
        match tokio::time::timeout(limit, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) if error.is_panic() => Err(JobError::Retry("the job panicked".into())),
            Ok(Err(error)) => Err(JobError::Retry(format!("the job's task failed: {error}"))),
            Err(_) => {
                task.abort();
                Err(JobError::Retry(format!(
                    "the run took longer than its lease ({} s)",
                    self.inner.config.lease.num_seconds()
                )))
            }
        }
    }

    async fn finish(
        &self,
        kind: &Kind<C>,
        job: &Claimed,
        result: Result<(), JobError>,
    ) -> DomainResult<Outcome> {
        let now = self.now();
        let outcome = match result {
            Ok(()) => Outcome::Done,
            Err(JobError::Retry(error)) if job.attempts < kind.max_attempts => Outcome::Retry {
                at: now + kind.backoff.delay(job.attempts),
                error: shorten(&error),
            },
            Err(JobError::Retry(error) | JobError::Final(error)) => Outcome::Dead {
                error: shorten(&error),
            },
        };
        let held = {
            let (job, outcome) = (job.clone(), outcome.clone());
            self.write(move |conn| match &outcome {
                Outcome::Done => storage::complete(conn, &job),
                Outcome::Retry { at, error } => storage::retry(conn, &job, error, *at, now),
                Outcome::Dead { error } => storage::bury(conn, &job, error, now),
                Outcome::LeaseLost => Ok(false),
            })
            .await?
        };
        let span = (job.kind.as_str(), job.id.as_str(), job.attempts);
        Ok(match outcome {
            _ if !held => {
                tracing::warn!(
                    kind = span.0,
                    job = span.1,
                    attempt = span.2,
                    "job lease lost: another worker has it"
                );
                Outcome::LeaseLost
            }
            Outcome::Done => {
                tracing::debug!(kind = span.0, job = span.1, attempt = span.2, "job done");
                outcome
            }
            Outcome::Retry { ref at, ref error } => {
                tracing::warn!(kind = span.0, job = span.1, attempt = span.2, %at, %error, "job failed; it will be retried");
                outcome
            }
            Outcome::Dead { ref error } => {
                tracing::error!(kind = span.0, job = span.1, attempt = span.2, %error, "job dead");
                outcome
            }
            Outcome::LeaseLost => outcome,
        })
    }

    /// Runs due jobs until none is due; answers them in order.
    pub async fn run_until_idle(&self) -> DomainResult<Vec<Ran>> {
        let mut ran = Vec::new();
        while let Some(one) = self.run_next().await? {
            ran.push(one);
        }
        Ok(ran)
    }

    /// Enqueues the run of every periodic job that is due, once across all workers;
    /// answers how many this call enqueued.
    pub async fn enqueue_due(&self) -> DomainResult<usize> {
        let mut enqueued = 0;
        for (index, schedule) in self.inner.schedules.iter().enumerate() {
            let now = self.now();
            if schedule.known_due.lock().is_some_and(|due| now < due) {
                continue;
            }
            let runner = self.clone();
            let (took, due) = self
                .write(move |conn| {
                    let schedule = &runner.inner.schedules[index];
                    let (tenant, name) = (schedule.tenant_id.as_str(), schedule.kind);
                    storage::add_schedule(conn, tenant, name, now)?;
                    let took =
                        storage::take_schedule(conn, tenant, name, now + schedule.every, now)?;
                    if took {
                        storage::enqueue(conn, tenant, name, &schedule.payload, now)?;
                    }
                    Ok((took, storage::schedule_due_at(conn, tenant, name)?))
                })
                .await?;
            *schedule.known_due.lock() = due;
            if took {
                tracing::info!(kind = schedule.kind, tenant = %schedule.tenant_id, "periodic job enqueued");
                enqueued += 1;
            }
        }
        Ok(enqueued)
    }

    /// Starts the workers and the scheduler on the current tokio runtime.
    pub fn start(&self) -> RunHandle {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..self.inner.config.workers.max(1) {
            let (runner, stopped) = (self.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move { runner.work(stopped).await }));
        }
        if !self.inner.schedules.is_empty() {
            let runner = self.clone();
            tasks.push(tokio::spawn(async move { runner.schedule(stopped).await }));
        }
        RunHandle { stop, tasks }
    }

    async fn work(&self, mut stopped: watch::Receiver<bool>) {
        while !*stopped.borrow() {
            // Interest first, then the look: an enqueue in between still wakes us.
            let notified = self.inner.waker.0.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = match self.run_next().await {
                Ok(Some(_)) => continue,
                Ok(None) => true,
                Err(error) => {
                    tracing::error!(%error, "the job runner cannot claim jobs");
                    false
                }
            };
            tokio::select! {
                _ = &mut notified, if wait => {}
                _ = tokio::time::sleep(self.inner.config.poll_interval) => {}
                _ = stop_asked(&mut stopped) => {}
            }
        }
    }

    async fn schedule(&self, mut stopped: watch::Receiver<bool>) {
        while !*stopped.borrow() {
            // A wake-up looks at the schedules too; most looks cost no statement.
            let notified = self.inner.waker.0.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.enqueue_due().await {
                Ok(0) => {}
                Ok(_) => self.inner.waker.wake(),
                Err(error) => {
                    tracing::error!(%error, "the job runner cannot enqueue periodic jobs")
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(self.inner.config.poll_interval) => {}
                _ = stop_asked(&mut stopped) => {}
            }
        }
    }
}

/// Returns once a stop is asked for; never, when the handle was detached.
async fn stop_asked(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The running workers of `Runner::start`. Dropping it (or `detach`) leaves them running
/// as long as the runtime does.
pub struct RunHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunHandle {
    /// Leaves the workers running as long as the runtime does.
    pub fn detach(self) {}

    /// Stops claiming jobs and waits for the runs in progress to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
