//! Per-instance auth state behind one small interface: revoked token ids and login throttling.
//!
//! [`StateStore`] is what the request path sees; [`MemoryStore`] is today's implementation. A
//! store shared by several gateway instances (Redis) is meant to slot in behind the same trait
//! without touching the request path.
//!
//! # Sync and async
//!
//! - [`StateStore::is_revoked`] runs on *every* authenticated request, so it is a plain
//!   synchronous call that must answer from memory. A shared store keeps a local mirror of
//!   the revocation list (e.g. a `MemoryStore` fed by a pub/sub subscription plus a scan at
//!   start-up) and answers from it; a revocation made on another instance takes effect here
//!   when the message arrives (milliseconds), which is the price of never doing network I/O on
//!   the hot path.
//! - Everything else runs on login and logout only, where a shared store must do network I/O,
//!   so those methods return a boxed future ([`StoreFuture`]). The trait stays object-safe
//!   (`Arc<dyn StateStore>`) and the one allocation per login is noise next to a password
//!   hash. `MemoryStore` does its work when called and returns a future that is already
//!   complete.
//! - Fallible methods return [`StoreError`]; `MemoryStore` never fails.
//!
//! # Clocks
//!
//! Revocations expire at a token's `exp`, wall-clock time: [`SystemTime`]. Throttling
//! windows are durations on the caller's monotonic clock: [`Instant`] (a shared store would
//! use the server's key expiry instead). Every method takes `now` so tests never sleep.
//!
//! # Throttling
//!
//! Keys are a client IP ([`ThrottleKey::client_ip`]; IPv6 by /64, since one client usually
//! owns a whole /64) and, separately, a username ([`ThrottleKey::username`], known or not).
//! `max_failures` failures within `failure_window` of the first lock the key out for
//! `lockout` (a fixed window that starts at the first failure). The login handler asks
//! [`StateStore::locked_for`] before checking a password (429 + `Retry-After`), records a
//! failure after a wrong one, and on success clears the *username* key only: clearing the IP
//! key would let an attacker with one valid account reset their counter between guesses.
//!
//! # Bounded memory
//!
//! - Revocations: at most [`MAX_REVOCATIONS`] live entries; expired ones are dropped on each
//!   revoke. At the cap, the entry that expires soonest is dropped (with a warning): that
//!   token becomes usable again for the short time it had left.
//! - Throttling: at most [`MAX_THROTTLE_KEYS`] keys. At the cap, idle counters (window over,
//!   not locked) are swept; if still full, the oldest sixteenth is dropped, unlocked counters
//!   first, so a spray of random usernames can neither exhaust memory nor cheaply lift an
//!   active lockout.

use std::collections::{BTreeSet, HashMap};
use std::future::{Future, ready};
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;
use tracing::warn;

/// Most live revocations a [`MemoryStore`] keeps.
pub const MAX_REVOCATIONS: usize = 100_000;

/// Most throttling keys a [`MemoryStore`] tracks.
pub const MAX_THROTTLE_KEYS: usize = 100_000;

/// Usernames are cut to this many bytes in a throttle key, so a key's size is bounded.
pub const MAX_USERNAME_KEY_BYTES: usize = 128;

/// Lockouts longer than this are shortened to it (a year: "forever" for practical purposes).
const MAX_LOCKOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The future returned by the store's network-capable methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A shared store's backend failed (the in-memory store never fails).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend (e.g. Redis) could not be reached or answered with an error.
    #[error("state store backend failed")]
    BackendFailed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What login failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A client IP (IPv4, or the /64 of an IPv6 address).
    ClientIp(IpAddr),
    /// A username as typed at login, whether or not such a user exists.
    Username(String),
}

