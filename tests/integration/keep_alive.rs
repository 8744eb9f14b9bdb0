//! Keep-alive HTTP/1.1 connections across their rests: idle for `idle_release_after` after
//! a request without a body, a connection releases hyper's buffers until the client sends
//! again (`src/server/rest.rs`). Nothing of that may show: not a byte lost between two hyper
//! connections, not a close without `close_notify`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::support::client::Protocol;
use crate::support::gateway::start;
use crate::support::raw::{RawResponse, exchange_on, parse_responses};
use crate::support::within;

/// A connection rests as soon as each response is sent: every request after the first
/// starts on a rested connection.
const WHOAMI: &str = "[server]\nidle_release_after = \"0s\"\n\
                      [[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n";

/// Reads from `stream` until `count` whole responses have arrived, each read bounded by
/// [`within`].
async fn responses<S: AsyncRead + Unpin>(stream: &mut S, count: usize) -> Vec<RawResponse> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while parse_responses(&out).len() < count {
        let n = within(stream.read(&mut buf)).await.expect("read");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    parse_responses(&out)
}

/// The start of the next request arrives with the one before it, so the hyper connection
/// that served the first has read it, unparsed, when the connection rests: the next one
/// must parse it first, then the rest of the head from the socket.
#[tokio::test]
async fn a_request_head_split_across_a_rest_is_served_whole() {
    let gateway = start(WHOAMI).await;
    let mut tls = gateway.client().connect("localhost", Protocol::Http1).await;
    within(tls.write_all(b"GET /first HTTP/1.1\r\nHost: localhost\r\n\r\nGET /sec"))
        .await
        .expect("write");
    let first = responses(&mut tls, 1).await;
    assert_eq!(first[0].status, 200);
    assert!(
        first[0].text().starts_with("GET /first "),
        "{}",
        first[0].text()
    );
    within(tls.write_all(b"ond?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        .await
        .expect("write");
    let second = responses(&mut tls, 1).await;
    assert_eq!(second[0].status, 200, "{}", second[0].text());
    assert!(
        second[0].text().starts_with("GET /second?x=1 "),
        "{}",
        second[0].text()
    );
}

/// Requests one after another on one connection, each after the last response: every one
/// starts on a rested connection.
#[tokio::test]
async fn a_connection_serves_request_after_request_across_its_rests() {
    let gateway = start(WHOAMI).await;
    let mut tls = gateway.client().connect("localhost", Protocol::Http1).await;
    for n in 0..20 {
        let request = format!("GET /{n} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        within(tls.write_all(request.as_bytes()))
            .await
            .expect("write");
        let response = responses(&mut tls, 1).await;
        assert_eq!(response[0].status, 200);
        assert!(
            response[0].text().starts_with(&format!("GET /{n} ")),
            "{}",
            response[0].text()
        );
    }
}

/// A connection that rests and then stays idle is closed at `idle_timeout` the way hyper
/// closes an idle one: TLS `close_notify`, then FIN (a client sees a clean end, not a
/// truncation).
#[tokio::test]
async fn a_rested_connection_closes_at_idle_timeout_with_close_notify() {
    let gateway =
        start(&WHOAMI.replace("[server]\n", "[server]\nidle_timeout = \"300ms\"\n")).await;
    let tls = gateway.client().connect("localhost", Protocol::Http1).await;
    let (out, ended) = exchange_on(tls, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    ended.expect("a clean close, with close_notify");
}

/// hyper's header timer runs while a keep-alive connection waits for its next request and
/// closes it after `header_read_timeout`; a rested connection has no hyper connection, so
/// it waits until `idle_timeout` and the next head's timer starts with its first bytes
/// (README, `header_read_timeout`). Without the rest this connection is closed after 1 s.
#[tokio::test]
async fn a_rested_connection_outlives_header_read_timeout_until_idle_timeout() {
    let gateway = start(&WHOAMI.replace(
        "[server]\n",
        "[server]\nheader_read_timeout = \"1s\"\nidle_timeout = \"30s\"\n",
    ))
    .await;
    let mut tls = gateway.client().connect("localhost", Protocol::Http1).await;
    within(tls.write_all(b"GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        .await
        .expect("write");
    assert_eq!(responses(&mut tls, 1).await[0].status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    within(tls.write_all(b"GET /later HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        .await
        .expect("write");
    let later = responses(&mut tls, 1).await;
    assert!(
        later[0].text().starts_with("GET /later "),
        "{}",
        later[0].text()
    );
}
