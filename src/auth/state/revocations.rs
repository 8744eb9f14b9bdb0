//! The revocation list of [`MemoryStore`](super::memory::MemoryStore): what was signed out, until
//! when, in a bounded amount of memory that never forgets a live revocation.
//!
//! Three kinds of entry ([`Revocation`]):
//! - a **session** (`sid`): every token renewed from one sign-in, until the session ends;
//! - a **token** (`jti`) that has no session (minted elsewhere), until its `exp`;
//! - a **user cutoff**: every token of one user whose sign-in (or, without a session, `iat`)
//!   is before an instant — "signed out everywhere".
//!
//! Bounds, by design rather than by eviction (dropping the entry that expires soonest let
//! any user un-revoke someone else's logout by renewing and logging out in a loop):
//! - one user's live session and token entries are at most [`PER_USER_CAP`]: the next
//!   revocation of that user collapses them into a cutoff at that instant (the user is
//!   signed out everywhere, which covers every collapsed entry);
//! - session and token entries together are at most `cap`: at the cap, a revocation
//!   collapses its user instead of adding an entry, and the store refuses new sessions
//!   ([`Revocations::is_full`]) until entries expire, so no new tokens appear that would need
//!   entries of their own;
//! - cutoffs are one per user at most, and only users who had sessions get one, so they are
//!   bounded by the sessions that existed before the list filled.
//!
//! Entries expire when nothing they cover can still be valid; expired ones are dropped on the
//! next revocation. Cutoffs are whole seconds, rounded up, because sign-in times are
//! (`auth_time`, `iat`): a token signed in during the cutoff's second is covered.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::warn;

/// Live session and token entries one user may have before they collapse into a cutoff.
pub const PER_USER_CAP: usize = 100;

/// What to revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation<'a> {
    /// One session of `user`, until `until` (when the session ends).
    Session {
        /// The session's user.
        user: &'a str,
        /// Its `sid`.
        sid: &'a str,
        /// When no token of it can be valid any more.
        until: SystemTime,
    },
    /// One token of `user` without a session, until `until` (its `exp`).
    Token {
        /// The token's user.
        user: &'a str,
        /// Its `jti`.
        jti: &'a str,
        /// Its `exp`.
        until: SystemTime,
    },
    /// Every token of `user` signed in before `before`, kept until `until`.
    User {
        /// The user.
        user: &'a str,
        /// The cutoff.
        before: SystemTime,
        /// When no token signed in before the cutoff can be valid any more.
        until: SystemTime,
    },
}

/// What the revocation check needs to know about a token.
#[derive(Debug, Clone, Copy)]
pub struct TokenRef<'a> {
    /// The user it names.
    pub user: &'a str,
    /// Its `jti`, if any.
    pub jti: Option<&'a str>,
    /// Its `sid`, if any.
    pub sid: Option<&'a str>,
    /// When its user signed in (`auth_time`, else `iat`), if known.
    pub signed_in: Option<SystemTime>,
}

/// Which map an entry is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Session(Arc<str>),
    Token(Arc<str>),
}

/// One live session or token entry.
#[derive(Debug)]
struct Entry {
    until: SystemTime,
    user: Arc<str>,
}

/// A user's "signed out everywhere" instant.
#[derive(Debug, Clone, Copy)]
struct Cutoff {
    before: SystemTime,
    until: SystemTime,
}

/// The list itself (see the module docs).
#[derive(Debug)]
pub(super) struct Revocations {
    cap: usize,
    entries: HashMap<Key, Entry>,
    /// Ordered by expiry: the first entry expires soonest.
    by_expiry: BTreeSet<(SystemTime, Key)>,
    /// Each user's live entries, for the per-user cap.
    by_user: HashMap<Arc<str>, HashSet<Key>>,
    cutoffs: HashMap<Arc<str>, Cutoff>,
}

impl Revocations {
    /// An empty list holding at most `cap` (at least 1) session and token entries.
    pub(super) fn new(cap: usize) -> Revocations {
        Revocations {
            cap: cap.max(1),
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
            by_user: HashMap::new(),
            cutoffs: HashMap::new(),
        }
    }

    /// Session and token entries held (expired ones not yet dropped included).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Users with a cutoff.
    pub(super) fn cutoff_count(&self) -> usize {
        self.cutoffs.len()
    }

    /// Whether the session and token entries are at the cap: new sessions are refused
    /// until some expire (expired entries are dropped first).
    pub(super) fn is_full(&mut self, now: SystemTime) -> bool {
        self.drop_expired(now);
        self.entries.len() >= self.cap
    }

