//! [`MemoryStore`]: the in-process [`StateStore`], a revocation list and failure counters
//! behind locks, bounded in size. Every method does its work when called and returns a
//! future that is already complete.

use std::future::ready;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::revocations::{Revocation, Revocations, TokenRef};
use super::second_factor::{MAX_CHALLENGES, PendingChallenge, SecondFactorState};
use super::throttle::Throttle;
use super::{
    MAX_LOCKOUT, MAX_REVOCATIONS, MAX_THROTTLE_KEYS, Reservation, StateStore, StoreFuture,
    ThrottleKey,
};
use crate::config::ThrottleSettings;

/// In-process [`StateStore`]: a revocation list and failure counters, bounded in size.
#[derive(Debug)]
pub struct MemoryStore {
    revocations: RwLock<Revocations>,
    throttle: Throttle,
    second_factor: SecondFactorState,
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
            revocations: RwLock::new(Revocations::new(max_revocations)),
            throttle: Throttle::new(settings, max_throttle_keys.max(1)),
            second_factor: SecondFactorState::new(MAX_CHALLENGES),
        }
    }

    /// Session and token revocations held (expired ones not yet dropped included).
    pub fn revocation_count(&self) -> usize {
        self.read_revocations().len()
    }

    /// Users with a "signed out everywhere" cutoff.
    pub fn cutoff_count(&self) -> usize {
        self.read_revocations().cutoff_count()
    }

    fn read_revocations(&self) -> std::sync::RwLockReadGuard<'_, Revocations> {
        self.revocations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Second-factor challenges pending (expired ones not yet dropped included).
    pub fn challenge_count(&self) -> usize {
        self.second_factor.challenge_count()
    }

    /// Calls `f` with every live revocation (for a shared store's re-write).
    pub(super) fn for_each_revocation(&self, now: SystemTime, f: impl FnMut(Revocation<'_>)) {
        self.read_revocations().for_each_live(now, f);
    }

    /// Number of throttling keys tracked.
    pub fn throttle_key_count(&self) -> usize {
        self.throttle.key_count()
    }
}

impl StateStore for MemoryStore {
    fn is_revoked(&self, token: TokenRef<'_>, now: SystemTime) -> bool {
        self.read_revocations().covers(token, now)
    }

    fn revoke<'a>(&'a self, revocation: Revocation<'a>, now: SystemTime) -> StoreFuture<'a, ()> {
        self.revocations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(revocation, now);
        Box::pin(ready(Ok(())))
    }

    fn signed_out_before(&self, user: &str, now: SystemTime) -> Option<SystemTime> {
        self.read_revocations().signed_out_before(user, now)
    }

    fn accepts_new_sessions(&self, now: SystemTime) -> bool {
        !self
            .revocations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .is_full(now)
    }

    fn locked_for<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(ready(Ok(self.throttle.locked_for(key, now))))
    }

    fn reserve<'a>(&'a self, key: &'a ThrottleKey, now: Instant) -> StoreFuture<'a, Reservation> {
        Box::pin(ready(Ok(self.throttle.reserve(key, now))))
    }

    fn record_failure<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: Instant,
    ) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(ready(Ok(self.throttle.record_failure(key, now))))
    }

    fn release<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        self.throttle.release(key);
        Box::pin(ready(Ok(())))
    }

    fn clear_failures<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        self.throttle.clear(key);
        Box::pin(ready(Ok(())))
    }

    fn put_challenge<'a>(
        &'a self,
        id: &'a str,
        pending: PendingChallenge,
        now: SystemTime,
    ) -> StoreFuture<'a, bool> {
        Box::pin(ready(Ok(self.second_factor.put(id, pending, now))))
    }

    fn take_challenge<'a>(
        &'a self,
        id: &'a str,
        now: SystemTime,
    ) -> StoreFuture<'a, Option<PendingChallenge>> {
        Box::pin(ready(Ok(self.second_factor.take(id, now))))
    }

    fn accept_totp_step<'a>(&'a self, user: &'a str, step: u64) -> StoreFuture<'a, bool> {
        Box::pin(ready(Ok(self.second_factor.accept_step(user, step))))
    }

    fn spend_recovery_code<'a>(
        &'a self,
        user: &'a str,
        code_hash: &'a str,
    ) -> StoreFuture<'a, bool> {
        Box::pin(ready(Ok(self.second_factor.spend(user, code_hash))))
    }
}
