//! The login endpoint under attack: user enumeration by timing (one hash of equal cost for
//! every failed login, counted by the gateway; the wall-clock comparison is an ignored
//! measurement),
//! throttling evasion (rotating `X-Forwarded-For`, usernames, protocols and IPv6 addresses
//! inside one /64), and bodies built to hurt: huge, duplicated, nested, mistyped.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::{Tally, refused};
use crate::support::auth_config::AuthConfig;
use crate::support::client::Protocol;
use crate::support::cookies::sets_gateway_cookie;
use crate::support::env::{Env, env, env_with};
use crate::support::rejections::{assert_error, assert_throttled};
use crate::support::requests::{Req, json_login, login_via};
use crate::support::tokens::token_part;
use crate::support::users::{
    ALICE_PASSWORD, BOB_PASSWORD, CAROL_PASSWORD, default_argon2id, hash_password,
};
use crate::support::within;

/// A gateway whose users file is `users` (the rest as `change` makes it).
async fn env_with_users(users: &str, change: impl FnOnce(AuthConfig) -> AuthConfig) -> Env {
    env_with(|c| change(c).users(users)).await
}

/// A users file with alice's password hashed as `alice_hash`.
fn users_with_alice(alice_hash: &str) -> String {
    format!(
        "[[user]]\nname = \"alice\"\npassword = \"{alice_hash}\"\ngroups = [\"admins\"]\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{}\"\ngroups = []\n",
        hash_password(BOB_PASSWORD)
    )
}

/// Median of `samples` (sorted in place).
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times failed JSON logins on one keep-alive connection, alternating an unknown user and
/// alice with a wrong password; returns (median unknown, median known).
async fn login_timings(env: &Env, rounds: usize) -> (Duration, Duration) {
    let tls = env
        .client
        .connect("app1.example.test", Protocol::Http1)
        .await;
    let (mut sender, connection) = within(hyper::client::conn::http1::handshake(TokioIo::new(tls)))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut unknown = Vec::new();
    let mut known = Vec::new();
    for round in 0..rounds + 2 {
        for (user, samples) in [
            (format!("nobody-{round}"), &mut unknown),
            ("alice".to_owned(), &mut known),
        ] {
            let body = json!({"username": user, "password": "wrong-password"}).to_string();
            let request = Request::post("/.auth/login")
                .header("host", "app1.example.test")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .expect("request");
            let started = Instant::now();
            let response = within(sender.send_request(request))
                .await
                .expect("response");
            let status = response.status();
            within(response.into_body().collect()).await.expect("body");
            let elapsed = started.elapsed();
            assert_eq!(status, 401, "{user}: a failed login is a 401");
            // The first two rounds warm caches and the blocking pool; they do not count.
            if round >= 2 {
                samples.push(elapsed);
            }
        }
    }
    (median(&mut unknown), median(&mut known))
}

/// What the password-check counter says each failed login cost, for `rounds` unknown users
/// and `rounds` wrong passwords for alice, alternating: (per unknown login, per known one).
async fn checks_per_failed_login(env: &Env, rounds: usize) -> (Vec<f64>, Vec<f64>) {
    const CHECKS: &str = "gateway_password_checks_total";
    let mut unknown = Vec::new();
    let mut known = Vec::new();
    for round in 0..rounds {
        for (user, costs) in [
            (format!("nobody-{round}"), &mut unknown),
            ("alice".to_owned(), &mut known),
        ] {
            let before = env.metric(CHECKS);
            let response = env
                .send(json_login("app1.example.test", &user, "wrong-password"))
                .await;
            assert_error(&response, 401, "invalid_credentials", &user);
            costs.push(env.metric(CHECKS) - before);
        }
    }
    (unknown, known)
}

/// The timing oracle, decided without a clock: an unknown user is refused only after a
/// password hash of the same cost as a known user's — exactly one check each (counted by
/// the gateway), against the dummy hash, whose cost is the one most of the file's hashes
/// have (`password::tests` pins that choice for argon2id and bcrypt files). A clock-based
/// comparison of the two (flaky on a loaded machine) is the ignored test below.
async fn assert_unknown_users_cost_one_hash_like_known_ones(env: &Env, what: &str) {
    let (unknown, known) = checks_per_failed_login(env, 10).await;
    assert!(
        unknown.iter().chain(&known).all(|checks| *checks == 1.0),
        "{what}: password checks per failed login: unknown users {unknown:?}, known {known:?}"
    );
}

