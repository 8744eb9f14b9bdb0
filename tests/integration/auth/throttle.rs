//! Login throttling with `max_failures = 3`: after three failures a client IP, and
//! separately a username, is locked out (429 + Retry-After), even for the right password.
//!
//! Every test client connects from 127.0.0.1, so per-IP and per-username locks cannot be told
//! apart by the peer address alone. The first test accepts that (the IP lock covers every
//! username); the others make the gateway trust 127.0.0.0/8 as a proxy so that
//! `X-Forwarded-For` names distinct clients, which DESIGN.md says throttling uses.
//!
//! Parallel attempts are counted before their hash runs (a reservation per key), so they
//! cannot outrun the count; a browser holding a device cookie from an earlier successful
//! sign-in is throttled under its own key, so strangers cannot lock its user out of it.

use crate::support::client::TestResponse;
use crate::support::cookies::{COOKIE, SetCookie, set_cookies, sets_gateway_cookie};
use crate::support::env::{Env, env_with};
use crate::support::rejections::{assert_error, assert_throttled};
use crate::support::requests::{Req, json_login, login_via};
use crate::support::users::{ALICE_PASSWORD, BOB_PASSWORD};

/// The series counting password hashes run.
const CHECKS: &str = "gateway_password_checks_total";

#[tokio::test]
async fn fourth_failed_login_is_throttled_and_the_lock_holds_even_for_the_right_password() {
    let env = env_with(|c| c.max_failures(3)).await;
    for attempt in 1..=3 {
        let response = env
            .login_json("app1.example.test", "alice", "wrong-password")
            .await;
        assert_error(
            &response,
            401,
            "invalid_credentials",
            &format!("failure {attempt}"),
        );
    }
    let response = env
        .login_json("app1.example.test", "alice", "wrong-password")
        .await;
    assert_throttled(&response, "fourth attempt");
    let response = env
        .login_json("app1.example.test", "alice", ALICE_PASSWORD)
        .await;
    assert_throttled(&response, "right password while locked");
    // The form is locked the same way.
    let response = env
        .send(
            Req::post("app1.example.test", "/.auth/login")
                .origin("https://app1.example.test")
                .form(&[("username", "alice"), ("password", ALICE_PASSWORD)]),
        )
        .await;
    assert_eq!(
        response.status,
        429,
        "form while locked: {}",
        response.text()
    );
    assert!(response.headers.get("retry-after").is_some());
    assert!(!sets_gateway_cookie(&response.headers));
    // Same IP, another username: the per-IP lock applies too.
    let response = env
        .login_json("app2.example.test", "bob", BOB_PASSWORD)
        .await;
    assert_throttled(&response, "another user from the locked IP");
    assert_eq!(env.upstream_count(), 0);
}

