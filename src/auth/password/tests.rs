//! Tests of `password`: `hash_password`, `CredentialsError` and `PasswordChecker`. The
//! accepted and refused hash formats are exercised through the users file, in
//! `users/tests.rs`.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

use super::memory::HashMemory;
use super::{
    BCRYPT_MAX_PASSWORD_BYTES, CredentialsError, Digest, HashCost, MAX_PASSWORD_BYTES,
    PasswordChecker, StoredHash, dummy_hash, hash_password,
};
use crate::auth::store::ThrottleKey;
use crate::auth::users::{Users, UsersError};

/// A cheap argon2 hash (tests only: real hashes use the default parameters).
fn cheap_argon2(algorithm: Algorithm, password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("valid test params");
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hashing works")
        .to_string()
}

fn one_user(name: &str, hash: &str, extra: &str) -> String {
    format!("[[user]]\nname = \"{name}\"\npassword = '{hash}'\n{extra}\n")
}

fn load(text: &str) -> Users {
    Users::from_toml_str(text).expect("valid users file")
}

#[test]
fn hash_password_makes_a_default_argon2id_phc_string_that_verifies() {
    let hash = hash_password("correct horse").expect("hashing works");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let users = load(&one_user("carol", &hash, ""));
    assert!(users.verify_password("carol", "correct horse").is_ok());
    assert_ne!(
        hash_password("correct horse").ok(),
        Some(hash),
        "salt is random"
    );
}

#[test]
fn hash_password_refuses_empty_and_too_long_passwords() {
    assert!(matches!(hash_password(""), Err(UsersError::EmptyPassword)));
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(matches!(
        hash_password(&long),
        Err(UsersError::PasswordTooLong)
    ));
}

#[test]
fn credentials_errors_tell_rejections_from_failures() {
    assert!(CredentialsError::WrongPassword.is_rejection());
    assert!(CredentialsError::UnknownUser.is_rejection());
    assert!(CredentialsError::UserDisabled.is_rejection());
    assert!(CredentialsError::PasswordTooLong.is_rejection());
    assert!(CredentialsError::PasswordTooLongForBcrypt.is_rejection());
    let failure = CredentialsError::Argon2Failed(argon2::password_hash::Error::OutOfMemory);
    assert!(!failure.is_rejection());
    assert!(!CredentialsError::CheckTaskFailed.is_rejection());
    assert!(!CredentialsError::NoHashWorkers.is_rejection());
}

#[test]
fn argon2_verifies_in_reused_memory_whatever_the_previous_hash_left_there() {
    // Two hashes of different sizes and variants, verified in turn in one memory: each
    // verdict is the one fresh memory gives.
    let small = parse(&cheap_argon2(Algorithm::Argon2id, "one"));
    let params = Params::new(64, 2, 2, None).expect("valid test params");
    let large = Argon2::new(Algorithm::Argon2i, Version::V0x10, params)
        .hash_password(b"two")
        .expect("hashing works")
        .to_string();
    let large = parse(&large);
    let mut memory = HashMemory::new();
    for _ in 0..2 {
        assert!(matches!(small.verify("one", &mut memory), Ok(true)));
        assert!(matches!(small.verify("two", &mut memory), Ok(false)));
        assert!(matches!(large.verify("two", &mut memory), Ok(true)));
        assert!(matches!(large.verify("one", &mut memory), Ok(false)));
    }
    assert_eq!(
        memory.held_bytes(),
        64 * argon2::Block::SIZE,
        "the larger hash's blocks"
    );
}

#[test]
fn bcrypt_refuses_a_password_past_72_bytes_that_shares_the_first_72() {
    let base = "p".repeat(BCRYPT_MAX_PASSWORD_BYTES);
    let hash = parse(&bcrypt::hash(&base, 4).expect("hash"));
    let mut memory = HashMemory::new();
    assert!(matches!(hash.verify(&base, &mut memory), Ok(true)));
    assert!(!hash.truncates(&base));
    let longer = format!("{base}x");
    assert!(hash.truncates(&longer));
    assert!(
        matches!(hash.verify(&longer, &mut memory), Ok(false)),
        "bcrypt alone would accept it"
    );
    assert!(bcrypt::verify(&longer, &digest(&hash)).is_ok_and(|ok| ok));
    // argon2 reads every byte: no truncation to refuse.
    let argon2 = parse(&cheap_argon2(Algorithm::Argon2id, &longer));
    assert!(!argon2.truncates(&longer));
    assert!(matches!(argon2.verify(&longer, &mut memory), Ok(true)));
}

#[tokio::test]
async fn password_checker_verifies_on_the_blocking_pool() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let users = Arc::new(load(&one_user("alice", &hash, "")));
    let checker = PasswordChecker::new(1);
    let user = checker
        .verify(Arc::clone(&users), "alice".into(), "pw".into())
        .await
        .expect("right password");
    assert_eq!(user.name, "alice");
    let wrong = checker
        .verify(Arc::clone(&users), "alice".into(), "nope".into())
        .await;
    assert!(matches!(wrong, Err(CredentialsError::WrongPassword)));
    let long = "p".repeat(MAX_PASSWORD_BYTES + 1);
    let long = checker.verify(users, "alice".into(), long).await;
    assert!(matches!(long, Err(CredentialsError::PasswordTooLong)));
}

#[tokio::test]
async fn password_checker_runs_checks_on_hash_workers_under_sched_idle() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let users = Arc::new(load(&one_user("alice", &hash, "")));
    PasswordChecker::new(1)
        .verify(Arc::clone(&users), "alice".into(), "pw".into())
        .await
        .expect("right password");
    // The same workers run any check; ask one for its thread's name and policy.
    let (name, policy) = super::checker::run_check(|_| {
        let name = std::thread::current().name().unwrap_or_default().to_owned();
        (name, this_threads_policy())
    })
    .await
    .expect("runs");
    assert!(name.starts_with("gateway-hash-"), "{name}");
    assert_eq!(policy, SCHED_IDLE);
}

