//! Limits and timeouts against misbehaving clients.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::client::{Protocol, read};
use crate::support::gateway::start;
use crate::support::{upstream, within};

/// Reads until the server closes the connection; returns what was read and when it closed.
async fn read_until_closed<R: AsyncReadExt + Unpin>(
    reader: &mut R,
    limit: Duration,
) -> (Vec<u8>, Option<Instant>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(Instant::now())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, None),
        }
    }
}

#[tokio::test]
async fn slowloris_trickling_headers_is_cut_at_header_read_timeout() {
    let gateway = start("[server]\nheader_read_timeout = \"500ms\"\nidle_timeout = \"30s\"\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let tls = gateway.client().connect("localhost", Protocol::Http1).await;
    let (mut reader, mut writer) = tokio::io::split(tls);
    let started = Instant::now();
    writer
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"X-Slow: a\r\n").await.is_err() {
                break;
            }
        }
    });
    let (_, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    trickle.abort();
    let closed_after =
        closed.expect("connection must be closed by the header read timeout") - started;
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
    let text = gateway
        .client()
        .raw(
            format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n").as_bytes(),
            Duration::from_secs(5),
        )
        .await;
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
    let text = gateway
        .client()
        .raw(
            format!("GET / HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n").as_bytes(),
            Duration::from_secs(5),
        )
        .await;
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn malformed_requests_get_400_not_a_panic() {
    let gateway = start("[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let client = gateway.client();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: other\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: user@localhost\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let text = client.raw(raw, Duration::from_secs(5)).await;
        assert!(
            text.starts_with("HTTP/1.1 400"),
            "{:?} → {text}",
            String::from_utf8_lossy(raw)
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
    let mut tls = gateway.client().connect("localhost", Protocol::Http1).await;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let (out, closed) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    let closed_after = closed.expect("idle connection must be closed") - started;
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");
}

#[tokio::test]
async fn idle_http2_connection_is_closed_after_idle_timeout() {
    let gateway =
        start("[server]\nidle_timeout = \"300ms\"\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n")
            .await;
    let tls = gateway.client().connect("localhost", Protocol::Http2).await;
    let (mut sender, connection) = within(hyper::client::conn::http2::handshake(
        TokioExecutor::new(),
        TokioIo::new(tls),
    ))
    .await
    .expect("handshake");
    let connection = tokio::spawn(connection);
    let request = Request::get(format!("https://localhost:{}/", gateway.addr.port()))
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = read(
        within(sender.send_request(request))
            .await
            .expect("response"),
    )
    .await;
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