    /// Whether `token` is revoked at `now`.
    pub(super) fn covers(&self, token: TokenRef<'_>, now: SystemTime) -> bool {
        let live = |key: Key| self.entries.get(&key).is_some_and(|e| e.until > now);
        if token.sid.is_some_and(|sid| live(Key::Session(sid.into())))
            || token.jti.is_some_and(|jti| live(Key::Token(jti.into())))
        {
            return true;
        }
        if self.cutoffs.is_empty() {
            return false;
        }
        self.cutoffs.get(token.user).is_some_and(|cutoff| {
            cutoff.until > now && token.signed_in.is_none_or(|at| at < cutoff.before)
        })
    }

    /// The user's cutoff, if one is live: a new session must start at or after it.
    pub(super) fn signed_out_before(&self, user: &str, now: SystemTime) -> Option<SystemTime> {
        self.cutoffs
            .get(user)
            .filter(|cutoff| cutoff.until > now)
            .map(|cutoff| cutoff.before)
    }

    /// Calls `f` with every live entry and cutoff: what a shared store re-writes when its
    /// backend lost them.
    pub(super) fn for_each_live(&self, now: SystemTime, mut f: impl FnMut(Revocation<'_>)) {
        for (key, entry) in self.entries.iter().filter(|(_, e)| e.until > now) {
            let (user, until) = (&*entry.user, entry.until);
            f(match key {
                Key::Session(sid) => Revocation::Session { user, sid, until },
                Key::Token(jti) => Revocation::Token { user, jti, until },
            });
        }
        for (user, cutoff) in self.cutoffs.iter().filter(|(_, c)| c.until > now) {
            f(Revocation::User {
                user,
                before: cutoff.before,
                until: cutoff.until,
            });
        }
    }

    /// Records `revocation` (see the module docs for when it becomes a cutoff).
    pub(super) fn insert(&mut self, revocation: Revocation<'_>, now: SystemTime) {
        self.drop_expired(now);
        let (user, key, until) = match revocation {
            Revocation::Session { user, sid, until } => (user, Key::Session(sid.into()), until),
            Revocation::Token { user, jti, until } => (user, Key::Token(jti.into()), until),
            Revocation::User {
                user,
                before,
                until,
            } => {
                self.cut_off(user, before, until);
                return;
            }
        };
        if until <= now {
            return; // Nothing it covers is valid any more.
        }
        if let Some(entry) = self.entries.get_mut(&key) {
            if entry.until < until {
                self.by_expiry.remove(&(entry.until, key.clone()));
                entry.until = until;
                self.by_expiry.insert((until, key));
            }
            return;
        }
        let user_entries = self.by_user.get(user).map_or(0, HashSet::len);
        if user_entries >= PER_USER_CAP || self.entries.len() >= self.cap {
            if self.entries.len() >= self.cap {
                warn!(
                    cap = self.cap,
                    "revocation list full: signing the user out everywhere; new sessions are refused until entries expire"
                );
            }
            self.cut_off(user, now, until);
            return;
        }
        let user: Arc<str> = user.into();
        self.by_user
            .entry(user.clone())
            .or_default()
            .insert(key.clone());
        self.by_expiry.insert((until, key.clone()));
        self.entries.insert(key, Entry { until, user });
    }

    /// Signs `user` out everywhere before `before` (rounded up to a whole second), for as
    /// long as the longest of `until` and the user's collapsed entries; the user's session
    /// and token entries are then covered and dropped.
    fn cut_off(&mut self, user: &str, before: SystemTime, until: SystemTime) {
        let before = whole_second_up(before);
        let keys = self.by_user.remove(user).unwrap_or_default();
        let mut until = until;
        for key in keys {
            if let Some(entry) = self.entries.remove(&key) {
                until = until.max(entry.until);
                self.by_expiry.remove(&(entry.until, key));
            }
        }
        let cutoff = self
            .cutoffs
            .entry(user.into())
            .or_insert(Cutoff { before, until });
        cutoff.before = cutoff.before.max(before);
        cutoff.until = cutoff.until.max(until);
    }

    fn drop_expired(&mut self, now: SystemTime) {
        while let Some((until, key)) = self.by_expiry.first().cloned() {
            if until > now {
                break;
            }
            self.by_expiry.pop_first();
            if let Some(entry) = self.entries.remove(&key)
                && let Some(keys) = self.by_user.get_mut(&entry.user)
            {
                keys.remove(&key);
                if keys.is_empty() {
                    self.by_user.remove(&entry.user);
                }
            }
        }
        self.cutoffs.retain(|_, cutoff| cutoff.until > now);
    }
}

/// `time` rounded up to a whole second since the epoch.
fn whole_second_up(time: SystemTime) -> SystemTime {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_secs(since.as_secs() + u64::from(since.subsec_nanos() > 0))
}
