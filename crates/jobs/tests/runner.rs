//! The job runner on both backends, stepped by hand with a clock the test moves: back-off,
//! dead jobs, leases that pass, periodic jobs enqueued once, and (on PostgreSQL) concurrent
//! workers that run each job once. Nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use baoxiu_core::{Clock, ManualClock, PageRequest};
use baoxiu_jobs::storage;
use baoxiu_jobs::{
    Backoff, Job, JobError, JobRun, JobStatus, Lease, Outcome, Runner, RunnerConfig, Waker,
};
use baoxiu_store::testing::TestDatabase;
use baoxiu_store::{Backend, Db};
use chrono::{Duration, NaiveDateTime};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// When each job (by its key) ran, by the runner's clock.
#[derive(Debug, Clone, Default)]
struct Runs(Arc<Mutex<HashMap<String, Vec<NaiveDateTime>>>>);

impl Runs {
    fn of(&self, key: &str) -> Vec<NaiveDateTime> {
        self.0.lock().get(key).cloned().unwrap_or_default()
    }
}

/// Fails its first `failures` runs (with a retryable error, or a final one), then succeeds.
#[derive(Debug, Serialize, Deserialize)]
struct Flaky {
    key: String,
    failures: i32,
    #[serde(default)]
    final_error: bool,
}

impl Job for Flaky {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: i32 = 5;
    const BACKOFF: Backoff = Backoff {
        first: Duration::seconds(5),
        cap: Duration::hours(1),
    };
    type Context = Runs;

    async fn run(self, runs: Runs, run: JobRun) -> Result<(), JobError> {
        runs.0
            .lock()
            .entry(self.key.clone())
            .or_default()
            .push(run.now);
        if run.attempt > self.failures {
            Ok(())
        } else if self.final_error {
            Err(JobError::Final(format!("refused on try {}", run.attempt)))
        } else {
            Err(JobError::Retry(format!("failed on try {}", run.attempt)))
        }
    }
}

struct Setup {
    _database: TestDatabase,
    db: Db,
    clock: ManualClock,
    runs: Runs,
}

impl Setup {
    fn new(backend: Backend) -> Self {
        let database = TestDatabase::new(backend);
        let db = Db::open(&database.url, 8).unwrap();
        Self {
            _database: database,
            db,
            clock: ManualClock::new(chrono::Utc::now()),
            runs: Runs::default(),
        }
    }

    fn runner(&self) -> Runner<Runs> {
        Runner::new(
            self.db.clone(),
            Arc::new(self.clock.clone()),
            self.runs.clone(),
            RunnerConfig::default(),
            Waker::default(),
        )
        .lease_clock(Arc::new(self.clock.clone()))
        .register::<Flaky>()
    }

    fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    fn enqueue(&self, job: &Flaky) -> String {
        let now = self.now();
        self.db
            .write(|conn| storage::enqueue_job(conn, "t1", job, now))
            .unwrap()
    }

    fn jobs(&self, status: Option<JobStatus>) -> Vec<baoxiu_jobs::JobRecord> {
        let page = PageRequest::new(Some(100), None).unwrap();
        self.db
            .read(|conn| baoxiu_jobs::list(conn, "t1", status, &page))
            .unwrap()
            .items
    }
}

fn lease_at(from: NaiveDateTime, length: Duration) -> Lease {
    Lease {
        from,
        until: from + length,
    }
}

fn flaky(key: &str, failures: i32) -> Flaky {
    Flaky {
        key: key.into(),
        failures,
        final_error: false,
    }
}

async fn fails_three_times_then_succeeds(backend: Backend) {
    let setup = Setup::new(backend);
    let runner = setup.runner();
    setup.enqueue(&flaky("a", 3));

    let mut outcomes = Vec::new();
    // Step the clock a second at a time: the job runs exactly when its back-off has passed.
    for _ in 0..200 {
        if let Some(ran) = runner.run_next().await.unwrap() {
            outcomes.push((ran.attempt, ran.outcome));
        }
        if matches!(outcomes.last(), Some((_, Outcome::Done))) {
            break;
        }
        setup.clock.advance(Duration::seconds(1));
    }
    let attempts: Vec<i32> = outcomes.iter().map(|(attempt, _)| *attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4], "{outcomes:?}");
    assert!(matches!(&outcomes[0].1, Outcome::Retry { error, .. } if error == "failed on try 1"));
    assert_eq!(outcomes[3].1, Outcome::Done);

    let runs = setup.runs.of("a");
    assert_eq!(runs.len(), 4, "four runs: three failures and the success");
    let delays: Vec<i64> = runs
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .collect();
    // 5, 10, 20 seconds of back-off; the one-second steps may add at most one each.
    for (delay, backoff) in delays.iter().zip([5, 10, 20]) {
        assert!((backoff..=backoff + 1).contains(delay), "{delays:?}");
    }
    assert!(
        delays.windows(2).all(|w| w[0] < w[1]),
        "growing: {delays:?}"
    );
    assert!(setup.jobs(None).is_empty(), "a job that is done is gone");
}

