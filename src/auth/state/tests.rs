//! Tests of `store`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use super::revocations::PER_USER_CAP;
use super::{
    MAX_USERNAME_KEY_BYTES, MemoryStore, PENDING_RETRY_AFTER, Reservation, Revocation, StateStore,
    StoreFuture, ThrottleKey, TokenRef,
};
use crate::config::ThrottleSettings;

const MINUTE: Duration = Duration::from_secs(60);

fn settings() -> ThrottleSettings {
    ThrottleSettings {
        max_failures: 3,
        failure_window: 5 * MINUTE,
        lockout: 10 * MINUTE,
    }
}

/// The memory store's futures are complete when returned: poll once, without a runtime.
fn done<T>(mut future: StoreFuture<'_, T>) -> T {
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result.expect("memory store never fails"),
        Poll::Pending => panic!("memory store future was not ready"),
    }
}

fn epoch(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn user(name: &str) -> ThrottleKey {
    ThrottleKey::username(name)
}

fn token<'a>(user: &'a str, jti: &'a str, until: u64) -> Revocation<'a> {
    Revocation::Token {
        user,
        jti,
        until: epoch(until),
    }
}

fn session<'a>(user: &'a str, sid: &'a str, until: u64) -> Revocation<'a> {
    Revocation::Session {
        user,
        sid,
        until: epoch(until),
    }
}

/// A token of `user` with this `jti` and no session.
fn bare<'a>(user: &'a str, jti: &'a str) -> TokenRef<'a> {
    TokenRef {
        user,
        jti: Some(jti),
        sid: None,
        signed_in: None,
    }
}

/// A token of `user`'s session `sid`, signed in at `signed_in` (seconds), with its own jti.
fn in_session<'a>(user: &'a str, sid: &'a str, signed_in: u64) -> TokenRef<'a> {
    TokenRef {
        user,
        jti: Some("another-jti"),
        sid: Some(sid),
        signed_in: Some(epoch(signed_in)),
    }
}

#[test]
fn a_revoked_jti_is_revoked_until_its_expiry() {
    let store = MemoryStore::new(settings());
    done(store.revoke(token("alice", "jti-1", 1000), epoch(100)));
    assert!(store.is_revoked(bare("alice", "jti-1"), epoch(100)));
    assert!(store.is_revoked(bare("alice", "jti-1"), epoch(999)));
    assert!(!store.is_revoked(bare("alice", "jti-1"), epoch(1000)));
    assert!(!store.is_revoked(bare("alice", "jti-2"), epoch(100)));
}

#[test]
fn a_revoked_session_covers_every_token_renewed_from_it() {
    let store = MemoryStore::new(settings());
    done(store.revoke(session("alice", "s-1", 1000), epoch(100)));
    assert!(store.is_revoked(in_session("alice", "s-1", 90), epoch(500)));
    assert!(
        !store.is_revoked(in_session("alice", "s-2", 90), epoch(500)),
        "another sign-in"
    );
    assert!(
        !store.is_revoked(in_session("alice", "s-1", 90), epoch(1000)),
        "ended"
    );
}

#[test]
fn expired_revocations_are_purged_on_the_next_revoke() {
    let store = MemoryStore::new(settings());
    done(store.revoke(token("u", "a", 200), epoch(100)));
    done(store.revoke(session("u", "b", 300), epoch(100)));
    assert_eq!(store.revocation_count(), 2);
    done(store.revoke(token("u", "c", 900), epoch(250)));
    assert_eq!(
        store.revocation_count(),
        2,
        "a expired at 200 and was purged"
    );
    assert!(store.is_revoked(in_session("u", "b", 0), epoch(250)));
}

#[test]
fn revoking_an_already_expired_token_stores_nothing() {
    let store = MemoryStore::new(settings());
    done(store.revoke(token("u", "old", 50), epoch(100)));
    assert_eq!(store.revocation_count(), 0);
}

#[test]
fn revoking_twice_keeps_the_later_expiry() {
    let store = MemoryStore::new(settings());
    done(store.revoke(token("u", "j", 500), epoch(0)));
    done(store.revoke(token("u", "j", 300), epoch(0)));
    assert!(store.is_revoked(bare("u", "j"), epoch(400)));
    done(store.revoke(token("u", "j", 800), epoch(0)));
    assert!(store.is_revoked(bare("u", "j"), epoch(700)));
    assert_eq!(store.revocation_count(), 1);
    done(store.revoke(token("u", "k", 900), epoch(801)));
    assert_eq!(
        store.revocation_count(),
        1,
        "the single j entry expired at 800"
    );
}

/// The attack the old eviction allowed: one user fills the list (renew, log out, repeat)
/// until someone else's revocation is dropped. Now the flooding user collapses into a
/// cutoff at 100 entries and every other revocation stays.
#[test]
fn one_user_logging_out_in_a_loop_never_un_revokes_another() {
    let store = MemoryStore::with_caps(settings(), 1000, 10);
    done(store.revoke(session("bob", "bob-1", 10_000), epoch(0)));
    let sids: Vec<String> = (0..5000).map(|n| format!("mallory-{n}")).collect();
    for sid in &sids {
        done(store.revoke(session("mallory", sid, 10_000), epoch(100)));
    }
    assert!(store.is_revoked(in_session("bob", "bob-1", 0), epoch(100)));
    assert!(
        store.revocation_count() <= PER_USER_CAP + 1,
        "{}",
        store.revocation_count()
    );
    assert_eq!(store.cutoff_count(), 1);
    for sid in &sids {
        assert!(
            store.is_revoked(in_session("mallory", sid, 99), epoch(100)),
            "{sid}"
        );
    }
    assert!(store.accepts_new_sessions(epoch(100)));
}

#[test]
fn past_the_per_user_cap_the_user_is_signed_out_everywhere() {
    let store = MemoryStore::new(settings());
    let sids: Vec<String> = (0..=PER_USER_CAP).map(|n| format!("s-{n}")).collect();
    for sid in &sids {
        done(store.revoke(
            session("alice", sid, 5000),
            SystemTime::UNIX_EPOCH + Duration::from_millis(100_500),
        ));
    }
    assert_eq!(store.revocation_count(), 0, "collapsed into one cutoff");
    assert_eq!(store.cutoff_count(), 1);
    // The cutoff is 100.5 s rounded up: sessions signed in at or before 100 s are covered,
    // including one never revoked, and one signed in at 101 s is not.
    assert!(store.is_revoked(in_session("alice", "s-0", 100), epoch(200)));
    assert!(store.is_revoked(in_session("alice", "never-revoked", 100), epoch(200)));
    assert!(!store.is_revoked(in_session("alice", "later", 101), epoch(200)));
    assert!(
        store.is_revoked(bare("alice", "no-session"), epoch(200)),
        "no sign-in time"
    );
    assert_eq!(
        store.signed_out_before("alice", epoch(200)),
        Some(epoch(101))
    );
    assert_eq!(store.signed_out_before("bob", epoch(200)), None);
    // It lasts as long as the longest entry it replaced.
    assert!(store.is_revoked(in_session("alice", "s-0", 100), epoch(4999)));
    assert!(!store.is_revoked(in_session("alice", "s-0", 100), epoch(5000)));
}

#[test]
fn at_the_global_cap_revocations_collapse_and_new_sessions_are_refused() {
    let store = MemoryStore::with_caps(settings(), 3, 10);
    for (user, sid) in [("a", "a-1"), ("b", "b-1"), ("c", "c-1")] {
        done(store.revoke(session(user, sid, 900), epoch(0)));
    }
    assert!(!store.accepts_new_sessions(epoch(10)), "full");
    done(store.revoke(session("d", "d-1", 700), epoch(10)));
    assert_eq!(
        store.revocation_count(),
        3,
        "d became a cutoff, not an entry"
    );
    for (user, sid) in [("a", "a-1"), ("b", "b-1"), ("c", "c-1"), ("d", "d-1")] {
        assert!(
            store.is_revoked(in_session(user, sid, 0), epoch(50)),
            "{sid}"
        );
    }
    assert!(store.accepts_new_sessions(epoch(900)), "entries expired");
}
#[test]
fn failures_below_the_limit_do_not_lock() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    assert_eq!(done(store.record_failure(&user("alice"), t0)), None);
    assert_eq!(
        done(store.record_failure(&user("alice"), t0 + MINUTE)),
        None
    );
    assert_eq!(done(store.locked_for(&user("alice"), t0 + MINUTE)), None);
}

