//! Resource exhaustion over HTTP/1.1: slowloris on the TLS handshake, the request head and
//! the body, and heads built to be too big (10,000 headers, huge URIs and values) or too
//! expensive to normalize. Secure outcome: the connection is cut within its timeout, or the
//! head refused with 431/400, nothing forwarded, and the gateway keeps serving others.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::{Tally, assert_still_serving};
use crate::support::client::Protocol;
use crate::support::env::{Env, env_with};
use crate::support::raw::{raw, read_until_closed, tcp_opened_with, trickle};
use crate::support::tokens::{claims, mint_hs256};
use crate::support::within;

/// Timeouts short enough to test: 1 s for the TLS handshake and the request head, 2 s for
/// the upstream's answer.
async fn short_timeouts() -> Env {
    env_with(|c| {
        c.server("tls_handshake_timeout = \"1s\"")
            .server("header_read_timeout = \"1s\"")
            .server("upstream_timeout = \"2s\"")
            .server("idle_timeout = \"30s\"")
    })
    .await
}

/// Asserts a connection was closed between `min` and `max` after it started.
fn assert_cut(closed_after: Option<Duration>, min: Duration, max: Duration, what: &str) {
    let closed = closed_after.unwrap_or_else(|| panic!("{what}: never closed"));
    assert!(
        closed >= min && closed <= max,
        "{what}: closed after {closed:?}, expected {min:?}..{max:?}"
    );
}