async fn spent_tries_and_final_errors_make_dead_jobs(backend: Backend) {
    let setup = Setup::new(backend);
    let runner = setup.runner();
    setup.enqueue(&flaky("never", 99));
    let mut attempts = 0;
    for _ in 0..10 {
        if let Some(ran) = runner.run_next().await.unwrap() {
            attempts = ran.attempt;
            if matches!(ran.outcome, Outcome::Dead { .. }) {
                break;
            }
        }
        setup.clock.advance(Duration::hours(1));
    }
    assert_eq!(attempts, 5, "five tries, then dead");
    assert_eq!(setup.runs.of("never").len(), 5);
    setup.clock.advance(Duration::days(1));
    assert_eq!(
        runner.run_next().await.unwrap(),
        None,
        "a dead job never runs again"
    );

    setup.enqueue(&Flaky {
        key: "refused".into(),
        failures: 1,
        final_error: true,
    });
    let ran = runner.run_next().await.unwrap().unwrap();
    assert_eq!(
        ran.outcome,
        Outcome::Dead {
            error: "refused on try 1".into()
        }
    );
    setup.clock.advance(Duration::days(1));
    assert_eq!(runner.run_next().await.unwrap(), None);
    assert_eq!(
        setup.runs.of("refused").len(),
        1,
        "a final error is not retried"
    );

    let dead = setup.jobs(Some(JobStatus::Dead));
    let errors: Vec<_> = dead
        .iter()
        .map(|j| (j.attempts, j.last_error.clone()))
        .collect();
    assert_eq!(
        errors,
        [
            (5, Some("failed on try 5".into())),
            (1, Some("refused on try 1".into()))
        ]
    );
    assert!(setup.jobs(Some(JobStatus::Queued)).is_empty());
    let page = PageRequest::new(Some(100), None).unwrap();
    let other = setup
        .db
        .read(|conn| baoxiu_jobs::list(conn, "t2", None, &page))
        .unwrap();
    assert!(other.items.is_empty(), "another tenant sees none of them");
}

async fn a_job_runs_again_once_its_lease_has_passed(backend: Backend) {
    let setup = Setup::new(backend);
    let runner = setup.runner();
    setup.enqueue(&flaky("leased", 0));
    // A worker claims the job and dies without a word.
    let now = setup.now();
    let lease = RunnerConfig::default().lease;
    let dead_worker = setup
        .db
        .write(|conn| storage::claim(conn, &["test.flaky"], now, lease_at(now, lease)))
        .unwrap()
        .unwrap();
    assert_eq!(dead_worker.attempts, 1);
    setup.clock.advance(lease - Duration::seconds(1));
    assert_eq!(
        runner.run_next().await.unwrap(),
        None,
        "the lease still holds"
    );
    setup.clock.advance(Duration::seconds(2));
    let ran = runner.run_next().await.unwrap().unwrap();
    assert_eq!((ran.attempt, ran.outcome), (2, Outcome::Done));
    assert_eq!(
        setup.runs.of("leased").len(),
        1,
        "ran once, by the live worker"
    );
    // The dead worker's late word changes nothing.
    let late = setup
        .db
        .write(|conn| storage::complete(conn, &dead_worker))
        .unwrap();
    assert!(!late);
}

async fn a_lost_lease_cannot_finish_the_job(backend: Backend) {
    let setup = Setup::new(backend);
    setup.enqueue(&flaky("slow", 0));
    let now = setup.now();
    let first = setup
        .db
        .write(|conn| {
            storage::claim(
                conn,
                &["test.flaky"],
                now,
                lease_at(now, Duration::seconds(10)),
            )
        })
        .unwrap()
        .unwrap();
    setup.clock.advance(Duration::seconds(11));
    let now = setup.now();
    let second = setup
        .db
        .write(|conn| {
            storage::claim(
                conn,
                &["test.flaky"],
                now,
                lease_at(now, Duration::seconds(10)),
            )
        })
        .unwrap()
        .expect("the lease passed: another worker may claim it");
    assert_eq!(second.attempts, 2);
    let none = setup
        .db
        .write(|conn| {
            storage::claim(
                conn,
                &["test.flaky"],
                now,
                lease_at(now, Duration::seconds(10)),
            )
        })
        .unwrap();
    assert!(none.is_none(), "the second lease holds");
    let retried = setup
        .db
        .write(|conn| storage::retry(conn, &first, "late", now, now))
        .unwrap();
    assert!(!retried, "the first worker no longer holds it");
    assert!(
        setup
            .db
            .write(|conn| storage::complete(conn, &second))
            .unwrap()
    );
    assert!(setup.jobs(None).is_empty());
}

