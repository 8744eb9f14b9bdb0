//! The throttling counters of [`MemoryStore`](super::memory::MemoryStore): one [`Failures`] per
//! key, bounded in number (see the parent module's docs for the rules and the bounds).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing::warn;

use super::{PENDING_RETRY_AFTER, Reservation, ThrottleKey};
use crate::config::ThrottleSettings;

/// One key's failure counter.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    /// Reservations granted and not yet settled: attempts whose hash is queued or running.
    pending: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn is_empty(&self) -> bool {
        self.count == 0 && self.pending == 0 && self.locked_until.is_none()
    }

    fn remaining_lock(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }
}

/// Every key's counter.
#[derive(Debug)]
pub(super) struct Throttle {
    settings: ThrottleSettings,
    max_keys: usize,
    failures: Mutex<HashMap<ThrottleKey, Failures>>,
}

impl Throttle {
    pub(super) fn new(settings: ThrottleSettings, max_keys: usize) -> Self {
        Self {
            settings,
            max_keys,
            failures: Mutex::default(),
        }
    }

    pub(super) fn key_count(&self) -> usize {
        self.failures_map().len()
    }

    pub(super) fn locked_for(&self, key: &ThrottleKey, now: Instant) -> Option<Duration> {
        self.failures_map()
            .get(key)
            .and_then(|f| f.remaining_lock(now))
    }

    pub(super) fn release(&self, key: &ThrottleKey) {
        self.settle(key, |f| f.pending = f.pending.saturating_sub(1));
    }

    pub(super) fn clear(&self, key: &ThrottleKey) {
        self.settle(key, |f| {
            f.count = 0;
            f.locked_until = None;
        });
    }

    // A panic while holding a lock cannot leave these maps in a state that is unsafe to
    // read, so a poisoned lock is simply used.
    fn failures_map(&self) -> MutexGuard<'_, HashMap<ThrottleKey, Failures>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Nothing to remember: no lock, the window is over, no reservation pending.
    fn is_idle(&self, failures: &Failures, now: Instant) -> bool {
        failures.pending == 0 && self.is_over(failures, now)
    }

    /// The window or a past lockout is over, so counting starts again (reservations aside).
    fn is_over(&self, failures: &Failures, now: Instant) -> bool {
        let window_over =
            now.saturating_duration_since(failures.window_start) >= self.settings.failure_window;
        match failures.remaining_lock(now) {
            Some(_) => false,
            None => window_over || failures.locked_until.is_some(),
        }
    }

    /// Makes room for one more key: sweep idle counters, then drop the oldest sixteenth,
    /// unlocked before locked.
    fn make_room(&self, map: &mut HashMap<ThrottleKey, Failures>, now: Instant) {
        map.retain(|_, failures| !self.is_idle(failures, now));
        if map.len() < self.max_keys {
            return;
        }
        let evict = (self.max_keys / 16).max(1);
        let mut by_age: Vec<(bool, Instant, ThrottleKey)> = map
            .iter()
            .map(|(key, f)| {
                let holds = f.remaining_lock(now).is_some() || f.pending > 0;
                (holds, f.window_start, key.clone())
            })
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

    /// The counter of `key`, created (making room at the cap) if absent, and started
    /// again when its window or lockout is over (pending reservations are kept).
    fn counter<'m>(
        &self,
        map: &'m mut HashMap<ThrottleKey, Failures>,
        key: &ThrottleKey,
        now: Instant,
    ) -> &'m mut Failures {
        if !map.contains_key(key) && map.len() >= self.max_keys {
            self.make_room(map, now);
        }
        let fresh = Failures {
            count: 0,
            pending: 0,
            window_start: now,
            locked_until: None,
        };
        let failures = map.entry(key.clone()).or_insert(fresh);
        if self.is_over(failures, now) {
            *failures = Failures {
                pending: failures.pending,
                ..fresh
            };
        }
        failures
    }

    pub(super) fn reserve(&self, key: &ThrottleKey, now: Instant) -> Reservation {
        let mut map = self.failures_map();
        if let Some(retry_after) = map.get(key).and_then(|f| f.remaining_lock(now)) {
            return Reservation::Refused { retry_after };
        }
        let failures = self.counter(&mut map, key, now);
        if failures.count.saturating_add(failures.pending) >= self.settings.max_failures {
            return Reservation::Refused {
                retry_after: PENDING_RETRY_AFTER,
            };
        }
        failures.pending += 1;
        Reservation::Granted
    }

    pub(super) fn record_failure(&self, key: &ThrottleKey, now: Instant) -> Option<Duration> {
        let mut map = self.failures_map();
        let failures = self.counter(&mut map, key, now);
        failures.pending = failures.pending.saturating_sub(1);
        if let Some(left) = failures.remaining_lock(now) {
            return Some(left);
        }
        failures.count += 1;
        if failures.count < self.settings.max_failures {
            return None;
        }
        let lockout = self.settings.lockout;
        *failures = Failures {
            count: 0,
            pending: failures.pending,
            window_start: now,
            locked_until: Some(now.checked_add(lockout).unwrap_or(now)),
        };
        Some(lockout)
    }

    /// Applies `change` to `key`'s counter, if it has one, and drops the counter when
    /// nothing is left to remember.
    fn settle(&self, key: &ThrottleKey, change: impl FnOnce(&mut Failures)) {
        let mut map = self.failures_map();
        if let Some(failures) = map.get_mut(key) {
            change(failures);
            if failures.is_empty() {
                map.remove(key);
            }
        }
    }
}