#[test]
fn max_failures_within_the_window_lock_the_key_for_the_lockout() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    done(store.record_failure(&key, t0));
    done(store.record_failure(&key, t0 + MINUTE));
    assert_eq!(
        done(store.record_failure(&key, t0 + 2 * MINUTE)),
        Some(10 * MINUTE)
    );
    assert_eq!(
        done(store.locked_for(&key, t0 + 2 * MINUTE)),
        Some(10 * MINUTE)
    );
    assert_eq!(
        done(store.locked_for(&key, t0 + 5 * MINUTE)),
        Some(7 * MINUTE)
    );
    assert_eq!(done(store.locked_for(&key, t0 + 12 * MINUTE)), None);
    assert_eq!(done(store.locked_for(&user("bob"), t0 + 2 * MINUTE)), None);
}

#[test]
fn failures_while_locked_do_not_extend_the_lockout() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    for _ in 0..3 {
        done(store.record_failure(&key, t0));
    }
    assert_eq!(
        done(store.record_failure(&key, t0 + MINUTE)),
        Some(9 * MINUTE)
    );
    assert_eq!(done(store.locked_for(&key, t0 + MINUTE)), Some(9 * MINUTE));
}

#[test]
fn counting_starts_again_after_a_lockout_ends() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    for _ in 0..3 {
        done(store.record_failure(&key, t0));
    }
    let after = t0 + 11 * MINUTE;
    assert_eq!(done(store.record_failure(&key, after)), None);
    assert_eq!(done(store.record_failure(&key, after)), None);
    assert!(done(store.record_failure(&key, after)).is_some());
}