/// Median of the ratio of refusal times, unknown over known users, as measured.
async fn measured_ratio(env: &Env, what: &str) -> f64 {
    let (unknown, known) = login_timings(env, 30).await;
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    println!("{what}: median unknown {unknown:?}, known {known:?}, ratio {ratio:.3}");
    ratio
}

/// alice's hash with the parameters `gateway hash-password` writes (argon2id m=19456, t=2,
/// p=1), the ones the dummy hash for unknown users is made with.
fn argon2id_users() -> String {
    users_with_alice(&default_argon2id(ALICE_PASSWORD))
}

/// A users file imported from `htpasswd -B` (bcrypt, cost 5 by default), as in use.
fn htpasswd_users() -> String {
    format!(
        "[[user]]\nname = \"alice\"\npassword = \"{}\"\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{}\"\n",
        bcrypt::hash(ALICE_PASSWORD, 5).expect("bcrypt"),
        bcrypt::hash(BOB_PASSWORD, 5).expect("bcrypt"),
    )
}

#[tokio::test]
async fn timing_does_not_reveal_whether_a_user_exists() {
    let mut tally = Tally::new("login::timing_does_not_reveal_whether_a_user_exists");
    // A limit far above the probes, so throttling never answers in place of the check.
    let env = env_with_users(&argon2id_users(), |c| c.max_failures(1000)).await;
    assert_unknown_users_cost_one_hash_like_known_ones(&env, "argon2id users").await;
    // One hostile case: the enumeration attack as a whole (20 probes).
    tally.refused();
    assert_eq!(env.upstream_count(), 0);
    tally.finish();
}

/// Users imported from `htpasswd -B` are checked against their own hash; an unknown user is
/// checked against a dummy with the same cost (it was an argon2id dummy once, and an unknown
/// user took ten times longer to refuse).
#[tokio::test]
async fn timing_does_not_reveal_users_of_an_htpasswd_file() {
    let mut tally = Tally::new("login::timing_does_not_reveal_users_of_an_htpasswd_file");
    let env = env_with_users(&htpasswd_users(), |c| c.max_failures(1000)).await;
    assert_unknown_users_cost_one_hash_like_known_ones(&env, "bcrypt users").await;
    tally.refused();
    assert_eq!(env.upstream_count(), 0);
    tally.finish();
}

/// The same property by the clock, for a quiet machine: the median refusal time of unknown
/// users over that of known ones, for both kinds of users file, must be within 0.8–1.25.
/// Run with `cargo test --test integration -- --ignored refusal_times`.
#[tokio::test]
#[ignore = "a wall-clock measurement: meaningful on a quiet machine only"]
async fn refusal_times_of_unknown_and_known_users_are_alike() {
    for (what, users) in [
        ("argon2id users", argon2id_users()),
        ("bcrypt users", htpasswd_users()),
    ] {
        let env = env_with_users(&users, |c| c.max_failures(1000)).await;
        let ratio = measured_ratio(&env, what).await;
        assert!((0.8..=1.25).contains(&ratio), "{what}: ratio {ratio:.2}");
    }
}