async fn periodic_jobs_are_enqueued_once_a_period(backend: Backend) {
    let setup = Setup::new(backend);
    // Five workers' runners, each with the same schedule.
    let runners: Vec<Runner<Runs>> = (0..5)
        .map(|_| {
            setup
                .runner()
                .every("platform", Duration::hours(1), &flaky("hourly", 0))
                .unwrap()
        })
        .collect();
    let count = |setup: &Setup| {
        let page = PageRequest::new(Some(100), None).unwrap();
        setup
            .db
            .read(|conn| baoxiu_jobs::list(conn, "platform", None, &page))
            .unwrap()
            .items
            .len()
    };
    let mut periods = Vec::new();
    for _ in 0..3 {
        let enqueued =
            futures_util::future::join_all(runners.iter().map(|r| r.enqueue_due())).await;
        let total: usize = enqueued.into_iter().map(Result::unwrap).sum();
        periods.push((total, count(&setup)));
        // A little later in the same period: nothing more.
        setup.clock.advance(Duration::minutes(59));
        for runner in &runners {
            assert_eq!(runner.enqueue_due().await.unwrap(), 0);
        }
        setup.clock.advance(Duration::minutes(1));
    }
    assert_eq!(
        periods,
        [(1, 1), (1, 2), (1, 3)],
        "one job an hour, whatever the workers"
    );
    let ran = runners[0].run_until_idle().await.unwrap();
    assert_eq!(ran.len(), 3);
    assert_eq!(setup.runs.of("hourly").len(), 3);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(baoxiu_store::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(baoxiu_store::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both!(
    fails_three_times_then_succeeds,
    spent_tries_and_final_errors_make_dead_jobs,
    a_job_runs_again_once_its_lease_has_passed,
    a_lost_lease_cannot_finish_the_job,
    periodic_jobs_are_enqueued_once_a_period,
);

/// Counts runs per job key; never fails.
#[derive(Debug, Serialize, Deserialize)]
struct Count {
    key: String,
}

impl Job for Count {
    const KIND: &'static str = "test.count";
    type Context = Runs;

    async fn run(self, runs: Runs, run: JobRun) -> Result<(), JobError> {
        runs.0.lock().entry(self.key).or_default().push(run.now);
        tokio::task::yield_now().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_on_postgres_run_each_job_once() {
    let setup = Setup::new(Backend::Postgres);
    let now = setup.now();
    setup
        .db
        .write(|conn| -> baoxiu_core::DomainResult<()> {
            for i in 0..300 {
                storage::enqueue_job(
                    conn,
                    "t1",
                    &Count {
                        key: format!("job-{i}"),
                    },
                    now,
                )?;
            }
            Ok(())
        })
        .unwrap();
    let runners: Vec<_> = (0..6).map(|_| setup.runner().register::<Count>()).collect();
    let ran = futures_util::future::join_all(runners.iter().map(|r| {
        let r = r.clone();
        tokio::spawn(async move { r.run_until_idle().await.unwrap().len() })
    }))
    .await;
    let per_runner: Vec<usize> = ran.into_iter().map(Result::unwrap).collect();
    assert_eq!(per_runner.iter().sum::<usize>(), 300, "{per_runner:?}");
    assert!(
        per_runner.iter().filter(|n| **n > 0).count() > 1,
        "the runners shared the work: {per_runner:?}"
    );
    let runs = setup.runs.0.lock();
    assert_eq!(runs.len(), 300);
    assert!(
        runs.values().all(|times| times.len() == 1),
        "each job ran once"
    );
}

/// Holds its run until the test opens the gate; counts its runs.
#[derive(Debug, Serialize, Deserialize)]
struct Gated {}

#[derive(Debug, Clone)]
struct Gate {
    runs: Arc<Mutex<usize>>,
    started: tokio::sync::watch::Sender<bool>,
    open: tokio::sync::watch::Sender<bool>,
}

impl Job for Gated {
    const KIND: &'static str = "test.gated";
    type Context = Gate;

    async fn run(self, gate: Gate, _: JobRun) -> Result<(), JobError> {
        *gate.runs.lock() += 1;
        gate.started.send_replace(true);
        let _ = gate.open.subscribe().wait_for(|open| *open).await;
        Ok(())
    }
}

async fn moving_the_clock_mid_run_does_not_hand_the_job_to_another_worker(backend: Backend) {
    let setup = Setup::new(backend);
    let gate = Gate {
        runs: Arc::default(),
        started: tokio::sync::watch::channel(false).0,
        open: tokio::sync::watch::channel(false).0,
    };
    // Leases on the wall clock, as in the application.
    let runner = || {
        Runner::new(
            setup.db.clone(),
            Arc::new(setup.clock.clone()),
            gate.clone(),
            RunnerConfig::default(),
            Waker::default(),
        )
        .register::<Gated>()
    };
    let (first, second) = (runner(), runner());
    let now = setup.now();
    setup
        .db
        .write(|conn| storage::enqueue_job(conn, "t1", &Gated {}, now))
        .unwrap();
    let running = tokio::spawn(async move { first.run_next().await });
    gate.started
        .subscribe()
        .wait_for(|started| *started)
        .await
        .unwrap();
    // A test moves the clock a day on while the job runs: due times move, the lease not.
    setup.clock.advance(Duration::days(1));
    assert_eq!(second.run_next().await.unwrap(), None);
    gate.open.send_replace(true);
    let ran = running.await.unwrap().unwrap().unwrap();
    assert_eq!(ran.outcome, Outcome::Done);
    assert_eq!(*gate.runs.lock(), 1);
}

on_both!(moving_the_clock_mid_run_does_not_hand_the_job_to_another_worker);