#[test]
fn failures_outside_the_window_do_not_add_up() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    done(store.record_failure(&key, t0));
    done(store.record_failure(&key, t0 + MINUTE));
    assert_eq!(
        done(store.record_failure(&key, t0 + 5 * MINUTE)),
        None,
        "new window"
    );
    assert_eq!(done(store.record_failure(&key, t0 + 6 * MINUTE)), None);
    assert!(done(store.record_failure(&key, t0 + 7 * MINUTE)).is_some());
}

#[test]
fn clearing_failures_resets_the_count() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    done(store.record_failure(&key, t0));
    done(store.record_failure(&key, t0));
    done(store.clear_failures(&key));
    assert_eq!(done(store.record_failure(&key, t0)), None);
    assert_eq!(store.throttle_key_count(), 1);
}

#[test]
fn ip_and_username_keys_are_counted_separately() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let ip = ThrottleKey::client_ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
    for name in ["a", "b", "c"] {
        assert_eq!(done(store.record_failure(&user(name), t0)), None);
    }
    for _ in 0..2 {
        done(store.record_failure(&ip, t0));
    }
    assert!(done(store.record_failure(&ip, t0)).is_some());
    assert_eq!(done(store.locked_for(&user("a"), t0)), None);
}

#[test]
fn ipv6_clients_are_keyed_by_their_64_prefix_and_mapped_ipv4_by_ipv4() {
    let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
    let b: Ipv6Addr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
    let other: Ipv6Addr = "2001:db8:1:3::1".parse().expect("ip");
    let key = |ip: Ipv6Addr| ThrottleKey::client_ip(IpAddr::V6(ip));
    assert_eq!(key(a), key(b));
    assert_ne!(key(a), key(other));
    let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().expect("ip");
    assert_eq!(
        key(mapped),
        ThrottleKey::client_ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
    );
}

