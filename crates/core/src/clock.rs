//! The one clock. Everything that needs "now" asks a `Clock`, so tests can move time
//! (SMS code expiry, trials, token lifetimes) without sleeping.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use parking_lot::Mutex;
use std::sync::Arc;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC, truncated to microseconds (what both databases store).
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start.trunc_subsecs(6))))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        // Each reading moves one microsecond on, so rows written in one test keep their order.
        let mut now = self.0.lock();
        *now += Duration::microseconds(1);
        *now
    }
}