#[tokio::test]
async fn slowloris_heads_and_bodies_are_cut_off() {
    let mut tally = Tally::new("floods::slowloris_heads_and_bodies_are_cut_off");
    let env = short_timeouts().await;
    let alice = mint_hs256(&claims("alice"));
    let (one, six) = (Duration::from_millis(700), Duration::from_secs(6));

    // The TLS handshake: nothing at all, or a ClientHello that stops after its first bytes.
    for (what, bytes) in [
        ("silent TCP connection", &b""[..]),
        (
            "ClientHello cut after 5 bytes",
            &[0x16, 0x03, 0x01, 0x02, 0x00][..],
        ),
    ] {
        let started = Instant::now();
        let mut tcp = tcp_opened_with(env.gateway.addr, bytes).await;
        let (_, closed) = read_until_closed(&mut tcp, started, Duration::from_secs(8)).await;
        assert_cut(closed, one, six, what);
        tally.refused();
    }

    // The request head, on an established TLS connection.
    for (what, first, piece) in [
        (
            "headers trickled one per 200 ms",
            "GET /public/x HTTP/1.1\r\nHost: app1.example.test\r\n",
            "X-Slow: a\r\n",
        ),
        ("the request line trickled byte by byte", "", "G"),
        (
            "a header value trickled byte by byte",
            "GET /public/x HTTP/1.1\r\nHost: app1.example.test\r\nX-Slow: ",
            "a",
        ),
    ] {
        let before = env.upstream_count();
        let slow = trickle(
            &env.client,
            "localhost",
            first.as_bytes(),
            piece.as_bytes(),
            Duration::from_millis(200),
            100,
        )
        .await;
        let (out, closed) = slow.until_closed(Duration::from_secs(8)).await;
        assert_cut(closed, one, six, what);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 400"),
            "{what}: {text}"
        );
        assert_eq!(env.upstream_count(), before, "{what}: forwarded");
        tally.refused();
    }

    // A body trickled to an upstream that waits for all of it: the upstream timeout ends
    // the request (504) and the connection.
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: app1.example.test\r\nAuthorization: Bearer {alice}\r\n\
         Content-Length: 100000\r\n\r\nx"
    );
    let slow = trickle(
        &env.client,
        "app1.example.test",
        head.as_bytes(),
        b"x",
        Duration::from_millis(200),
        200,
    )
    .await;
    let (out, closed) = slow.until_closed(Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 504"),
        "slow body upstream: {text}"
    );
    assert_cut(
        closed,
        Duration::from_millis(1500),
        Duration::from_secs(8),
        "slow body upstream",
    );
    tally.refused();

    // A protected route answers 401 at once, without waiting for the body it will not use.
    let before = env.upstream_count();
    let mut slow = trickle(
        &env.client,
        "app1.example.test",
        b"POST /secret HTTP/1.1\r\nHost: app1.example.test\r\nContent-Length: 1000000\r\n\r\nxx",
        b"x",
        Duration::from_millis(200),
        200,
    )
    .await;
    let mut first = [0u8; 12];
    within(slow.reader.read_exact(&mut first))
        .await
        .expect("answer");
    assert_eq!(&first, b"HTTP/1.1 401", "slow body, no credentials");
    assert!(
        slow.started.elapsed() < Duration::from_secs(2),
        "401 waited for the body: {:?}",
        slow.started.elapsed()
    );
    let (_, closed) = slow.until_closed(Duration::from_secs(10)).await;
    assert_cut(
        closed,
        Duration::ZERO,
        Duration::from_secs(8),
        "slow body, no credentials",
    );
    assert_eq!(env.upstream_count(), before);
    tally.refused();

    // The login body: the endpoint reads it itself, within its own time limit (10 s).
    let slow = trickle(
        &env.client,
        "app1.example.test",
        b"POST /.auth/login HTTP/1.1\r\nHost: app1.example.test\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\nConnection: close\r\n\r\n{\"username\":",
        b" ",
        Duration::from_millis(250),
        100,
    )
    .await;
    let (out, closed) = slow.until_closed(Duration::from_secs(16)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400"), "slow login body: {text}");
    assert_cut(
        closed,
        Duration::from_secs(9),
        Duration::from_secs(15),
        "slow login body",
    );
    tally.refused();
    assert_still_serving(&env, "after slowloris").await;
    tally.finish();
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let mut tally = Tally::new("floods::oversized_heads_are_refused");
    let env = env_with(|c| c).await;
    let host = "Host: app1.example.test\r\n";
    let many = |n: usize| -> String { (0..n).map(|i| format!("X-H{i}: v\r\n")).collect() };
    let cases: Vec<(&str, String, &[u16])> = vec![
        (
            "10,000 headers",
            format!("GET /public/x HTTP/1.1\r\n{host}{}\r\n", many(10_000)),
            &[431],
        ),
        (
            "101 headers",
            format!("GET /public/x HTTP/1.1\r\n{host}{}\r\n", many(100)),
            &[431],
        ),
        (
            "a 20 KB header value",
            format!(
                "GET /public/x HTTP/1.1\r\n{host}X-Big: {}\r\n\r\n",
                "a".repeat(20_000)
            ),
            &[431],
        ),
        (
            "a 20 KB URI",
            format!("GET /public/{} HTTP/1.1\r\n{host}\r\n", "a".repeat(20_000)),
            &[431, 414],
        ),
        (
            "a 100 KB URI",
            format!("GET /public/{} HTTP/1.1\r\n{host}\r\n", "a".repeat(100_000)),
            &[431, 414],
        ),
        (
            "a 1 MB request line without an end",
            format!("GET /{}", "a".repeat(1_000_000)),
            &[431, 414],
        ),
        (
            "10,000 cookies",
            format!(
                "GET /public/x HTTP/1.1\r\n{host}Cookie: {}\r\n\r\n",
                (0..10_000)
                    .map(|i| format!("c{i}=1"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            &[431],
        ),
        (
            "a 20 KB header name",
            format!(
                "GET /public/x HTTP/1.1\r\n{host}{}: v\r\n\r\n",
                "X".repeat(20_000)
            ),
            &[431],
        ),
    ];
    for (what, request, statuses) in cases {
        let before = env.upstream_count();
        let exchange = raw(&env.client, request.as_bytes(), Duration::from_secs(10)).await;
        let got = exchange.statuses();
        assert!(
            got.is_empty() || (got.len() == 1 && statuses.contains(&got[0])),
            "{what}: {got:?}"
        );
        assert!(exchange.closed, "{what}: connection left open");
        assert_eq!(env.upstream_count(), before, "{what}: forwarded");
        tally.refused();
    }
    // Under the limits but built to be expensive to normalize and route: answered at once.
    let alice = mint_hs256(&claims("alice"));
    for (what, path) in [
        ("8,000 dot segments", format!("/{}x", "./".repeat(7000))),
        ("5,000 climbs", format!("/{}x", "a/../".repeat(2800))),
        ("7,000 empty segments", format!("{}x", "/".repeat(7000))),
        ("4,000 escapes", format!("/{}", "%41".repeat(4000))),
    ] {
        let before = env.upstream_count();
        let started = Instant::now();
        let request = format!(
            "GET {path} HTTP/1.1\r\n{host}Authorization: Bearer {alice}\r\nConnection: close\r\n\r\n"
        );
        let exchange = raw(&env.client, request.as_bytes(), Duration::from_secs(10)).await;
        assert_eq!(exchange.statuses(), [200], "{what}: {exchange:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{what}: took {:?}",
            started.elapsed()
        );
        let forwarded = env.app1.last().target;
        assert!(
            !forwarded.contains("/./") && !forwarded.contains("..") && !forwarded.contains("//"),
            "{what}: forwarded un-normalized: {}",
            &forwarded[..forwarded.len().min(80)]
        );
        assert_eq!(env.upstream_count(), before + 1);
        tally.neutralized();
    }
    assert_still_serving(&env, "after oversized heads").await;
    tally.finish();
}

/// An HTTP/1.1 TLS connection that never sends a byte is kept until `idle_timeout` (60 s by
/// default), not `header_read_timeout` (10 s): hyper-util's auto builder first reads the
/// connection preface to tell HTTP/1.1 from HTTP/2, and hyper's header timer only starts
/// after that. A slowloris client that sends nothing holds its connection slot six times
/// longer than the documented head deadline. Secure outcome: cut at `header_read_timeout`.
#[tokio::test]
async fn silent_connection_is_cut_at_header_read_timeout() {
    let env = env_with(|c| {
        c.server("header_read_timeout = \"1s\"")
            .server("idle_timeout = \"30s\"")
    })
    .await;
    let mut tls = env.client.connect("localhost", Protocol::Http1).await;
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut tls, started, Duration::from_secs(8)).await;
    assert_cut(
        closed,
        Duration::from_millis(700),
        Duration::from_secs(6),
        "a TLS connection that sends nothing",
    );
}
