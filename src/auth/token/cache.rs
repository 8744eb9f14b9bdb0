//! A bounded cache of verified tokens, so a busy client does not pay a signature check on
//! every request.
//!
//! - Key: the SHA-256 of the token string. A 64-bit hash would let an attacker search for a
//!   token colliding with a victim's; SHA-256 cannot be collided, and keeping 32 bytes rather
//!   than the token (up to 8 KiB) bounds memory at about `capacity × 300` bytes.
//! - Value: the [`VerifiedToken`], shared as an `Arc` so a hit clones a pointer.
//! - An entry is returned only while `now < exp` (the token's own `exp`, without leeway), so
//!   the cache never extends a token's life; in the leeway window tokens are re-verified.
//!   Only verified tokens are inserted, so `nbf`/`iat` cannot become invalid later.
//! - Bounded: the capacity is split over up to [`SHARDS`] `std::sync::Mutex`-guarded maps
//!   (no async locks: critical sections are a map lookup). When a shard is full, expired
//!   entries go first; if it is still full, an arbitrary half is dropped (`HashMap`
//!   iteration order is randomly seeded). Capacity 0 disables caching.
//!
//! It deliberately knows nothing about revocation or the users file: the caller checks the
//! token's `jti` and user *after* the cache, on every request, hit or miss.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use aws_lc_rs::digest::{SHA256, digest};

use super::MAX_TOKEN_BYTES;
use super::claims::VerifiedToken;
use super::error::TokenError;
use super::keys::TokenKeys;

/// Number of independently locked maps (fewer when the capacity is smaller).
const SHARDS: usize = 16;

type TokenDigest = [u8; 32];
type Shard = HashMap<TokenDigest, Arc<VerifiedToken>>;

/// Verified tokens by SHA-256 of the token; safe to share between tasks and threads.
pub(crate) struct TokenCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl std::fmt::Debug for TokenCache {
    /// Counts only: the entries name users and are keyed by token hashes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (0: caching disabled).
    pub(crate) fn new(capacity: usize) -> Self {
        let shards = SHARDS.min(capacity);
        let per_shard = capacity.checked_div(shards).unwrap_or(0);
        let shards = (0..shards).map(|_| Mutex::new(HashMap::new())).collect();
        Self { shards, per_shard }
    }

    /// The most entries this cache holds.
    pub(crate) fn capacity(&self) -> usize {
        self.shards.len() * self.per_shard
    }

    /// The number of entries, expired ones included until they are evicted.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Returns the cached verification of `token` while `now` is before its `exp`.
    pub(crate) fn get(&self, token: &str, now: SystemTime) -> Option<Arc<VerifiedToken>> {
        let key = token_digest(token);
        let mut shard = lock(self.shard(&key)?);
        match shard.get(&key) {
            Some(hit) if now < hit.exp => Some(Arc::clone(hit)),
            Some(_) => {
                shard.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers that `token` verified; ignored when it is already expired at `now`.
    pub(crate) fn insert(&self, token: &str, verified: Arc<VerifiedToken>, now: SystemTime) {
        if now >= verified.exp {
            return;
        }
        let key = token_digest(token);
        let Some(shard) = self.shard(&key) else {
            return;
        };
        let mut shard = lock(shard);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, entry| now < entry.exp);
            if shard.len() >= self.per_shard {
                let mut keep = true; // the first entry goes: keeps floor(len / 2)
                shard.retain(|_, _| {
                    keep = !keep;
                    keep
                });
            }
        }
        shard.insert(key, verified);
    }

    /// Returns the cached verification, or verifies with `keys` and caches the result.
    ///
    /// # Errors
    /// The [`TokenError`] from [`TokenKeys::verify`]; failures are not cached.
    pub(crate) fn verify(
        &self,
        keys: &TokenKeys,
        token: &str,
        now: SystemTime,
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge); // not worth hashing
        }
        if let Some(hit) = self.get(token, now) {
            return Ok(hit);
        }
        let verified = Arc::new(keys.verify(token, now)?);
        self.insert(token, Arc::clone(&verified), now);
        Ok(verified)
    }

    fn shard(&self, key: &TokenDigest) -> Option<&Mutex<Shard>> {
        let index = usize::from(key[0]).checked_rem(self.shards.len())?;
        self.shards.get(index)
    }
}

fn token_digest(token: &str) -> TokenDigest {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref()); // always 32 bytes
    key
}