impl ThrottleKey {
    /// The key for a client IP: IPv4-mapped IPv6 becomes IPv4, other IPv6 is cut to its /64.
    pub fn client_ip(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::ClientIp(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                Self::ClientIp(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }

    /// The key for a username, cut to [`MAX_USERNAME_KEY_BYTES`] (on a character boundary).
    pub fn username(name: &str) -> Self {
        let mut end = name.len().min(MAX_USERNAME_KEY_BYTES);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        Self::Username(name.get(..end).unwrap_or_default().to_owned())
    }
}

/// The `[users]` throttling settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures within `failure_window` that lock a key (the config refuses 0; 0 acts as 1).
    pub max_failures: u32,
    /// Window, from a key's first failure, in which failures add up.
    pub failure_window: Duration,
    /// How long a key stays locked.
    pub lockout: Duration,
}

/// The per-instance (or shared) auth state. See the module docs for the sync/async split.
pub trait StateStore: Send + Sync {
    /// Is this token id revoked at `now`? Hot path: answers from memory, never blocks on I/O.
    fn is_revoked(&self, jti: &str, now: SystemTime) -> bool;

    /// Revokes `jti` until `until` (the token's `exp`); `now` lets the store drop expired
    /// entries.
    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        until: SystemTime,
        now: SystemTime,
    ) -> StoreFuture<'a, ()>;

    /// How long `key` stays locked out, if it is (for 429 + `Retry-After`).
    fn locked_for<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>>;

    /// Counts a failed login for `key`; returns the lockout when this failure locked the key
    /// (or it already was locked).
    fn record_failure<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>>;

    /// Forgets `key`'s failures (after a successful login: the username key only).
    fn clear_failures<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()>;
}

/// Revoked token ids, indexed both ways so expiry and eviction are cheap.
#[derive(Debug, Default)]
struct Revocations {
    until_by_jti: HashMap<Arc<str>, SystemTime>,
    /// Ordered by expiry: the first entry expires soonest.
    by_expiry: BTreeSet<(SystemTime, Arc<str>)>,
}

impl Revocations {
    fn remove_first(&mut self) {
        if let Some((_, jti)) = self.by_expiry.pop_first() {
            self.until_by_jti.remove(&jti);
        }
    }

    fn insert(&mut self, jti: &str, until: SystemTime, now: SystemTime, cap: usize) {
        while self
            .by_expiry
            .first()
            .is_some_and(|(expiry, _)| *expiry <= now)
        {
            self.remove_first();
        }
        if until <= now {
            return; // The token has expired already: nothing to revoke.
        }
        if let Some((jti, previous)) = self.until_by_jti.get_key_value(jti) {
            if *previous >= until {
                return;
            }
            let jti = Arc::clone(jti);
            self.by_expiry.remove(&(*previous, Arc::clone(&jti)));
            self.by_expiry.insert((until, Arc::clone(&jti)));
            self.until_by_jti.insert(jti, until);
            return;
        }
        if self.until_by_jti.len() >= cap.max(1) {
            warn!(
                cap,
                "revocation list full, dropping the entry that expires soonest"
            );
            self.remove_first();
        }
        let jti: Arc<str> = Arc::from(jti);
        self.by_expiry.insert((until, Arc::clone(&jti)));
        self.until_by_jti.insert(jti, until);
    }
}

/// One key's failure counter.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn remaining_lock(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }
}

/// In-process [`StateStore`]: a revocation list and failure counters, bounded in size.
#[derive(Debug)]
pub struct MemoryStore {
    settings: ThrottleSettings,
    max_revocations: usize,
    max_throttle_keys: usize,
    revocations: RwLock<Revocations>,
    failures: Mutex<HashMap<ThrottleKey, Failures>>,
}

impl MemoryStore {
    /// A store with the default caps ([`MAX_REVOCATIONS`], [`MAX_THROTTLE_KEYS`]).
    pub fn new(settings: ThrottleSettings) -> Self {
        Self::with_caps(settings, MAX_REVOCATIONS, MAX_THROTTLE_KEYS)
    }