#[test]
fn long_usernames_are_cut_on_a_character_boundary() {
    let long = "é".repeat(MAX_USERNAME_KEY_BYTES);
    let ThrottleKey::Username(cut) = ThrottleKey::username(&long) else {
        panic!("username key");
    };
    assert!(cut.len() <= MAX_USERNAME_KEY_BYTES && cut.len() >= MAX_USERNAME_KEY_BYTES - 1);
    assert!(long.starts_with(&cut));
}

#[test]
fn a_spray_of_usernames_stays_within_the_key_cap() {
    let store = MemoryStore::with_caps(settings(), 10, 32);
    let t0 = Instant::now();
    for i in 0..1000u64 {
        done(store.record_failure(&user(&format!("u{i}")), t0 + Duration::from_millis(i)));
        assert!(store.throttle_key_count() <= 32);
    }
}

#[test]
fn at_the_key_cap_idle_counters_go_first() {
    let store = MemoryStore::with_caps(settings(), 10, 2);
    let t0 = Instant::now();
    done(store.record_failure(&user("old"), t0));
    done(store.record_failure(&user("recent"), t0 + 9 * MINUTE));
    done(store.record_failure(&user("new"), t0 + 10 * MINUTE));
    assert_eq!(store.throttle_key_count(), 2);
    assert_eq!(
        done(store.record_failure(&user("recent"), t0 + 10 * MINUTE)),
        None
    );
    assert!(
        done(store.record_failure(&user("recent"), t0 + 10 * MINUTE)).is_some(),
        "recent kept its two earlier failures"
    );
}

#[test]
fn at_the_key_cap_active_lockouts_outlive_unlocked_counters() {
    let store = MemoryStore::with_caps(settings(), 10, 2);
    let t0 = Instant::now();
    let victim = user("victim");
    for _ in 0..3 {
        done(store.record_failure(&victim, t0));
    }
    for i in 0..50u64 {
        done(store.record_failure(&user(&format!("spray{i}")), t0 + Duration::from_secs(i)));
    }
    assert!(done(store.locked_for(&victim, t0 + MINUTE)).is_some());
}

#[test]
fn zero_max_failures_acts_as_one() {
    let zero = ThrottleSettings {
        max_failures: 0,
        ..settings()
    };
    let store = MemoryStore::new(zero);
    assert!(done(store.record_failure(&user("a"), Instant::now())).is_some());
}

#[test]
fn the_store_works_as_a_shared_trait_object() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new(settings()));
    done(store.revoke(token("u", "j", 10), epoch(0)));
    assert!(store.is_revoked(bare("u", "j"), epoch(5)));
}

/// What parallel attempts of one key see: `max_failures` reservations, then refusals.
fn reserve_many(store: &MemoryStore, key: &ThrottleKey, n: usize, now: Instant) -> usize {
    (0..n)
        .filter(|_| done(store.reserve(key, now)) == Reservation::Granted)
        .count()
}

#[test]
fn parallel_attempts_reserve_at_most_max_failures_before_any_hash_runs() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    assert_eq!(reserve_many(&store, &key, 100, t0), 3);
    assert_eq!(
        done(store.reserve(&key, t0)),
        Reservation::Refused {
            retry_after: PENDING_RETRY_AFTER
        },
        "the budget is taken by attempts in flight"
    );
    // The three turn out wrong: the key is locked, for the full lockout.
    assert_eq!(done(store.record_failure(&key, t0)), None);
    assert_eq!(done(store.record_failure(&key, t0)), None);
    assert_eq!(done(store.record_failure(&key, t0)), Some(10 * MINUTE));
    assert_eq!(
        done(store.reserve(&key, t0 + MINUTE)),
        Reservation::Refused {
            retry_after: 9 * MINUTE
        }
    );
    assert_eq!(
        reserve_many(&store, &key, 10, t0 + 10 * MINUTE),
        3,
        "after the lockout"
    );
}

