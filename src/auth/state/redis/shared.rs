//! What the Redis store's handle and its client thread share: the local mirror, the
//! connection, whether Redis is in use and why not, and the one way throttling commands run
//! (with a timeout, falling back to the mirror's counters).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::Notify;
use tracing::warn;

use super::super::MAX_LOCKOUT;
use super::super::memory::MemoryStore;
use super::wire::Names;
use crate::auth::state::ThrottleKey;
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

    /// Runs `op` on Redis under [`COMMAND_TIMEOUT`]; `None` when Redis is not in use, or
    /// when the command fails or times out (logged, and counted as an error of `kind`).
    pub(super) async fn command<T, F, Fut>(&self, kind: &'static str, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection()?;
        let error = match tokio::time::timeout(COMMAND_TIMEOUT, op(conn)).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        warn!(kind, %error, "redis command failed, using local state");
        self.metrics.store().error(kind);
        None
    }

    /// Runs the throttling `script` on `key`'s hash (with the limits — max failures,
    /// window ms, lockout ms — as arguments when `limits`); `None` when it did not run on
    /// Redis, which is counted: the caller then uses the local counters.
    pub(super) async fn throttle_script<T: redis::FromRedisValue>(
        &self,
        script: &'static Script,
        key: &ThrottleKey,
        limits: bool,
    ) -> Option<T> {
        let name = self.names.throttle(key);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        let (max, window, lockout) = (
            self.throttle.max_failures.max(1),
            ms(self.throttle.failure_window),
            ms(self.throttle.lockout.min(MAX_LOCKOUT)),
        );
        let outcome = self
            .command("throttle", |mut conn| async move {
                let mut call = script.key(name);
                if limits {
                    call.arg(max).arg(window).arg(lockout);
                }
                call.invoke_async::<T>(&mut conn).await
            })
            .await;
        if outcome.is_none() {
            self.metrics.store().throttle_fallback();
        }
        outcome
    }
}

/// A server answer in milliseconds (negative: none) as a duration.
pub(super) fn positive_ms(ms: i64) -> Option<Duration> {
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}
