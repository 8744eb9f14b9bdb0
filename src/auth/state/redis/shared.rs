//! What the Redis store's handle and its client thread share: the local mirror, the
//! connection, whether Redis is in use and why not, and the one way throttling commands run
//! (with a timeout, falling back to the mirror's counters).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::Notify;
use tracing::warn;

use super::super::MAX_LOCKOUT;
use super::super::memory::MemoryStore;
use super::wire::Names;
use crate::config::ThrottleSettings;
use crate::metrics::Metrics;

/// How long one Redis command may take before the store falls back (throttling) or leaves
/// the write to the next re-sync (revocations).
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// State shared by the store's handle and its subscriber thread.
pub(super) struct Shared {
    pub(super) local: MemoryStore,
    pub(super) names: Names,
    pub(super) throttle: ThrottleSettings,
    /// Set once by the client thread (the manager needs a runtime to be built in).
    pub(super) conn: OnceLock<ConnectionManager>,
    /// The subscription is live and the set was loaded: Redis is in use.
    pub(super) up: AtomicBool,
    /// Why Redis is not in use, for `/readyz`.
    pub(super) reason: Mutex<String>,
    /// A write failed while the subscription looked live: re-sync soon.
    pub(super) dirty: Notify,
    pub(super) metrics: Arc<Metrics>,
}

impl Shared {
    pub(super) fn connection(&self) -> Option<ConnectionManager> {
        if !self.up.load(Ordering::Acquire) {
            return None;
        }
        self.conn.get().cloned()
    }

    /// Runs `op` on Redis; when Redis is not in use or the command fails, counts it and
    /// returns `None` so that the caller uses the local counters.
    pub(super) async fn throttle_op<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let outcome = match self.connection() {
            None => None,
            Some(conn) => match tokio::time::timeout(COMMAND_TIMEOUT, op(conn)).await {
                Ok(Ok(value)) => Some(value),
                Ok(Err(e)) => {
                    warn!(error = %e, "redis throttling command failed, using local counters");
                    self.metrics.store().error("throttle");
                    None
                }
                Err(_) => {
                    warn!("redis throttling command timed out, using local counters");
                    self.metrics.store().error("throttle");
                    None
                }
            },
        };
        if outcome.is_none() {
            self.metrics.store().throttle_fallback();
        }
        outcome
    }

    pub(super) fn throttle_args(&self) -> (u32, u64, u64) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        (
            self.throttle.max_failures.max(1),
            ms(self.throttle.failure_window),
            ms(self.throttle.lockout.min(MAX_LOCKOUT)),
        )
    }
}

/// A server answer in milliseconds (negative: none) as a duration.
pub(super) fn positive_ms(ms: i64) -> Option<Duration> {
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}