#[test]
fn a_released_reservation_is_given_back_and_failures_fill_the_budget() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    assert_eq!(reserve_many(&store, &key, 3, t0), 3);
    done(store.release(&key));
    assert_eq!(reserve_many(&store, &key, 5, t0), 1, "one place came back");
    done(store.record_failure(&key, t0));
    assert_eq!(
        reserve_many(&store, &key, 5, t0),
        0,
        "a failure keeps its place"
    );
    for _ in 0..3 {
        done(store.release(&key));
    }
    assert_eq!(reserve_many(&store, &key, 5, t0), 2, "one failure counted");
    for _ in 0..2 {
        done(store.release(&key));
    }
    // Releasing more than was reserved does not go below zero.
    done(store.release(&key));
    done(store.release(&key));
    assert_eq!(reserve_many(&store, &key, 5, t0), 2);
}

#[test]
fn a_key_with_nothing_to_remember_is_dropped_when_its_reservation_is_released() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    assert_eq!(reserve_many(&store, &user("alice"), 1, t0), 1);
    assert_eq!(store.throttle_key_count(), 1);
    done(store.release(&user("alice")));
    assert_eq!(store.throttle_key_count(), 0);
}

#[test]
fn clearing_a_key_keeps_the_reservations_in_flight() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    done(store.record_failure(&key, t0));
    assert_eq!(reserve_many(&store, &key, 5, t0), 2);
    done(store.clear_failures(&key));
    assert_eq!(
        reserve_many(&store, &key, 5, t0),
        1,
        "the failure is forgotten, the two in flight still count"
    );
}

#[test]
fn a_window_that_ends_keeps_its_reservations_in_flight() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    let key = user("alice");
    done(store.record_failure(&key, t0));
    assert_eq!(reserve_many(&store, &key, 5, t0), 2);
    assert_eq!(reserve_many(&store, &key, 5, t0 + 6 * MINUTE), 1);
}

#[test]
fn reservations_in_flight_survive_the_key_cap() {
    let store = MemoryStore::with_caps(settings(), 10, 16);
    let t0 = Instant::now();
    let victim = user("victim");
    assert_eq!(reserve_many(&store, &victim, 3, t0), 3);
    for i in 0..100 {
        done(store.record_failure(&user(&format!("spray{i}")), t0 + Duration::from_secs(i)));
    }
    assert!(store.throttle_key_count() <= 16);
    assert_eq!(reserve_many(&store, &victim, 1, t0 + MINUTE), 0);
}

#[test]
fn a_device_is_its_own_key() {
    let store = MemoryStore::new(settings());
    let t0 = Instant::now();
    for _ in 0..3 {
        done(store.record_failure(&user("admin"), t0));
    }
    let device = ThrottleKey::device("d1");
    assert_ne!(device, user("d1"));
    assert_eq!(reserve_many(&store, &device, 5, t0), 3);
    assert!(matches!(
        done(store.reserve(&user("admin"), t0)),
        Reservation::Refused { .. }
    ));
}

/// What a shared store re-writes to a backend that lost it: every live entry, none expired,
/// and replaying them into an empty store revokes the same tokens.
#[test]
fn live_revocations_replay_into_an_empty_store_with_the_same_effect() {
    let store = MemoryStore::new(settings());
    done(store.revoke(token("alice", "jti-1", 1000), epoch(100)));
    done(store.revoke(session("bob", "sid-1", 2000), epoch(100)));
    done(store.revoke(token("carol", "short", 150), epoch(100)));
    done(store.revoke(
        Revocation::User {
            user: "dave",
            before: epoch(120),
            until: epoch(3000),
        },
        epoch(100),
    ));
    let copy = MemoryStore::new(settings());
    let mut count = 0;
    store.for_each_revocation(epoch(200), |revocation| {
        count += 1;
        done(copy.revoke(revocation, epoch(200)));
    });
    assert_eq!(count, 3, "the expired entry is not re-written");
    assert!(copy.is_revoked(bare("alice", "jti-1"), epoch(200)));
    assert!(copy.is_revoked(in_session("bob", "sid-1", 50), epoch(200)));
    assert!(copy.is_revoked(in_session("dave", "any", 110), epoch(200)));
    assert!(!copy.is_revoked(in_session("dave", "any", 130), epoch(200)));
    assert!(!copy.is_revoked(bare("carol", "short"), epoch(200)));
}
