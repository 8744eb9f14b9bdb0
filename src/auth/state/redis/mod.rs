//! [`RedisStore`]: the [`StateStore`] shared by every instance through one Redis.
//!
//! - **Revocations** live in a sorted set (`<prefix>revocations`, scored by expiry) and are
//!   published on a channel of the same name. Each instance keeps a local mirror (a
//!   [`MemoryStore`]) that answers [`StateStore::is_revoked`] with no network I/O; the
//!   subscriber task (`sync.rs`) feeds it from the channel, and after every (re)connect loads
//!   the whole set into it and writes back what Redis lacks (a Redis that restarted empty,
//!   or logouts made while it was unreachable). The mirror only ever grows by Redis: a
//!   revocation is never lost, and an entry leaves it only when it expires.
//! - **Logout** is written to the mirror first (it takes effect here at once), then to Redis;
//!   a write that fails is retried by the next re-sync, and the logout still succeeds.
//! - **Throttling** is one atomic Lua script per operation on one hash per key
//!   (`scripts.rs`), on the server's clock. While Redis is unreachable the mirror's own
//!   counters are used instead (logged, counted in `/metrics`).
//! - **The second factor's state** (challenges, the last TOTP step, spent recovery codes)
//!   is in Redis too (`second_factor.rs`), so a sign-in may end on another instance.
//!
//! The client (`redis` crate, multiplexed `ConnectionManager`: one connection, reconnected
//! by the crate) and the subscriber run on a thread of their own, so they outlive no
//! worker runtime and every worker can use them; dropping the store stops that thread.

mod direct;
mod scripts;
mod second_factor;
mod shared;
mod sync;
mod wire;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;
use tokio::sync::{Notify, watch};

pub use self::direct::{RedisCommandError, probe, write_revocation};
use self::shared::{Shared, positive_ms};
use self::wire::{Names, Record};
use super::memory::MemoryStore;
use super::revocations::{Revocation, TokenRef};
use super::{
    PENDING_RETRY_AFTER, PendingChallenge, Reservation, StateStore, StoreFuture, StoreHealth,
    ThrottleKey,
};
use crate::config::{RedisSettings, ThrottleSettings};
use crate::metrics::Metrics;

/// Why the Redis store could not be set up (an unreachable Redis is not one of them: the
/// gateway starts and retries).
#[derive(Debug, Error)]
pub enum RedisStartError {
    /// `redis_password_file` could not be read.
    #[error("cannot read redis_password_file {path} ({at})")]
    PasswordFile {
        /// The file.
        path: std::path::PathBuf,
        /// Where the config names it.
        at: crate::config::Location,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The URL was refused by the client.
    #[error("cannot use redis_url {url}")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// The client's reason.
        #[source]
        source: redis::RedisError,
    },
    /// The client thread could not be started.
    #[error("cannot start the redis client thread")]
    Thread(#[source] std::io::Error),
}

/// The Redis-backed [`StateStore`] (see the module docs).
pub struct RedisStore {
    shared: Arc<Shared>,
    /// Dropped with the store: the client thread sees it and stops.
    _stop: watch::Sender<()>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.shared.names.revocations)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Starts the client thread and returns at once: Redis being down is reported by
    /// [`StateStore::health`] and retried with backoff, not an error.
    ///
    /// # Errors
    /// The password file cannot be read, the URL is refused, or no thread can start.
    pub fn start(
        settings: &RedisSettings,
        throttle: ThrottleSettings,
        metrics: Arc<Metrics>,
    ) -> Result<RedisStore, RedisStartError> {
        let client = client(settings)?;
        let shared = Arc::new(Shared {
            local: MemoryStore::new(throttle),
            names: Names::new(&settings.key_prefix),
            throttle,
            conn: OnceLock::new(),
            up: AtomicBool::new(false),
            reason: Mutex::new("connecting to redis".to_owned()),
            dirty: Notify::new(),
            metrics,
        });
        let (stop, stopped) = watch::channel(());
        sync::spawn(shared.clone(), client, stopped).map_err(RedisStartError::Thread)?;
        Ok(RedisStore {
            shared,
            _stop: stop,
        })
    }
}