#[tokio::test]
async fn password_checker_runs_concurrent_checks_up_to_its_bound() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let users = Arc::new(load(&one_user("alice", &hash, "")));
    let checker = PasswordChecker::new(2);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (checker, users) = (checker.clone(), Arc::clone(&users));
            tokio::spawn(async move { checker.verify(users, "alice".into(), "pw".into()).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task does not panic").is_ok());
    }
    assert_eq!(checker.queue.running(), 0);
    assert_eq!(checker.queue.waiting(), 0);
}

#[tokio::test]
async fn a_full_queue_refuses_a_check_at_once_without_hashing() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let users = Arc::new(load(&one_user("alice", &hash, "")));
    let checker = PasswordChecker::with_queue(0, 1, 1);
    let client = |n: u8| ThrottleKey::client_ip(std::net::IpAddr::from([192, 0, 2, n]));
    // Hold the one worker (a zero bound acts as one) and fill the one waiting place.
    let _held = checker.queue.acquire(client(1)).expect("free worker");
    let waiting = {
        let (checker, users) = (checker.clone(), Arc::clone(&users));
        tokio::spawn(async move {
            checker
                .verify_from(client(2), users, "alice".into(), "pw".into())
                .await
        })
    };
    while checker.queue.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    let full = checker
        .verify_from(client(3), Arc::clone(&users), "alice".into(), "pw".into())
        .await;
    assert!(matches!(full, Err(CredentialsError::QueueFull)), "{full:?}");
    assert!(!CredentialsError::QueueFull.is_rejection());
    assert_eq!(
        checker.queue.waiting(),
        1,
        "the refused check was not queued"
    );
    waiting.abort();

    // One client's own bound, below the overall one.
    let checker = PasswordChecker::with_queue(1, 10, 1);
    let _held = checker.queue.acquire(client(1)).expect("free worker");
    let _waits = checker.queue.acquire(client(1)).expect("queued");
    let refused = checker
        .verify_from(client(1), Arc::clone(&users), "alice".into(), "pw".into())
        .await;
    assert!(matches!(refused, Err(CredentialsError::ClientQueueFull)));
    let other = checker.queue.acquire(client(2));
    assert!(other.is_ok(), "another client still queues");
}

/// The stored form of a hash (tests only: the users file is where hashes come from).
fn parse(hash: &str) -> StoredHash {
    StoredHash::parse(hash).unwrap_or_else(|_| panic!("a valid hash"))
}

/// The digest of a hash (salt and output for argon2), for comparing two of them.
fn digest(hash: &StoredHash) -> String {
    match &hash.digest {
        Digest::Bcrypt(text) => text.clone(),
        Digest::Argon2(argon2) => format!("{}${}", argon2.salt, argon2.expected),
    }
}

#[test]
fn a_dummy_hash_is_made_once_per_cost_and_verifies_like_the_hashes_it_stands_for() {
    let bob = parse(&bcrypt::hash("pw", 4).expect("hash"));
    let dummy = dummy_hash(&[bob.cost().clone()]).expect("dummy");
    assert_eq!(dummy.cost(), &HashCost::Bcrypt { cost: 4 });
    assert!(digest(&dummy).starts_with("$2b$04$"));
    let eve = parse(&bcrypt::hash("other", 4).expect("hash"));
    let again = dummy_hash(&[eve.cost().clone()]).expect("dummy");
    assert_eq!(digest(&again), digest(&dummy), "made once per cost");
    assert!(matches!(
        dummy.verify("pw", &mut HashMemory::new()),
        Ok(false)
    ));

    let alice_hash = cheap_argon2(Algorithm::Argon2i, "pw");
    let alice = parse(&alice_hash);
    let dummy = dummy_hash(&[alice.cost().clone()]).expect("dummy");
    assert_eq!(dummy.cost(), alice.cost());
    assert!(matches!(
        dummy.verify("pw", &mut HashMemory::new()),
        Ok(false)
    ));
    assert!(
        dummy
            .verify(
                "gateway dummy password for unknown users",
                &mut HashMemory::new()
            )
            .is_ok_and(|matches| matches),
        "a real argon2i hash of the dummy password"
    );
    assert_ne!(digest(&dummy), digest(&alice), "a salt of its own");
}

#[test]
fn the_dummy_for_no_users_has_the_cost_of_new_hashes() {
    let new = parse(&hash_password("pw").expect("hash"));
    assert_eq!(dummy_hash(&[]).expect("dummy").cost(), new.cost());
}

/// `SCHED_IDLE`'s number in `/proc/*/stat`'s policy field.
const SCHED_IDLE: i32 = 5;

/// The calling thread's scheduling policy, from `/proc/thread-self/stat` (field 41).
fn this_threads_policy() -> i32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("procfs");
    // Fields after the command name, which is in parentheses and may hold spaces; the
    // first of them is field 3.
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[41 - 3].parse().expect("policy field")
}

#[test]
fn a_thread_that_hashes_runs_under_sched_idle_and_others_keep_their_policy() {
    let before = this_threads_policy();
    assert_ne!(before, SCHED_IDLE, "the test runs under another policy");
    let hashing = std::thread::spawn(|| {
        super::workers::lower_this_threads_priority();
        super::workers::lower_this_threads_priority(); // once per thread: still the same
        this_threads_policy()
    })
    .join()
    .expect("thread");
    assert_eq!(hashing, SCHED_IDLE);
    assert_eq!(
        this_threads_policy(),
        before,
        "other threads keep their policy"
    );
}