#[tokio::test]
async fn per_ip_lockout_covers_every_username_from_that_ip() {
    let env = env_with(|c| {
        c.max_failures(3)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    // Three different usernames, known or not, each failing once from one client.
    for user in ["nobody-1", "nobody-2", "alice"] {
        let response = env
            .send(login_via("198.51.100.9", user, "wrong-password"))
            .await;
        assert_error(&response, 401, "invalid_credentials", user);
    }
    let response = env
        .send(login_via("198.51.100.9", "bob", BOB_PASSWORD))
        .await;
    assert_throttled(&response, "bob from the locked IP");
    // Neither bob nor alice is locked as a username: from another client they log in.
    let response = env
        .send(login_via("198.51.100.10", "bob", BOB_PASSWORD))
        .await;
    assert_eq!(response.status, 200, "bob elsewhere: {}", response.text());
    let response = env
        .send(login_via("198.51.100.10", "alice", ALICE_PASSWORD))
        .await;
    assert_eq!(response.status, 200, "alice elsewhere: {}", response.text());
}

#[tokio::test]
async fn per_username_lockout_holds_across_client_ips() {
    let env = env_with(|c| {
        c.max_failures(3)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    // One failure for alice from each of three clients: no IP reaches the limit.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let response = env.send(login_via(ip, "alice", "wrong-password")).await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    let response = env
        .send(login_via("198.51.100.4", "alice", ALICE_PASSWORD))
        .await;
    assert_throttled(&response, "alice from a fresh IP");
    // A username that does not exist is locked the same way (no user enumeration).
    for ip in ["198.51.100.5", "198.51.100.6", "198.51.100.7"] {
        let response = env.send(login_via(ip, "ghost", "wrong-password")).await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    let response = env
        .send(login_via("198.51.100.8", "ghost", "wrong-password"))
        .await;
    assert_throttled(&response, "unknown username");
    // Other users are unaffected, even from a client that failed for alice.
    let response = env
        .send(login_via("198.51.100.1", "bob", BOB_PASSWORD))
        .await;
    assert_eq!(response.status, 200, "bob: {}", response.text());
}

/// Counts the responses with `status`.
fn count(responses: &[TestResponse], status: u16) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn parallel_wrong_logins_for_one_user_run_at_most_max_failures_hashes() {
    let env = env_with(|c| {
        c.max_failures(5)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    let requests = (0..100)
        .map(|i| {
            json_login("app1.example.test", "alice", &format!("guess-{i}"))
                .header("x-forwarded-for", "198.51.100.1")
        })
        .collect();
    let responses = env.send_all_h2(requests, 2).await;
    assert_eq!(
        count(&responses, 401),
        5,
        "only max_failures attempts were checked"
    );
    assert_eq!(count(&responses, 429), 95);
    for response in responses.iter().filter(|r| r.status == 429) {
        assert_throttled(response, "an attempt beyond the budget");
    }
    assert_eq!(env.metric(CHECKS), 5.0, "5 hashes ran, not 100");
    assert_eq!(
        env.metric(r#"gateway_logins_total{result="throttled"}"#),
        95.0
    );
    // The user is locked now, from anywhere, even with the right password.
    let response = env
        .send(login_via("198.51.100.2", "alice", ALICE_PASSWORD))
        .await;
    assert_throttled(&response, "alice after the parallel burst");
    assert_eq!(env.metric(CHECKS), 5.0);
}

/// The device cookie of a successful login's response.
fn device_cookie(response: &TestResponse) -> SetCookie {
    let name = format!("{COOKIE}_device");
    let mut found: Vec<SetCookie> = set_cookies(&response.headers)
        .into_iter()
        .filter(|c| c.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one device cookie: {:?}", response.headers);
    found.remove(0)
}

/// A JSON login from `client_ip` presenting the device cookie `device`.
async fn login_with_device(
    env: &Env,
    client_ip: &str,
    device: &str,
    user: &str,
    password: &str,
) -> TestResponse {
    env.send(
        login_via(client_ip, user, password).header("cookie", &format!("{COOKIE}_device={device}")),
    )
    .await
}

#[tokio::test]
async fn a_known_browser_signs_in_while_strangers_lock_the_user_out() {
    let env = env_with(|c| {
        c.max_failures(3)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    // alice signs in once from her browser: it gets a device cookie.
    let response = env
        .send(login_via("198.51.100.1", "alice", ALICE_PASSWORD))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let cookie = device_cookie(&response);
    assert_eq!(cookie.value_of("path"), Some("/.auth"), "{cookie:?}");
    assert_eq!(cookie.value_of("domain"), None, "host-only: {cookie:?}");
    assert_eq!(
        cookie.value_of("max-age"),
        Some("7776000"),
        "90 days: {cookie:?}"
    );
    assert!(
        cookie.has_flag("httponly") && cookie.has_flag("secure"),
        "{cookie:?}"
    );
    assert_eq!(cookie.value_of("samesite"), Some("Strict"), "{cookie:?}");
    let device = cookie.value.clone();
    let bobs = env
        .send(login_via("198.51.100.1", "bob", BOB_PASSWORD))
        .await;
    let bobs_device = device_cookie(&bobs).value;

    // Strangers at three addresses lock the username.
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let response = env.send(login_via(ip, "alice", "guess")).await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    let response = env
        .send(login_via("203.0.113.4", "alice", ALICE_PASSWORD))
        .await;
    assert_throttled(&response, "the right password without the device cookie");

    // Her browser still signs in, from a new address too, and gets a fresh device cookie.
    let response = login_with_device(&env, "198.51.100.9", &device, "alice", ALICE_PASSWORD).await;
    assert_eq!(response.status, 200, "known browser: {}", response.text());
    assert!(sets_gateway_cookie(&response.headers));
    assert_ne!(device_cookie(&response).value, device, "a new device id");
    // Her sign-in did not lift the lockout the strangers earned.
    let response = env
        .send(login_via("203.0.113.5", "alice", ALICE_PASSWORD))
        .await;
    assert_throttled(&response, "still locked for strangers");

    // A device cookie vouches only for its own user, and only when it is intact.
    let response =
        login_with_device(&env, "198.51.100.9", &bobs_device, "alice", ALICE_PASSWORD).await;
    assert_throttled(&response, "bob's device cookie for alice");
    let mut forged = device.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let response = login_with_device(&env, "198.51.100.9", &forged, "alice", ALICE_PASSWORD).await;
    assert_throttled(&response, "a forged device cookie");

    // The device has its own budget: three wrong passwords lock it, not the others.
    for attempt in 1..=3 {
        let response = login_with_device(&env, "198.51.100.9", &device, "alice", "typo").await;
        assert_error(
            &response,
            401,
            "invalid_credentials",
            &format!("typo {attempt}"),
        );
    }
    let response = login_with_device(&env, "198.51.100.9", &device, "alice", ALICE_PASSWORD).await;
    assert_throttled(&response, "the device after its own failures");
    let response = login_with_device(&env, "198.51.100.1", &bobs_device, "bob", BOB_PASSWORD).await;
    assert_eq!(response.status, 200, "bob's device: {}", response.text());
}

/// The latency ratio the issue asks for (a number that depends on the machine, so it is
/// measured and printed here, not asserted): a login from one address, unloaded and while
/// 1,000 concurrent wrong-password logins arrive from another address. Run with
/// `cargo test --release --test integration -- --ignored --nocapture login_latency_under_a_flood`.
///
/// Measured on the shared 2-core test machine (load average 7–9, release build without
/// LTO): before the fix a login from another address took 31 ms unloaded and 22.3 s during
/// the flood (its hash queued behind 1,000 others); after, 29–58 ms unloaded and 87–207 ms
/// during the flood (ratio 2.2–7, median about 3), with 5 hashes run for the flood and the
/// whole flood answered in 220–340 ms. What is left is the CPU of answering the flood's
/// 1,000 requests (the flood's client runs in this same process) while the probe's hash runs
/// at the lowest priority, not the hash queue: the probe finds a free hash worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test: prints the latency ratio"]
async fn login_latency_under_a_flood() {
    use std::time::{Duration, Instant};
    // bob's hash has `gateway hash-password`'s parameters (so does the dummy hash the flood's
    // unknown users are checked against), so a check costs what it does in production.
    let real = argon2::PasswordHasher::hash_password_with_salt(
        &argon2::Argon2::default(),
        BOB_PASSWORD.as_bytes(),
        b"latency-bench-salt",
    )
    .expect("hash")
    .to_string();
    let env = flood_env(&real).await;
    let mut unloaded = Vec::new();
    for _ in 0..5 {
        unloaded.push(timed_login(&env, "198.51.100.7").await);
    }
    unloaded.sort();
    let unloaded = unloaded[unloaded.len() / 2];
    let mut loaded = Vec::new();
    let mut floods = Vec::new();
    for round in 0..3 {
        let throttled = r#"gateway_logins_total{result="throttled"}"#;
        let before = env.metric(throttled);
        let flood_started = Instant::now();
        let flood = start_flood(&env, &format!("203.0.113.{}", 10 + round), 1000, 10).await;
        // Let the flood arrive first: until refusals flow (at most a second).
        let waiting = Instant::now();
        while env.metric(throttled) <= before && waiting.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        loaded.push(timed_login(&env, "198.51.100.8").await);
        // Every flood request answered (before the fix this took as long as 1,000 hashes).
        for task in flood {
            let _ = task.await;
        }
        floods.push(flood_started.elapsed());
    }
    loaded.sort();
    let loaded = loaded[loaded.len() / 2];
    floods.sort();
    println!(
        "login from another address: unloaded {unloaded:?}, during a 1,000-login flood {loaded:?}, ratio {:.2}; the whole flood answered in {:?}; hashes run: {}",
        loaded.as_secs_f64() / unloaded.as_secs_f64(),
        floods[floods.len() / 2],
        env.metric(CHECKS)
    );
}

/// bob's login from `client_ip` on a new connection, timed from connect to the answer's
/// last byte (no step timeout: this measures how long it takes, however long).
async fn timed_login(env: &Env, client_ip: &str) -> std::time::Duration {
    use http_body_util::BodyExt;
    use hyper_util::rt::TokioIo;
    let started = std::time::Instant::now();
    let tls = env
        .client
        .connect("app1.example.test", crate::support::client::Protocol::Http1)
        .await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = login_via(client_ip, "bob", BOB_PASSWORD).build();
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.expect("body");
    started.elapsed()
}

/// Starts `count` wrong-password logins from `client_ip` (unknown users), multiplexed over
/// `connections` HTTP/2 connections; returns their tasks.
async fn start_flood(
    env: &Env,
    client_ip: &str,
    count: usize,
    connections: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let mut senders = Vec::new();
    for _ in 0..connections {
        let tls = env
            .client
            .connect("app1.example.test", crate::support::client::Protocol::Http2)
            .await;
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .expect("handshake");
        tokio::spawn(connection);
        senders.push(sender);
    }
    let port = env.gateway.addr.port();
    (0..count)
        .map(|i| {
            let mut sender = senders[i % connections].clone();
            let request = json_login("app1.example.test", &format!("flood-{i}"), "wrong")
                .header("x-forwarded-for", client_ip)
                .build_h2(port);
            tokio::spawn(async move {
                if let Ok(response) = sender.send_request(request).await {
                    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
                }
            })
        })
        .collect()
}

/// A gateway whose only user is bob, with the `bob_hash` hash.
async fn flood_env(bob_hash: &str) -> Env {
    let users = format!("[[user]]\nname = \"bob\"\npassword = \"{bob_hash}\"\ngroups = []\n");
    env_with(|c| {
        c.max_failures(5)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
            .users(&users)
    })
    .await
}