    /// A store with explicit caps (each at least 1).
    pub fn with_caps(
        settings: ThrottleSettings,
        max_revocations: usize,
        max_throttle_keys: usize,
    ) -> Self {
        let settings = ThrottleSettings {
            max_failures: settings.max_failures.max(1),
            lockout: settings.lockout.min(MAX_LOCKOUT),
            ..settings
        };
        Self {
            settings,
            max_revocations: max_revocations.max(1),
            max_throttle_keys: max_throttle_keys.max(1),
            revocations: RwLock::default(),
            failures: Mutex::default(),
        }
    }

    /// Number of revocations held (expired ones not yet dropped included).
    pub fn revocation_count(&self) -> usize {
        let revocations = self
            .revocations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        revocations.until_by_jti.len()
    }

    /// Number of throttling keys tracked.
    pub fn throttle_key_count(&self) -> usize {
        self.failures_map().len()
    }

    // A panic while holding a lock cannot leave these maps in a state that is unsafe to
    // read, so a poisoned lock is simply used.
    fn failures_map(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Failures>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_idle(&self, failures: &Failures, now: Instant) -> bool {
        failures.remaining_lock(now).is_none()
            && now.saturating_duration_since(failures.window_start) >= self.settings.failure_window
    }

    /// Makes room for one more key: sweep idle counters, then drop the oldest sixteenth,
    /// unlocked before locked.
    fn make_room(&self, map: &mut HashMap<ThrottleKey, Failures>, now: Instant) {
        map.retain(|_, failures| !self.is_idle(failures, now));
        if map.len() < self.max_throttle_keys {
            return;
        }
        let evict = (self.max_throttle_keys / 16).max(1);
        let mut by_age: Vec<(bool, Instant, ThrottleKey)> = map
            .iter()
            .map(|(key, f)| (f.remaining_lock(now).is_some(), f.window_start, key.clone()))
            .collect();
        if evict < by_age.len() {
            by_age.select_nth_unstable_by_key(evict, |(locked, start, _)| (*locked, *start));
        }
        warn!(
            evicted = evict,
            "throttle table full, dropping the oldest counters"
        );
        for (_, _, key) in by_age.into_iter().take(evict) {
            map.remove(&key);
        }
    }

    fn count_failure(&self, key: &ThrottleKey, now: Instant) -> Option<Duration> {
        let mut map = self.failures_map();
        if let Some(left) = map.get(key).and_then(|f| f.remaining_lock(now)) {
            return Some(left);
        }
        if !map.contains_key(key) && map.len() >= self.max_throttle_keys {
            self.make_room(&mut map, now);
        }
        let fresh = Failures {
            count: 0,
            window_start: now,
            locked_until: None,
        };
        let is_idle = |f: &Failures| self.is_idle(f, now) || f.locked_until.is_some();
        let failures = map.entry(key.clone()).or_insert(fresh);
        if is_idle(failures) {
            *failures = fresh; // The window or a past lockout is over: start again.
        }
        failures.count += 1;
        if failures.count < self.settings.max_failures {
            return None;
        }
        let lockout = self.settings.lockout;
        *failures = Failures {
            locked_until: Some(now.checked_add(lockout).unwrap_or(now)),
            ..fresh
        };
        Some(lockout)
    }
}

impl StateStore for MemoryStore {
    fn is_revoked(&self, jti: &str, now: SystemTime) -> bool {
        let revocations = self
            .revocations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        revocations
            .until_by_jti
            .get(jti)
            .is_some_and(|until| *until > now)
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        until: SystemTime,
        now: SystemTime,
    ) -> StoreFuture<'a, ()> {
        let mut revocations = self
            .revocations
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        revocations.insert(jti, until, now, self.max_revocations);
        Box::pin(ready(Ok(())))
    }

    fn locked_for<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>> {
        let left = self
            .failures_map()
            .get(key)
            .and_then(|f| f.remaining_lock(now));
        Box::pin(ready(Ok(left)))
    }

    fn record_failure<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(ready(Ok(self.count_failure(key, now))))
    }

    fn clear_failures<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        self.failures_map().remove(key);
        Box::pin(ready(Ok(())))
    }
}

#[cfg(test)]
mod tests;
