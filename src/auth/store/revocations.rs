//! The revocation list of [`MemoryStore`](super::MemoryStore): revoked token ids indexed both
//! ways (by id, and by expiry), so expiry and eviction at the cap are cheap.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::warn;

/// Revoked token ids, indexed both ways so expiry and eviction are cheap.
#[derive(Debug, Default)]
pub(super) struct Revocations {
    pub(super) until_by_jti: HashMap<Arc<str>, SystemTime>,
    /// Ordered by expiry: the first entry expires soonest.
    by_expiry: BTreeSet<(SystemTime, Arc<str>)>,
}

impl Revocations {
    fn remove_first(&mut self) {
        if let Some((_, jti)) = self.by_expiry.pop_first() {
            self.until_by_jti.remove(&jti);
        }
    }

    pub(super) fn insert(&mut self, jti: &str, until: SystemTime, now: SystemTime, cap: usize) {
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
