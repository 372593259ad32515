//! A record of the SQL statements a `Db` runs, for tests that pin what a request does
//! (how many statements, and which). Off unless a test turns it on; while off it costs one
//! relaxed atomic load per statement.

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use parking_lot::Mutex;

/// The statements of one database, as SQL text without their bound values.
#[derive(Debug, Default)]
pub struct StatementLog {
    recording: AtomicBool,
    statements: Mutex<Vec<String>>,
}

impl StatementLog {
    /// Forgets what was recorded and records from now on.
    pub fn start(&self) {
        self.statements.lock().clear();
        self.recording.store(true, Ordering::SeqCst);
    }

    /// Stops recording; answers what was recorded since `start`, in order.
    pub fn stop(&self) -> Vec<String> {
        self.recording.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.statements.lock())
    }

    fn record(&self, query: &dyn std::fmt::Display) {
        if !self.recording.load(Ordering::Relaxed) {
            return;
        }
        let text = query.to_string();
        // Bound values differ between calls that run the same statement.
        let sql = text
            .split_once(" -- binds: ")
            .map_or(text.as_str(), |(sql, _)| sql);
        self.statements.lock().push(sql.trim().to_owned());
    }
}

/// What a pooled connection reports its statements to.
pub(crate) fn instrumentation(log: std::sync::Arc<StatementLog>) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            log.record(query);
        }
    }
}
