//! Limits and timeouts against misbehaving clients.

use std::time::{Duration, Instant};

use crate::support::client::{Protocol, get_h2, http2};
use crate::support::gateway::start;
use crate::support::raw::{opened_with, raw, read_until_closed, trickle};
use crate::support::{upstream, within};

#[tokio::test]
async fn slowloris_trickling_headers_is_cut_at_header_read_timeout() {
    let gateway = start("[server]\nheader_read_timeout = \"500ms\"\nidle_timeout = \"30s\"\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let slow = trickle(
        &gateway.client(),
        "localhost",
        b"GET / HTTP/1.1\r\nHost: localhost\r\n",
        b"X-Slow: a\r\n",
        Duration::from_millis(100),
        100,
    )
    .await;
    let (_, closed) = slow.until_closed(Duration::from_secs(5)).await;
    let closed_after = closed.expect("connection must be closed by the header read timeout");
    assert!(
        closed_after >= Duration::from_millis(400),
        "closed too early: {closed_after:?}"
    );
    assert!(
        closed_after < Duration::from_secs(3),
        "closed late: {closed_after:?}"
    );
}

#[tokio::test]
async fn oversized_request_head_gets_431() {
    let app = upstream::start("app").await;
    let gateway = start(&format!(
        "[server]\nmax_request_header_bytes = 16384\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let big = "a".repeat(20_000);
    let text = raw(
        &gateway.client(),
        format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await
    .text();
    assert!(
        text.starts_with("HTTP/1.1 431"),
        "{}",
        &text[..text.len().min(200)]
    );
    let fits = gateway
        .client()
        .get("localhost", &format!("/?{}", "b".repeat(8000)))
        .await;
    assert_eq!(fits.status, 200);
    assert_eq!(app.received().len(), 1);
}

#[tokio::test]
async fn too_many_headers_get_431() {
    let app = upstream::start("app").await;
    let gateway = start(&format!(
        "[server]\nmax_headers = 20\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let headers: String = (0..30).map(|i| format!("X-H{i}: v\r\n")).collect();
    let text = raw(
        &gateway.client(),
        format!("GET / HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await
    .text();
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn malformed_requests_get_400_not_a_panic() {
    let gateway = start("[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let client = gateway.client();
    for bytes in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: other\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: user@localhost\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let text = raw(&client, bytes, Duration::from_secs(5)).await.text();
        assert!(
            text.starts_with("HTTP/1.1 400"),
            "{:?} → {text}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(
        client.get("localhost", "/").await.status,
        200,
        "gateway still serves"
    );
}

#[tokio::test]
async fn idle_http1_connection_is_closed_after_idle_timeout() {
    let gateway = start("[server]\nidle_timeout = \"300ms\"\nheader_read_timeout = \"10s\"\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let mut tls = opened_with(
        &gateway.client(),
        Protocol::Http1,
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let started = Instant::now();
    let (out, closed) = read_until_closed(&mut tls, started, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    let closed_after = closed.expect("idle connection must be closed");
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");
}

#[tokio::test]
async fn idle_http2_connection_is_closed_after_idle_timeout() {
    let gateway =
        start("[server]\nidle_timeout = \"300ms\"\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n")
            .await;
    let tls = gateway.client().connect("localhost", Protocol::Http2).await;
    let (mut sender, connection) = http2(tls).await;
    let response = get_h2(&mut sender, gateway.addr.port(), "/").await;
    assert_eq!(response.status, 200);
    let started = Instant::now();
    within(connection).await.expect("connection task").ok();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connections_beyond_max_connections_wait_for_a_free_slot() {
    let gateway =
        start("[server]\nmax_connections = 1\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let client = gateway.client();
    let first = client.connect("localhost", Protocol::Http1).await;
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.get("localhost", "/").await.status }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "second connection was served while the first held the only slot"
    );
    drop(first);
    assert_eq!(within(waiting).await.expect("task"), 200);
}