/// The client for `settings`, with the password file's content when one is named.
///
/// # Errors
/// As [`RedisStore::start`].
pub fn client(settings: &RedisSettings) -> Result<redis::Client, RedisStartError> {
    let url_error = |source| RedisStartError::Url {
        url: settings.url.redacted(),
        source,
    };
    let mut info = redis::IntoConnectionInfo::into_connection_info(settings.url.expose())
        .map_err(url_error)?;
    if let Some(file) = &settings.password_file {
        let text = std::fs::read_to_string(&file.value).map_err(|source| {
            RedisStartError::PasswordFile {
                path: file.value.clone(),
                at: file.at.clone(),
                source,
            }
        })?;
        let redis = info.redis_settings().clone().set_password(text.trim());
        info = info.set_redis_settings(redis);
    }
    redis::Client::open(info).map_err(url_error)
}

impl StateStore for RedisStore {
    fn is_revoked(&self, token: TokenRef<'_>, now: SystemTime) -> bool {
        self.shared.local.is_revoked(token, now)
    }

    fn revoke<'a>(&'a self, revocation: Revocation<'a>, now: SystemTime) -> StoreFuture<'a, ()> {
        // The mirror first: the logout takes effect here at once, whatever Redis does.
        // (`MemoryStore` does its work when called; its future is already complete.)
        drop(self.shared.local.revoke(revocation, now));
        let record = Record::from_revocation(revocation);
        Box::pin(async move {
            if record.expires_ms() > wire::millis(now) {
                sync::publish(&self.shared, &record).await;
            }
            Ok(())
        })
    }

    fn signed_out_before(&self, user: &str, now: SystemTime) -> Option<SystemTime> {
        self.shared.local.signed_out_before(user, now)
    }

    fn accepts_new_sessions(&self, now: SystemTime) -> bool {
        self.shared.local.accepts_new_sessions(now)
    }

    fn locked_for<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let remote = self
                .shared
                .throttle_script::<i64>(&scripts::LOCKED_FOR, key, false);
            match remote.await {
                Some(ms) => Ok(positive_ms(ms)),
                None => self.shared.local.locked_for(key, now).await,
            }
        })
    }

    fn reserve<'a>(&'a self, key: &'a ThrottleKey, now: Instant) -> StoreFuture<'a, Reservation> {
        Box::pin(async move {
            let remote = self
                .shared
                .throttle_script::<(i64, i64)>(&scripts::RESERVE, key, true);
            match remote.await {
                Some((1, _)) => Ok(Reservation::Granted),
                Some((_, retry)) => Ok(Reservation::Refused {
                    retry_after: positive_ms(retry).unwrap_or(PENDING_RETRY_AFTER),
                }),
                None => self.shared.local.reserve(key, now).await,
            }
        })
    }

    fn record_failure<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let remote = self
                .shared
                .throttle_script::<i64>(&scripts::RECORD_FAILURE, key, true);
            match remote.await {
                Some(ms) => Ok(positive_ms(ms)),
                None => self.shared.local.record_failure(key, now).await,
            }
        })
    }

    fn release<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // Whatever Redis says, give back a local reservation too: one may have been
            // granted while Redis was away.
            let _: Option<i64> = self
                .shared
                .throttle_script(&scripts::RELEASE, key, false)
                .await;
            self.shared.local.release(key).await
        })
    }

    fn clear_failures<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: Option<i64> = self
                .shared
                .throttle_script(&scripts::CLEAR, key, false)
                .await;
            self.shared.local.clear_failures(key).await
        })
    }

    fn put_challenge<'a>(
        &'a self,
        id: &'a str,
        pending: PendingChallenge,
        now: SystemTime,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.shared.put_challenge(id, pending, now).await) })
    }

    fn take_challenge<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, Option<PendingChallenge>> {
        Box::pin(async move { Ok(self.shared.take_challenge(id, now).await) })
    }

    fn accept_totp_step<'a>(&'a self, user: &'a str, step: u64) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.shared.accept_totp_step(user, step).await) })
    }

    fn spend_recovery_code<'a>(
        &'a self,
        user: &'a str,
        code_hash: &'a str,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.shared.spend_recovery_code(user, code_hash).await) })
    }

    fn health(&self) -> StoreHealth {
        if self.shared.up.load(Ordering::Acquire) {
            StoreHealth::Ready
        } else {
            StoreHealth::Degraded(
                self.shared
                    .reason
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::positive_ms;
    use std::time::Duration;

    #[test]
    fn server_durations_below_one_ms_mean_none() {
        assert_eq!(positive_ms(-1), None);
        assert_eq!(positive_ms(0), None);
        assert_eq!(positive_ms(1500), Some(Duration::from_millis(1500)));
    }
}
