//! Login throttling with `max_failures = 3`: after three failures a client IP, and
//! separately a username, is locked out (429 + Retry-After), even for the right password.
//!
//! Every test client connects from 127.0.0.1, so per-IP and per-username locks cannot be told
//! apart by the peer address alone. The first test accepts that (the IP lock covers every
//! username); the others make the gateway trust 127.0.0.0/8 as a proxy so that
//! `X-Forwarded-For` names distinct clients, which DESIGN.md says throttling uses.

use crate::support::auth::{
    ALICE_PASSWORD, BOB_PASSWORD, Env, Req, assert_error, env_with, json_login, sets_gateway_cookie,
};
use crate::support::client::TestResponse;

/// Asserts a 429 `too_many_requests` with an integer `Retry-After` within the lockout.
fn assert_throttled(response: &TestResponse, what: &str) {
    assert_error(response, 429, "too_many_requests", what);
    let retry_after = response
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"))
        .to_str()
        .expect("ascii");
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("{what}: Retry-After is not integer seconds: {retry_after}"));
    assert!(
        (1..=300).contains(&seconds),
        "{what}: Retry-After {seconds} outside the 5m lockout"
    );
    assert!(!sets_gateway_cookie(&response.headers), "{what}");
}

/// A JSON login as if from `client_ip` (via the trusted proxy's X-Forwarded-For).
async fn login_from(env: &Env, client_ip: &str, user: &str, password: &str) -> TestResponse {
    env.send(json_login("app1.example.test", user, password).header("x-forwarded-for", client_ip))
        .await
}

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
        let response = login_from(&env, "198.51.100.9", user, "wrong-password").await;
        assert_error(&response, 401, "invalid_credentials", user);
    }
    let response = login_from(&env, "198.51.100.9", "bob", BOB_PASSWORD).await;
    assert_throttled(&response, "bob from the locked IP");
    // Neither bob nor alice is locked as a username: from another client they log in.
    let response = login_from(&env, "198.51.100.10", "bob", BOB_PASSWORD).await;
    assert_eq!(response.status, 200, "bob elsewhere: {}", response.text());
    let response = login_from(&env, "198.51.100.10", "alice", ALICE_PASSWORD).await;
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
        let response = login_from(&env, ip, "alice", "wrong-password").await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    let response = login_from(&env, "198.51.100.4", "alice", ALICE_PASSWORD).await;
    assert_throttled(&response, "alice from a fresh IP");
    // A username that does not exist is locked the same way (no user enumeration).
    for ip in ["198.51.100.5", "198.51.100.6", "198.51.100.7"] {
        let response = login_from(&env, ip, "ghost", "wrong-password").await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    let response = login_from(&env, "198.51.100.8", "ghost", "wrong-password").await;
    assert_throttled(&response, "unknown username");
    // Other users are unaffected, even from a client that failed for alice.
    let response = login_from(&env, "198.51.100.1", "bob", BOB_PASSWORD).await;
    assert_eq!(response.status, 200, "bob: {}", response.text());
}
