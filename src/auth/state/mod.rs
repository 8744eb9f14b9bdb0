//! Per-instance auth state behind one small interface: revocations, login throttling, and
//! the second factor's state (pending challenges, the last TOTP step accepted per user, spent
//! recovery codes; see `second_factor.rs`).
//!
//! [`StateStore`] is what the request path sees; [`MemoryStore`] keeps everything in this
//! process (`[state] store = "memory"`), [`RedisStore`] shares it between instances through
//! Redis (`store = "redis"`, `redis/`), behind the same trait, without touching the request
//! path.
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
//! Revocations expire when nothing they cover can be valid, wall-clock time: [`SystemTime`]. Throttling
//! windows are durations on the caller's monotonic clock: [`Instant`] (a shared store would
//! use the server's key expiry instead). Every method takes `now` so tests never sleep.
//!
//! # Throttling
//!
//! Keys are a client IP ([`ThrottleKey::client_ip`]; IPv6 by /64, since one client usually
//! owns a whole /64), separately a username ([`ThrottleKey::username`], known or not), and
//! a device ([`ThrottleKey::device`]: a browser that holds a device cookie from an earlier
//! successful login, OWASP's "device cookies"). `max_failures` failures within
//! `failure_window` of the first lock the key out for `lockout` (a fixed window that starts
//! at the first failure).
//!
//! An attempt is counted *before* its password hash runs, so parallel attempts cannot
//! outrun the count: the sign-in (`auth/sign_in.rs`) [`reserve`](StateStore::reserve)s
//! every key of the attempt, and only then queues the hash. A key grants at most `max_failures` minus its
//! failures reservations at a time; beyond that, and while it is locked, the attempt is
//! refused at once (429 + `Retry-After`). When the hash has run, each reservation is settled:
//! a wrong password turns it into a failure ([`record_failure`](StateStore::record_failure)),
//! anything else gives it back ([`release`](StateStore::release)). A success also clears the
//! *username* (or device) key only: clearing the IP key would let an attacker with one valid
//! account reset their counter between guesses.
//!
//! Every throttling method is one atomic step on one key, so a shared store can implement
//! each as one server-side operation: in Redis, a hash per key (`failures`, `pending`,
//! `locked_until`) expiring with the window, `reserve` and `record_failure` as one `EVAL`
//! script each, `release` as `HINCRBY pending -1`. Pending reservations are part of that
//! key's state, so they expire with it if an instance dies while holding some.
//!
//! # Bounded memory
//!
//! - Revocations: at most [`MAX_REVOCATIONS`] session and token entries, and at most
//!   [`PER_USER_CAP`](revocations::PER_USER_CAP) per user; a live revocation is never dropped to make room: past a cap
//!   the user's entries collapse into a "signed out everywhere" cutoff, and at the global
//!   cap new sessions are refused ([`StateStore::accepts_new_sessions`]) until entries
//!   expire (see `revocations.rs`).
//! - Throttling: at most [`MAX_THROTTLE_KEYS`] keys. At the cap, idle counters (window over,
//!   not locked, no reservation pending) are swept; if still full, the oldest sixteenth is
//!   dropped, unlocked counters without pending reservations first, so a spray of random
//!   usernames can neither exhaust memory nor cheaply lift an active lockout. A key whose
//!   last reservation is given back with nothing else to remember is removed at once.

mod memory;
mod redis;
mod revocations;
mod second_factor;
mod throttle;

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;

pub use memory::MemoryStore;
pub use redis::{
    RedisCommandError, RedisStartError, RedisStore, probe as probe_redis,
    write_revocation as write_redis_revocation,
};
pub use revocations::{Revocation, TokenRef};
pub use second_factor::PendingChallenge;

/// Most live session and token revocations a [`MemoryStore`] keeps.
pub const MAX_REVOCATIONS: usize = 100_000;

/// Most throttling keys a [`MemoryStore`] tracks.
pub const MAX_THROTTLE_KEYS: usize = 100_000;

/// Usernames are cut to this many bytes in a throttle key, so a key's size is bounded.
pub const MAX_USERNAME_KEY_BYTES: usize = 128;

