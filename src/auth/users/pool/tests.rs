//! Tests of the check pool: `PasswordChecker`'s bounds and fairness, and the hash workers'
//! scheduling policy.

use std::sync::Arc;

use argon2::Algorithm;

use super::PasswordChecker;
use crate::auth::state::ThrottleKey;
use crate::auth::users::password::tests::{cheap_argon2, load, one_user};
use crate::auth::users::password::{CredentialsError, MAX_PASSWORD_BYTES};

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
    let (name, policy) = super::run_check(|_| {
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
