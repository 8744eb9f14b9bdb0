//! [`PasswordChecker`]: the one way the request path checks a password — queued fairly and
//! bounded (`queue.rs`), then run on a hash worker with its argon2 memory (`workers.rs`).

use std::sync::Arc;

use super::password::memory::HashMemory;
use super::password::{CredentialsError, MAX_PASSWORD_BYTES};
use super::{User, Users};
use crate::auth::state::ThrottleKey;
use queue::{FairQueue, QueueFull};
use workers::HashWorkers;

mod queue;
mod workers;

/// Checks waiting for a worker, at most, across all clients (beyond: 503).
pub const MAX_QUEUED_CHECKS: usize = 256;

/// Checks waiting for a worker, at most, from one client address (beyond: 429). The
/// throttle's reservations usually bound a client lower (`max_failures`); this holds also
/// for a large `max_failures` and for attempts keyed by device.
pub const MAX_QUEUED_CHECKS_PER_CLIENT: usize = 8;

/// Runs password checks on the hash workers ([`run_check`]), at most `max_concurrent` at a
/// time and at a lower priority than the async workers (`SCHED_IDLE`, see
/// `lower_this_threads_priority`).
///
/// A login burst then queues here instead of occupying the async workers that proxy traffic.
/// The queue is bounded ([`MAX_QUEUED_CHECKS`], [`MAX_QUEUED_CHECKS_PER_CLIENT`]; beyond,
/// [`CredentialsError::QueueFull`] / [`CredentialsError::ClientQueueFull`] without hashing)
/// and fair: one client address never takes every worker (with two or more), and a free
/// worker goes to the address served least recently, so one address's flood does not hold
/// up another address's sign-in (see `queue.rs`).
/// It takes the users per call (rather than holding them) so that a reload (SIGHUP) can swap
/// the users file while one queue keeps bounding the checks of that generation.
#[derive(Clone, Debug)]
pub struct PasswordChecker {
    pub(super) queue: FairQueue<ThrottleKey>,
}

impl PasswordChecker {
    /// A checker running at most `max_concurrent` checks at once (at least 1), with the
    /// default queue bounds.
    pub fn new(max_concurrent: usize) -> Self {
        Self::with_queue(
            max_concurrent,
            MAX_QUEUED_CHECKS,
            MAX_QUEUED_CHECKS_PER_CLIENT,
        )
    }

    /// A checker with explicit bounds: running, waiting overall, waiting per client.
    pub fn with_queue(max_concurrent: usize, max_waiting: usize, per_client: usize) -> Self {
        Self {
            queue: FairQueue::new(max_concurrent, max_waiting, per_client),
        }
    }

    /// A checker bounded by the number of CPUs available to the process.
    pub fn with_available_parallelism() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
    }

    /// [`PasswordChecker::verify_from`] for a check that speaks for no client in particular.
    ///
    /// # Errors
    ///
    /// As [`PasswordChecker::verify_from`].
    #[cfg(test)]
    pub async fn verify(
        &self,
        users: Arc<Users>,
        name: String,
        password: String,
    ) -> Result<User, CredentialsError> {
        let anyone = ThrottleKey::Username(String::new());
        self.verify_from(anyone, users, name, password).await
    }

    /// [`Users::verify_password`] on a hash worker, queued fairly by `client` (the client
    /// address's throttle key); returns a copy of the user.
    ///
    /// # Errors
    ///
    /// As [`Users::verify_password`], plus [`CredentialsError::ClientQueueFull`] and
    /// [`CredentialsError::QueueFull`] (nothing hashed), and those of [`run_check`].
    pub async fn verify_from(
        &self,
        client: ThrottleKey,
        users: Arc<Users>,
        name: String,
        password: String,
    ) -> Result<User, CredentialsError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CredentialsError::PasswordTooLong);
        }
        let ticket = self.queue.acquire(client).map_err(|full| match full {
            QueueFull::Client => CredentialsError::ClientQueueFull,
            QueueFull::Everyone => CredentialsError::QueueFull,
        })?;
        let permit = ticket.wait().await.ok_or(CredentialsError::QueueFull)?;
        // The permit moves into the job: if the caller goes away (client disconnect), the
        // worker stays taken until the hash has actually finished.
        run_check(move |memory| {
            let _permit = permit;
            users.verify_password_in(memory, &name, &password).cloned()
        })
        .await?
    }
}

impl PasswordChecker {
    /// [`Users::verify_recovery_code_in`] on a hash worker, queued fairly by `client` like
    /// a password check.
    ///
    /// # Errors
    /// As [`PasswordChecker::verify_from`].
    pub async fn verify_recovery_code_from(
        &self,
        client: ThrottleKey,
        users: Arc<Users>,
        name: String,
        code: String,
    ) -> Result<Option<String>, CredentialsError> {
        if code.len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        let ticket = self.queue.acquire(client).map_err(|full| match full {
            QueueFull::Client => CredentialsError::ClientQueueFull,
            QueueFull::Everyone => CredentialsError::QueueFull,
        })?;
        let permit = ticket.wait().await.ok_or(CredentialsError::QueueFull)?;
        run_check(move |memory| {
            let _permit = permit;
            users.verify_recovery_code_in(memory, &name, &code)
        })
        .await?
    }
}

/// Runs `check` on one of the process's hash workers (one thread per CPU, under
/// `SCHED_IDLE`) with that worker's argon2 memory, and returns its result.
///
/// # Errors
///
/// [`CredentialsError::CheckTaskFailed`] when the check panicked,
/// [`CredentialsError::NoHashWorkers`] when no worker thread could be started.
pub(super) async fn run_check<T, F>(check: F) -> Result<T, CredentialsError>
where
    T: Send + 'static,
    F: FnOnce(&mut HashMemory) -> T + Send + 'static,
{
    let workers = HashWorkers::shared().ok_or(CredentialsError::NoHashWorkers)?;
    workers.run(check).await
}

#[cfg(test)]
mod tests;
