//! The second factor's state in Redis, so that a sign-in begun on one instance can end on
//! another behind a balancer, and a code accepted on one is a replay on all:
//!
//! - a challenge is a string key `<prefix>challenge:<id>` holding its user, expiry and
//!   tries left, set with `NX` and a `PX` expiry, and taken with `GETDEL` (handed out once);
//! - the last accepted TOTP step of a user is `<prefix>totp:step:<user>`, raised by a
//!   compare-and-set script and kept a few minutes (an older step's code has expired anyway);
//! - spent recovery codes are a set `<prefix>totp:spent:<user>` of their hashes (`SADD`).
//!
//! The local mirror is written too, and a code must pass both: while Redis is unreachable
//! the mirror alone decides, and a step or code accepted then stays refused here after
//! Redis returns. A challenge made during an outage lives in the mirror and is found there.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use redis::Script;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::shared::Shared;
use super::wire::{Names, millis};
use crate::auth::state::{PendingChallenge, StateStore};

/// How long a user's last accepted step is kept: longer than a code stays valid (±1 step
/// of 30 s around its own).
const STEP_KEPT: Duration = Duration::from_secs(300);

/// Raises `KEYS[1]` to `ARGV[1]` when that is later than what it holds (1), else 0;
/// `ARGV[2]` is the key's expiry in ms.
static ACCEPT_STEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > last then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
",
    )
});

/// A challenge as stored in Redis.
#[derive(Debug, Serialize, Deserialize)]
struct StoredChallenge {
    /// The user.
    u: String,
    /// Expiry, unix milliseconds.
    x: u64,
    /// Tries left.
    a: u8,
}

impl Names {
    fn challenge(&self, id: &str) -> String {
        format!("{}challenge:{id}", self.prefix)
    }

    fn totp_step(&self, user: &str) -> String {
        format!("{}totp:step:{user}", self.prefix)
    }

    fn spent_codes(&self, user: &str) -> String {
        format!("{}totp:spent:{user}", self.prefix)
    }
}

impl Shared {
    /// Stores `pending` under `id` until it expires.
    pub(super) async fn put_challenge(
        &self,
        id: &str,
        pending: PendingChallenge,
        now: SystemTime,
    ) -> bool {
        let ttl = u64::try_from(
            pending
                .expires
                .duration_since(now)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        if ttl == 0 {
            return false;
        }
        let stored = StoredChallenge {
            u: pending.user.clone(),
            x: millis(pending.expires),
            a: pending.attempts_left,
        };
        let Ok(value) = serde_json::to_string(&stored) else {
            return false;
        };
        let key = self.names.challenge(id);
        let remote = self
            .command("second_factor", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await;
        match remote {
            Some(set) => set.is_some(),
            None => matches!(self.local.put_challenge(id, pending, now).await, Ok(true)),
        }
    }

    /// Takes the live challenge `id`, from Redis or (made during an outage) the mirror.
    pub(super) async fn take_challenge(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Option<PendingChallenge> {
        let key = self.names.challenge(id);
        let remote = self
            .command("second_factor", |mut conn| async move {
                redis::cmd("GETDEL")
                    .arg(key)
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await
            .flatten();
        if let Some(text) = remote {
            let Ok(stored) = serde_json::from_str::<StoredChallenge>(&text) else {
                warn!("ignoring a malformed challenge from redis");
                return None;
            };
            let expires = SystemTime::UNIX_EPOCH + Duration::from_millis(stored.x);
            return (expires > now).then_some(PendingChallenge {
                user: stored.u,
                expires,
                attempts_left: stored.a,
            });
        }
        self.local.take_challenge(id, now).await.ok().flatten()
    }

    /// Accepts `step` for `user` when it is later than the last one accepted, here and in
    /// Redis.
    pub(super) async fn accept_totp_step(&self, user: &str, step: u64) -> bool {
        let here = matches!(self.local.accept_totp_step(user, step).await, Ok(true));
        let key = self.names.totp_step(user);
        let kept = u64::try_from(STEP_KEPT.as_millis()).unwrap_or(u64::MAX);
        let shared = self
            .command("second_factor", |mut conn| async move {
                ACCEPT_STEP
                    .key(key)
                    .arg(step)
                    .arg(kept)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
        here && shared.is_none_or(|accepted| accepted == 1)
    }

    /// Marks `user`'s recovery code spent, here and in Redis: true only the first time.
    pub(super) async fn spend_recovery_code(&self, user: &str, code_hash: &str) -> bool {
        let here = matches!(
            self.local.spend_recovery_code(user, code_hash).await,
            Ok(true)
        );
        let key = self.names.spent_codes(user);
        let member = code_hash.to_owned();
        let shared = self
            .command("second_factor", |mut conn| async move {
                redis::cmd("SADD")
                    .arg(key)
                    .arg(member)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
        here && shared.is_none_or(|added| added == 1)
    }
}
