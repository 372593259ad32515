//! The job runner: background work as rows of the `jobs` table, modelled on crates.io's
//! `crates_io_worker`. A job is enqueued in the transaction of the change that calls for it
//! (`enqueue`, inside any `Db::write`), so it exists exactly when the change commits. A
//! worker claims one due job by taking a lease on it in one statement (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), runs it outside any transaction, then deletes it or writes back
//! its failure: queued again after an exponential back-off, or dead with its last error once
//! its tries are spent. A worker that dies mid-job leaves its lease behind; when the lease
//! has passed, any worker runs the job again. Periodic jobs are enqueued by whichever worker
//! first moves their schedule on, so any number of workers enqueue one job per period.
//!
//! Any number of workers in any number of processes share one queue: nothing lives only in
//! a process's memory. Due times and back-off come from the injectable `Clock`; leases,
//! which bound how long a run really takes, from the wall clock.

mod job;
mod runner;
pub mod storage;

pub use job::{Backoff, Job, JobError, JobRun};
pub use runner::{Outcome, Ran, RunHandle, Runner, RunnerConfig, Waker};
pub use storage::{JobRecord, JobStatus, Lease, enqueue, enqueue_job, list};
