//! What a kind of job is: its name, how often it may be tried, how long to wait between
//! tries, and what running it does.

use std::future::Future;

use baoxiu_store::Db;
use chrono::{Duration, NaiveDateTime};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One kind of background work. The value is the job's payload, stored as JSON.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The kind's name in the `jobs` table; unique in the application.
    const KIND: &'static str;
    /// Tries before the job is dead (the first run counts).
    const MAX_ATTEMPTS: i32 = 5;
    /// The waits between tries.
    const BACKOFF: Backoff = Backoff::DEFAULT;

    /// What the job needs to run (clients, keys), given by the runner.
    type Context: Clone + Send + Sync + 'static;

    /// Does the work. `Err(JobError::Retry)` tries again after the back-off while tries
    /// remain; `Err(JobError::Final)` makes the job dead at once.
    fn run(
        self,
        context: Self::Context,
        run: JobRun,
    ) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Worth trying again (a service that is down or rate limiting).
    Retry(String),
    /// Trying again cannot help (a request the service refuses, a payload that no longer
    /// applies): the job is dead now.
    Final(String),
}

impl JobError {
    pub fn message(&self) -> &str {
        match self {
            Self::Retry(message) | Self::Final(message) => message,
        }
    }
}

impl From<baoxiu_core::DomainError> for JobError {
    fn from(error: baoxiu_core::DomainError) -> Self {
        Self::Retry(error.to_string())
    }
}

/// One run of a job, as the job sees it.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub tenant_id: String,
    pub job_id: String,
    /// 1 on the first run.
    pub attempt: i32,
    /// When the run started, by the runner's clock.
    pub now: NaiveDateTime,
    pub db: Db,
}

/// Exponential back-off: `first` after the first failed try, doubling after each further
/// one, never more than `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// 10 seconds, doubling, at most an hour.
    pub const DEFAULT: Self = Self {
        first: Duration::seconds(10),
        cap: Duration::hours(1),
    };

    /// The wait after the `attempt`-th failed try (1-based).
    pub fn delay(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let factor = 1i32 << doublings;
        self.first
            .checked_mul(factor)
            .map_or(self.cap, |delay| delay.min(self.cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let backoff = Backoff {
            first: Duration::seconds(5),
            cap: Duration::seconds(60),
        };
        let delays: Vec<i64> = (1..=6).map(|n| backoff.delay(n).num_seconds()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff.delay(1_000).num_seconds(), 60);
    }
}