#[tokio::test]
async fn throttling_cannot_be_evaded() {
    let mut tally = Tally::new("login::throttling_cannot_be_evaded");
    // A direct client (no trusted proxies): X-Forwarded-For is not believed.
    let env = env_with(|c| c.max_failures(3)).await;
    for i in 1..=3 {
        let response = env
            .send(login_via(&format!("10.0.0.{i}"), "alice", "guess"))
            .await;
        assert_error(&response, 401, "invalid_credentials", "failure");
    }
    let password = ALICE_PASSWORD;
    let evasions: Vec<(&str, Req)> = vec![
        (
            "a fresh X-Forwarded-For",
            login_via("10.0.0.99", "alice", password),
        ),
        (
            "X-Real-IP and Forwarded",
            json_login("app1.example.test", "alice", password)
                .header("x-real-ip", "10.9.9.9")
                .header("forwarded", "for=10.9.9.9"),
        ),
        (
            "another known user from the IP",
            json_login("app1.example.test", "bob", BOB_PASSWORD),
        ),
        (
            "the name in upper case",
            json_login("app1.example.test", "ALICE", password),
        ),
        (
            "the name with a trailing space",
            json_login("app1.example.test", "alice ", password),
        ),
        (
            "the form instead of JSON",
            Req::post("app1.example.test", "/.auth/login")
                .origin("https://app1.example.test")
                .form(&[("username", "alice"), ("password", password)]),
        ),
        (
            "another host of the gateway",
            json_login("app2.example.test", "alice", password),
        ),
    ];
    for (what, request) in evasions {
        let response = env.send(request).await;
        assert_throttled(&response, what);
        tally.refused();
    }
    let response = env
        .send_h2(json_login("app1.example.test", "alice", password))
        .await;
    assert_throttled(&response, "HTTP/2 instead of HTTP/1.1");
    tally.refused();

    // Behind a trusted proxy: the client address comes from X-Forwarded-For, walked from
    // the right; what the client itself prepends is not believed.
    let env = env_with(|c| {
        c.max_failures(3)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    for user in ["nobody-1", "nobody-2", "nobody-3"] {
        let response = env.send(login_via("198.51.100.9", user, "guess")).await;
        assert_error(&response, 401, "invalid_credentials", user);
    }
    for (what, request) in [
        (
            "a spoofed hop prepended",
            login_via("203.0.113.7, 198.51.100.9", "bob", BOB_PASSWORD),
        ),
        (
            "a spoofed X-Forwarded-For line before the proxy's",
            json_login("app1.example.test", "bob", BOB_PASSWORD)
                .header("x-forwarded-for", "203.0.113.8")
                .header("x-forwarded-for", "198.51.100.9"),
        ),
        (
            "the proxy's own address appended",
            login_via("198.51.100.9, 127.0.0.1", "bob", BOB_PASSWORD),
        ),
    ] {
        let response = env.send(request).await;
        assert_throttled(&response, what);
        tally.refused();
    }
    // Per username, across client addresses.
    for ip in ["198.51.100.21", "198.51.100.22", "198.51.100.23"] {
        let response = env.send(login_via(ip, "alice", "guess")).await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    let response = env
        .send(login_via("198.51.100.24", "alice", ALICE_PASSWORD))
        .await;
    assert_throttled(&response, "alice from a fresh address");
    tally.refused();
    // IPv6: one client owns a whole /64.
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"] {
        let response = env
            .send(login_via(ip, &format!("user-{ip}"), "guess"))
            .await;
        assert_error(&response, 401, "invalid_credentials", ip);
    }
    for ip in ["2001:db8:1:2::ffff", "2001:db8:1:2:ffff:ffff:ffff:fffe"] {
        let response = env.send(login_via(ip, "bob", BOB_PASSWORD)).await;
        assert_throttled(&response, &format!("{ip} in the locked /64"));
        tally.refused();
    }
    assert_eq!(env.upstream_count(), 0);
    tally.finish();
}

/// 1,000 concurrent wrong-password logins from one address (a different username each, so
/// only the address's budget holds them): the attempts are counted before their hashes run,
/// so `max_failures` hashes run and the rest are refused at once with 429; a login from
/// another address still succeeds while the flood arrives (the hash queue serves the
/// address with nothing running first: `password/queue.rs`).
#[tokio::test]
async fn a_login_flood_from_one_address_cannot_outrun_the_throttle() {
    let mut tally = Tally::new("login::a_login_flood_from_one_address_cannot_outrun_the_throttle");
    let env = env_with(|c| {
        c.max_failures(5)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    let throttled = r#"gateway_logins_total{result="throttled"}"#;
    let flood: Vec<Req> = (0..1000)
        .map(|i| login_via("203.0.113.66", &format!("user-{i}"), "guess"))
        .collect();
    let flood = env.send_all_h2(flood, 10);
    let other = async {
        // Once refusals flow, the flood's budget is taken: now sign in from elsewhere.
        within(async {
            while env.metric(throttled) < 1.0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        env.send(login_via("198.51.100.77", "bob", BOB_PASSWORD))
            .await
    };
    let (flood, other) = tokio::join!(flood, other);
    assert_eq!(other.status, 200, "another address: {}", other.text());
    let checked = flood.iter().filter(|r| r.status == 401).count();
    assert_eq!(checked, 5, "max_failures hashes for the flood, not 1,000");
    for response in flood.iter().filter(|r| r.status != 401) {
        assert_throttled(response, "a flood attempt beyond the budget");
    }
    assert_eq!(env.metric(throttled), 995.0);
    assert_eq!(
        env.metric("gateway_password_checks_total"),
        6.0,
        "5 for the flood, 1 for bob"
    );
    tally.refused();
    assert_eq!(env.upstream_count(), 0);
    tally.finish();
}

#[tokio::test]
async fn hostile_login_bodies_are_refused() {
    let mut tally = Tally::new("login::hostile_login_bodies_are_refused");
    let env = env().await;
    let host = "app1.example.test";
    let raw_json = |body: String| Req::post(host, "/.auth/login").body("application/json", body);
    // Control.
    let response = env.login_json(host, "alice", ALICE_PASSWORD).await;
    assert_eq!(response.status, 200, "control");

    let credentials = |what: &str, request: Req| (what.to_owned(), request, 401);
    let unreadable = |what: &str, request: Req| (what.to_owned(), request, 400);
    let long_password = "p".repeat(1025);
    let cases = vec![
        credentials(
            "a 1025-byte password",
            json_login(host, "alice", &long_password),
        ),
        credentials(
            "the right password with a NUL appended",
            json_login(host, "alice", &format!("{ALICE_PASSWORD}\u{0}")),
        ),
        credentials("an empty password", json_login(host, "alice", "")),
        credentials(
            "the name with a NUL",
            json_login(host, "alice\u{0}", ALICE_PASSWORD),
        ),
        credentials(
            "the name with a Cyrillic a",
            json_login(host, "\u{0430}lice", ALICE_PASSWORD),
        ),
        credentials(
            "a name carrying CR LF",
            json_login(host, "alice\r\nSet-Cookie: x=y", ALICE_PASSWORD),
        ),
        credentials(
            "a disabled user with the right password",
            json_login(host, "carol", CAROL_PASSWORD),
        ),
        credentials(
            "form: the first username wins, not the last",
            Req::post(host, "/.auth/login")
                .origin("https://app1.example.test")
                .form(&[
                    ("username", "bob"),
                    ("username", "alice"),
                    ("password", ALICE_PASSWORD),
                ]),
        ),
        unreadable(
            "JSON with the username twice",
            raw_json(format!(
                r#"{{"username":"bob","username":"alice","password":"{ALICE_PASSWORD}"}}"#
            )),
        ),
        unreadable(
            "JSON with the password twice",
            raw_json(format!(
                r#"{{"username":"alice","password":"x","password":"{ALICE_PASSWORD}"}}"#
            )),
        ),
        unreadable(
            "a username array",
            raw_json(format!(
                r#"{{"username":["alice"],"password":"{ALICE_PASSWORD}"}}"#
            )),
        ),
        unreadable(
            "a null password",
            raw_json(r#"{"username":"alice","password":null}"#.to_owned()),
        ),
        // serde_json skips unknown fields without recursing: refused as a wrong password.
        credentials(
            "JSON nested 5000 deep",
            raw_json(format!(
                r#"{{"username":"alice","password":"x","x":{}{}}}"#,
                "[".repeat(5000),
                "]".repeat(5000)
            )),
        ),
        unreadable(
            "a 1 MiB password",
            json_login(host, "alice", &"p".repeat(1 << 20)),
        ),
        unreadable(
            "a 1 MiB username",
            json_login(host, &"u".repeat(1 << 20), "x"),
        ),
        unreadable(
            "a form body labelled JSON",
            raw_json(format!("username=alice&password={ALICE_PASSWORD}")),
        ),
        unreadable(
            "no content type",
            Req::post(host, "/.auth/login").without("content-type"),
        ),
    ];
    for (what, request, status) in cases {
        let started = Instant::now();
        let response = refused(&env, &mut tally, &what, request, status).await;
        assert!(
            !sets_gateway_cookie(&response.headers),
            "{what}: a cookie was set"
        );
        assert!(
            !response.headers.contains_key("x"),
            "{what}: a header was injected"
        );
        if what.contains("1 MiB") {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{what}: took {:?}",
                started.elapsed()
            );
        }
    }
    // Mass assignment: fields the login does not know are ignored, never granted.
    let response = env
        .send(raw_json(
            json!({"username": "bob", "password": BOB_PASSWORD, "groups": ["admins"],
                   "email": "boss@example.test", "sub": "alice"})
            .to_string(),
        ))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let token = response.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let claims = token_part(&token, 1);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["groups"], json!([]));
    assert!(claims.get("email").is_none(), "{claims}");
    let response = env.send(Req::get(host, "/admin").bearer(&token)).await;
    assert_eq!(response.status, 403, "bob's token reaches /admin");
    tally.neutralized();
    assert_eq!(env.upstream_count(), 0);
    tally.finish();
}