/// A poisoned shard only means another thread panicked mid-insert; its map is still a
/// valid map, so keep using it rather than propagating the panic to every request.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use jsonwebtoken::Algorithm;

    use super::super::keys::TokenSettings;
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn verified(user: &str, exp: u64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            identity: crate::identity::Identity {
                user: user.to_owned(),
                groups: Vec::new(),
                email: None,
            },
            jti: None,
            session: None,
            exp: at(exp),
            amr: Vec::new(),
            issuer: None,
        })
    }

    fn keys() -> TokenKeys {
        let settings = TokenSettings {
            algorithm: Algorithm::HS256,
            issuer: "https://auth.example.com".to_owned(),
            audience: Vec::new(),
            leeway: Duration::from_secs(30),
            token_ttl: Duration::from_secs(60),
            user_claim: "sub".to_owned(),
        };
        TokenKeys::from_secret(settings, b"test-only-secret-0123456789abcdef").expect("keys")
    }

    #[test]
    fn hit_returns_the_cached_verification_without_verifying_again() {
        let cache = TokenCache::new(100);
        // Not a JWT at all: only a cache hit can return it.
        cache.insert("opaque", verified("alice", T0 + 60), at(T0));
        assert_eq!(
            cache
                .get("opaque", at(T0))
                .map(|v| v.identity.user.clone())
                .as_deref(),
            Some("alice")
        );
        assert!(cache.get("other", at(T0)).is_none());

        let keys = keys();
        let token = keys
            .issue("bob", &[], None, Duration::from_secs(60), at(T0))
            .expect("issue");
        let first = cache.verify(&keys, &token, at(T0)).expect("valid");
        let second = cache.verify(&keys, &token, at(T0 + 1)).expect("cached");
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn entry_never_outlives_the_token_exp() {
        let cache = TokenCache::new(100);
        cache.insert("t", verified("alice", T0 + 10), at(T0));
        assert!(cache.get("t", at(T0 + 9)).is_some());
        assert!(cache.get("t", at(T0 + 10)).is_none());
        assert_eq!(cache.len(), 0, "the expired entry is dropped");
        cache.insert("late", verified("alice", T0), at(T0));
        assert_eq!(cache.len(), 0, "an expired verification is not stored");
    }

    #[test]
    fn token_in_its_leeway_window_is_verified_again_not_cached() {
        let (cache, keys) = (TokenCache::new(100), keys());
        let token = keys
            .issue("bob", &[], None, Duration::from_secs(60), at(T0))
            .expect("issue");
        cache.verify(&keys, &token, at(T0)).expect("valid");
        assert_eq!(
            cache
                .verify(&keys, &token, at(T0 + 70))
                .expect("leeway")
                .identity
                .user,
            "bob"
        );
        assert_eq!(cache.len(), 0);
        let expired = cache
            .verify(&keys, &token, at(T0 + 91))
            .expect_err("expired");
        assert_eq!(expired.reason(), "expired");
    }

    #[test]
    fn failures_are_not_cached() {
        let (cache, keys) = (TokenCache::new(100), keys());
        assert!(cache.verify(&keys, "a.b.c", at(T0)).is_err());
        assert_eq!(cache.len(), 0);
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            cache
                .verify(&keys, &huge, at(T0))
                .map(|_| ())
                .map_err(|e| e.reason()),
            Err("too_large")
        );
    }

    #[test]
    fn capacity_is_bounded() {
        for capacity in [1, 3, 16, 100, 1000] {
            let cache = TokenCache::new(capacity);
            for i in 0..5 * capacity {
                let token = format!("token-{i}");
                cache.insert(&token, verified("alice", T0 + 60), at(T0));
                assert!(cache.len() <= capacity, "{capacity}: {}", cache.len());
                assert!(
                    cache.get(&token, at(T0)).is_some(),
                    "the newest entry is kept"
                );
            }
            assert!(cache.capacity() <= capacity);
        }
    }

    #[test]
    fn capacity_zero_disables_caching() {
        let cache = TokenCache::new(0);
        cache.insert("t", verified("alice", T0 + 60), at(T0));
        assert!(cache.get("t", at(T0)).is_none());
        assert_eq!((cache.len(), cache.capacity()), (0, 0));
    }

    #[test]
    fn keys_and_cache_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<TokenKeys>();
        shared::<TokenCache>();
    }

    #[test]
    fn cache_is_safe_to_share_between_threads() {
        let cache = TokenCache::new(256);
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let cache = &cache;
                scope.spawn(move || {
                    for i in 0..2000 {
                        let token = format!("token-{}", (thread * 7 + i) % 500);
                        if cache.get(&token, at(T0)).is_none() {
                            cache.insert(&token, verified("alice", T0 + 60), at(T0));
                        }
                    }
                });
            }
        });
        assert!(cache.len() <= 256);
    }
}
