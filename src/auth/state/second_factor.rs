//! The second factor's state in memory: pending sign-in challenges (each handed out once),
//! the last TOTP step accepted per user (a code is accepted once), and the recovery codes
//! spent. Each operation is one step under one lock, as a shared store would make it one
//! server-side operation (Redis: `SET NX PX` + `GETDEL` for challenges, a compare-and-set
//! script for the step, `SADD` for a spent code).
//!
//! Bounded: at most [`MAX_CHALLENGES`] challenges (expired ones are swept when full; still
//! full → refused, so a flood of right passwords cannot grow memory). Steps and spent codes
//! are only ever recorded after a correct code, so only users of the file with a second
//! factor have entries.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// Most challenges pending at once.
pub const MAX_CHALLENGES: usize = 100_000;

/// What a challenge stands for: a user whose password was right, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    /// The user (NFC name) the password step signed in.
    pub user: String,
    /// When the challenge stops being accepted.
    pub expires: SystemTime,
    /// Wrong codes still allowed on this sign-in before the password is asked again.
    pub attempts_left: u8,
}

#[derive(Debug, Default)]
pub(super) struct SecondFactorState {
    challenges: Mutex<HashMap<String, PendingChallenge>>,
    /// user → the last step accepted.
    steps: Mutex<HashMap<String, u64>>,
    /// (user, recovery code hash) spent.
    spent: Mutex<HashSet<(String, String)>>,
    max_challenges: usize,
}

impl SecondFactorState {
    pub(super) fn new(max_challenges: usize) -> Self {
        Self {
            max_challenges: max_challenges.max(1),
            ..Self::default()
        }
    }

    /// Stores a challenge; false when the store is full of live ones.
    pub(super) fn put(&self, id: &str, pending: PendingChallenge, now: SystemTime) -> bool {
        let mut challenges = self
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if challenges.len() >= self.max_challenges {
            challenges.retain(|_, c| c.expires > now);
            if challenges.len() >= self.max_challenges {
                return false;
            }
        }
        challenges.insert(id.to_owned(), pending);
        true
    }

    /// Removes and returns a live challenge: each is handed out once.
    pub(super) fn take(&self, id: &str, now: SystemTime) -> Option<PendingChallenge> {
        let taken = self
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)?;
        (taken.expires > now).then_some(taken)
    }

    /// Records `step` as `user`'s last accepted step, if it is later than the last one.
    pub(super) fn accept_step(&self, user: &str, step: u64) -> bool {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        match steps.get_mut(user) {
            Some(last) if *last >= step => false,
            Some(last) => {
                *last = step;
                true
            }
            None => {
                steps.insert(user.to_owned(), step);
                true
            }
        }
    }

    /// Records a recovery code as spent; false if it already was.
    pub(super) fn spend(&self, user: &str, code_hash: &str) -> bool {
        self.spent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((user.to_owned(), code_hash.to_owned()))
    }

    pub(super) fn challenge_count(&self) -> usize {
        self.challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{PendingChallenge, SecondFactorState};

    fn pending(expires: u64) -> PendingChallenge {
        PendingChallenge {
            user: "alice".to_owned(),
            expires: UNIX_EPOCH + Duration::from_secs(expires),
            attempts_left: 2,
        }
    }

    #[test]
    fn a_challenge_is_handed_out_once_and_not_after_it_expired() {
        let state = SecondFactorState::new(10);
        let now = UNIX_EPOCH + Duration::from_secs(100);
        assert!(state.put("a", pending(400), now));
        assert_eq!(state.take("a", now), Some(pending(400)));
        assert_eq!(state.take("a", now), None, "single use");
        assert!(state.put("b", pending(400), now));
        assert_eq!(
            state.take("b", UNIX_EPOCH + Duration::from_secs(400)),
            None,
            "expired"
        );
        assert_eq!(state.take("never", now), None);
    }

    #[test]
    fn a_full_store_sweeps_expired_challenges_then_refuses() {
        let state = SecondFactorState::new(2);
        let now = UNIX_EPOCH + Duration::from_secs(100);
        assert!(state.put("old", pending(50), now));
        assert!(state.put("a", pending(400), now));
        assert!(
            state.put("b", pending(400), now),
            "the expired one made room"
        );
        assert!(!state.put("c", pending(400), now), "full of live ones");
        assert_eq!(state.challenge_count(), 2);
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one() {
        let state = SecondFactorState::new(1);
        assert!(state.accept_step("alice", 10));
        assert!(!state.accept_step("alice", 10), "replay");
        assert!(!state.accept_step("alice", 9), "earlier step");
        assert!(state.accept_step("bob", 10), "per user");
        assert!(state.accept_step("alice", 11));
    }

    #[test]
    fn a_recovery_code_is_spent_once_per_user() {
        let state = SecondFactorState::new(1);
        assert!(state.spend("alice", "$h1"));
        assert!(!state.spend("alice", "$h1"));
        assert!(state.spend("alice", "$h2"));
        assert!(state.spend("bob", "$h1"));
    }
}
