//! Password hashes are slow and large on purpose (argon2id: 19 MiB and tens of
//! milliseconds each), so an unauthenticated flood of password logins must not run them
//! all at once. A process runs at most `limits.password_hashes` of them, on threads of
//! their own (so at most that many threads ever hold a hash's memory), and lets at most
//! `limits.password_hash_queue` more logins wait; any login beyond that is refused with 503
//! and `Retry-After` at once, before it costs a database read. This bound is per process:
//! it protects the memory of the node that would do the hashing.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use baoxiu_core::DomainError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::problem::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// The password-hash threads of a process, and who may use them.
#[derive(Clone)]
pub struct PasswordHashing {
    /// One permit per login that may be running or waiting for a hash.
    admission: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHashing")
            .field("free", &self.admission.available_permits())
            .finish()
    }
}

impl PasswordHashing {
    /// Starts `threads` hash threads; `threads + queue` logins may hold a place at once.
    /// The threads end when the last handle is dropped.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking hash loses its answer (the caller gets 500),
                            // not the thread.
                            Ok(job) => drop(std::panic::catch_unwind(AssertUnwindSafe(job))),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self {
            admission: Arc::new(Semaphore::new(threads + queue)),
            jobs,
        })
    }

    /// A place for one password login, or 503 `service-unavailable` with `Retry-After` at once. Take it
    /// before the login's first database read: a refused login costs nothing.
    pub fn try_admit(&self) -> Result<HashPlace, ApiError> {
        let place = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy())?;
        Ok(HashPlace {
            place,
            jobs: self.jobs.clone(),
        })
    }
}

fn busy() -> ApiError {
    ApiError::unavailable(
        "too many password logins are being checked at once; try again in a second",
    )
    .with_retry_after(1)
}

/// A login's place among those that may hash; freed when its hash has run.
pub struct HashPlace {
    place: OwnedSemaphorePermit,
    jobs: mpsc::Sender<Job>,
}

impl HashPlace {
    /// Runs `work` (the hash) on a hash thread. The place goes with the work, so it is
    /// freed when the hash ends, even if the client has gone away meanwhile.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let place = self.place;
        self.jobs
            .send(Box::new(move || {
                let _place = place;
                let _ = answer.send(work());
            }))
            .map_err(|_| DomainError::Internal("the password hash threads have stopped".into()))?;
        answered
            .await
            .map_err(|_| DomainError::Internal("a password hash failed".into()).into())
    }
}