/// `Retry-After` of an attempt refused because the key's budget is taken by attempts still
/// being checked: they settle within a hash or two, and then the key is either locked (the
/// next attempt learns for how long) or free again.
pub const PENDING_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Lockouts longer than this are shortened to it (a year: "forever" for practical purposes).
pub(crate) const MAX_LOCKOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The future returned by the store's network-capable methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A shared store's backend failed (the in-memory store never fails).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend (e.g. Redis) could not be reached or answered with an error.
    #[error("state store backend failed")]
    BackendFailed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Whether the store's backend is in use, for `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreHealth {
    /// In use (always, for the in-memory store).
    Ready,
    /// Not reachable: local state is used meanwhile; the reason, for an operator.
    Degraded(String),
}

/// What login failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A client IP (IPv4, or the /64 of an IPv6 address).
    ClientIp(IpAddr),
    /// A username as typed at login, whether or not such a user exists.
    Username(String),
    /// A device cookie's id: attempts from a browser a user has signed in with before.
    Device(String),
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

    /// The key for a device cookie's id (already verified and bounded by its signature).
    pub fn device(id: &str) -> Self {
        Self::Device(id.to_owned())
    }
}

/// The answer of [`StateStore::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may run; it must be settled with `record_failure` or `release`.
    Granted,
    /// Locked out, or the key's budget is taken by attempts in flight: 429 + `Retry-After`.
    Refused {
        /// When to try again.
        retry_after: Duration,
    },
}

/// The per-instance (or shared) auth state. See the module docs for the sync/async split.
pub trait StateStore: Send + Sync {
    /// Is this token revoked at `now` — its session, its `jti`, or every token of its user
    /// signed in before a cutoff? Hot path: answers from memory, never blocks on I/O.
    fn is_revoked(&self, token: TokenRef<'_>, now: SystemTime) -> bool;

    /// Records `revocation`; `now` lets the store drop expired entries.
    fn revoke<'a>(&'a self, revocation: Revocation<'a>, now: SystemTime) -> StoreFuture<'a, ()>;

    /// The instant before which `user` was signed out everywhere, if such a cutoff is live:
    /// a new session of the user must not start before it.
    fn signed_out_before(&self, user: &str, now: SystemTime) -> Option<SystemTime>;

    /// Whether a new session may start: false while the revocation list is full, since
    /// its tokens could not be revoked one by one.
    fn accepts_new_sessions(&self, now: SystemTime) -> bool;

    /// Whether the backend is in use (`/readyz`); the in-memory store always is.
    fn health(&self) -> StoreHealth {
        StoreHealth::Ready
    }

    /// How long `key` stays locked out, if it is (for 429 + `Retry-After`).
    fn locked_for<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>>;

    /// Counts an attempt for `key` before its password is checked: granted while the key is
    /// not locked and its failures plus reservations are below `max_failures`.
    fn reserve<'a>(&'a self, key: &'a ThrottleKey, now: Instant) -> StoreFuture<'a, Reservation>;

    /// Counts a failed login for `key`, settling one reservation of it (if one is pending);
    /// returns the lockout when this failure locked the key (or it already was locked).
    fn record_failure<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>>;

    /// Gives back a reservation of `key` whose attempt did not fail (success, or no check).
    fn release<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()>;

    /// Forgets `key`'s failures and lockout (after a successful login: the username or
    /// device key only); reservations still pending stay counted.
    fn clear_failures<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()>;

    /// Stores a second-factor challenge under `id` until `pending.expires`; false when the
    /// store has no room (the sign-in is then refused as busy).
    fn put_challenge<'a>(
        &'a self,
        id: &'a str,
        pending: PendingChallenge,
        now: SystemTime,
    ) -> StoreFuture<'a, bool>;

    /// Removes and returns the live challenge `id`: each challenge is handed out once.
    fn take_challenge<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, Option<PendingChallenge>>;

    /// Records TOTP `step` as `user`'s last accepted one when it is later than the last
    /// (true), or refuses it (false): the same code, or an earlier step's, is a replay.
    fn accept_totp_step<'a>(&'a self, user: &'a str, step: u64) -> StoreFuture<'a, bool>;

    /// Marks `user`'s recovery code (named by its stored hash) spent: true the first time.
    fn spend_recovery_code<'a>(
        &'a self,
        user: &'a str,
        code_hash: &'a str,
    ) -> StoreFuture<'a, bool>;
}

#[cfg(test)]
mod tests;
