//! Login throttling in Redis: one hash per key (`failures`, `pending`, `locked_until`),
//! each operation one Lua script run atomically by the server, on the server's clock
//! (`TIME`), so instances with skewed clocks share one budget. The rules are
//! `MemoryStore`'s (see `state/mod.rs`): a fixed window from the key's first attempt (the
//! key's expiry), `max_failures` failures plus pending reservations at most, then a
//! lockout (the key then expires with the lockout, so counting starts afresh).
//!
//! Arguments: `KEYS[1]` the hash; `ARGV` max failures, window ms, lockout ms.

use std::sync::LazyLock;

use redis::Script;

/// Returns `{granted (0/1), retry_after_ms}`; `retry_after_ms` is -1 when refused because
/// reservations in flight hold the budget.
pub(super) static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'failures', 'pending', 'locked_until')
local failures = tonumber(h[1]) or 0
local pending = tonumber(h[2]) or 0
local locked = tonumber(h[3]) or 0
if locked > now then return {0, locked - now} end
if failures + pending >= tonumber(ARGV[1]) then return {0, -1} end
redis.call('HINCRBY', KEYS[1], 'pending', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, 0}
",
    )
});

/// Settles one reservation as a failure; returns the lockout in ms (-1: not locked).
pub(super) static RECORD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked_until')) or 0
if tonumber(redis.call('HINCRBY', KEYS[1], 'pending', -1)) < 0 then
  redis.call('HSET', KEYS[1], 'pending', 0)
end
if locked > now then return locked - now end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'locked_until', now + tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return tonumber(ARGV[3])
end
return -1
",
    )
});

/// How long the key stays locked, in ms (-1: not locked).
pub(super) static LOCKED_FOR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked_until')) or 0
if locked > now then return locked - now end
return -1
",
    )
});

/// Gives back one reservation (never below zero; nothing for a key that is gone).
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('HINCRBY', KEYS[1], 'pending', -1)) < 0 then
  redis.call('HSET', KEYS[1], 'pending', 0)
end
return 0
",
    )
});

/// Forgets failures and lockout; pending reservations stay counted.
pub(super) static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'failures', 'locked_until')
return 0
",
    )
});
