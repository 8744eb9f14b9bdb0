//! Connection deadlines (issue 13, findings 2 and 3): a long request costs no CPU while it
//! waits, and no client can hold a connection slot forever, at any stage — silent after
//! TLS, silent after the HTTP/2 preface, not reading its response, not finishing its body.
//!
//! The CPU tests run the real binary as a child process and read its CPU time from
//! `/proc/<pid>/stat`; they assert a share of the span they measure, long enough that
//! scheduling noise on a loaded machine does not matter (the bug burns ~100 %). The slot
//! tests poll the open-connection gauge under a generous timeout instead of timing
//! anything.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Request;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::client::{Protocol, get_h2, http2};
use crate::support::gateway::{public_route, start};
use crate::support::process::GatewayProcess;
use crate::support::raw::{opened_with, plain_get};
use crate::support::{STEP_TIMEOUT, upstream, within};

/// `idle_timeout` of the CPU tests.
const IDLE: &str = "idle_timeout = \"1s\"\n";
/// How long the CPU tests keep a request or tunnel waiting: over 3 × `idle_timeout`.
const HOLD: Duration = Duration::from_millis(3500);
/// The share of the measured span the gateway may spend on CPU.
const MAX_CPU_SHARE: f64 = 0.05;

/// The HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113, 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

fn assert_cheap(used: Duration, span: Duration, what: &str, gateway: &GatewayProcess) {
    assert!(
        used.as_secs_f64() < span.as_secs_f64() * MAX_CPU_SHARE,
        "{what}: the gateway used {used:?} of CPU over {span:?} (limit {:.0} %)\n{}",
        MAX_CPU_SHARE * 100.0,
        gateway.log()
    );
}

async fn long_request_costs_no_cpu(protocol: Protocol) {
    let app = upstream::start("app").await;
    let gateway = GatewayProcess::start(IDLE, &public_route(&app.url())).await;
    let client = gateway.client();
    let request = Request::get(format!("/slow?ms={}", HOLD.as_millis()))
        .header("host", "localhost")
        .body(Full::default())
        .expect("request");
    let (cpu_before, started) = (gateway.cpu_time(), Instant::now());
    let response = client.send(request, protocol).await;
    let (used, span) = (gateway.cpu_time() - cpu_before, started.elapsed());
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(span >= HOLD, "{span:?}");
    assert_cheap(used, span, &format!("{protocol:?} request"), &gateway);
}

#[tokio::test]
async fn http1_request_longer_than_idle_timeout_costs_no_cpu_while_it_waits() {
    long_request_costs_no_cpu(Protocol::Http1).await;
}

#[tokio::test]
async fn http2_request_longer_than_idle_timeout_costs_no_cpu_while_it_waits() {
    long_request_costs_no_cpu(Protocol::Http2).await;
}

#[tokio::test]
async fn idle_websocket_tunnel_costs_no_cpu_and_still_echoes() {
    let app = upstream::start("app").await;
    let gateway = GatewayProcess::start(IDLE, &public_route(&app.url())).await;
    let tls = gateway.client().connect("localhost", Protocol::Http1).await;
    let request = format!("wss://localhost:{}/ws", gateway.addr.port())
        .into_client_request()
        .expect("ws request");
    let (mut ws, _) = within(tokio_tungstenite::client_async(request, tls))
        .await
        .expect("ws handshake");
    within(ws.send(Message::text("before")))
        .await
        .expect("send");
    assert_eq!(
        within(ws.next()).await.expect("echo").expect("ok"),
        Message::text("before")
    );
    let (cpu_before, started) = (gateway.cpu_time(), Instant::now());
    // The span measured: nothing moves on the tunnel.
    tokio::time::sleep(HOLD).await;
    let (used, span) = (gateway.cpu_time() - cpu_before, started.elapsed());
    assert_cheap(used, span, "idle tunnel", &gateway);
    within(ws.send(Message::text("after"))).await.expect("send");
    assert_eq!(
        within(ws.next()).await.expect("echo").expect("ok"),
        Message::text("after")
    );
}

/// `gateway_open_connections` from the admin listener.
async fn open_connections(admin: SocketAddr) -> u64 {
    let text = plain_get(admin, "admin", "/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix("gateway_open_connections "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no open-connection gauge in:\n{text}"))
}

/// Polls the open-connection gauge until it reads `expected`; fails after [`STEP_TIMEOUT`].
async fn wait_for_open_connections(admin: SocketAddr, expected: u64) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let open = open_connections(admin).await;
        if open == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "open connections stayed at {open}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Short deadlines for every stage; `idle_timeout` long unless a test needs it short, so
/// that each test shows the deadline it is about.
fn deadlines(idle: &str, extra: &str, upstream: &str) -> String {
    format!(
        "[server]\ntls_handshake_timeout = \"1s\"\nheader_read_timeout = \"1s\"\n\
         idle_timeout = \"{idle}\"\nwrite_timeout = \"1s\"\nbody_read_timeout = \"1s\"\n{extra}\n{}",
        public_route(upstream)
    )
}

/// Only `write_timeout` short (1 s): idle and header deadlines cannot be what ends a test.
fn only_write_timeout(upstream: &str) -> String {
    format!(
        "[server]\nheader_read_timeout = \"60s\"\nidle_timeout = \"60s\"\nwrite_timeout = \"1s\"\n{}",
        public_route(upstream)
    )
}

/// `body_read_timeout` 1 s and `upstream_timeout` long enough that only the body deadline
/// can answer in time, in front of the upstream at `upstream`.
fn only_body_read_timeout(upstream: SocketAddr) -> String {
    format!(
        "[server]\nbody_read_timeout = \"1s\"\nupstream_timeout = \"60s\"\n{}",
        public_route(&format!("http://{upstream}"))
    )
}

/// A large download the client asks for and never reads.
const NEVER_READ: &[u8] = b"GET /download?bytes=4000000000 HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn silent_clients_cannot_exhaust_max_connections() {
    let app = upstream::start("app").await;
    let gateway = start(&deadlines("1s", "max_connections = 30", &app.url())).await;
    let client = gateway.client();
    let mut silent = Vec::new();
    for _ in 0..10 {
        // TLS and the HTTP/2 preface, then nothing, and never a read (no PING answered).
        silent.push(opened_with(&client, Protocol::Http2, H2_PREFACE).await);
    }
    for _ in 0..10 {
        // TLS with ALPN h2, then not even the preface.
        silent.push(client.connect("localhost", Protocol::Http2).await);
    }
    for _ in 0..10 {
        silent.push(opened_with(&client, Protocol::Http1, NEVER_READ).await);
    }

    // All 30 slots are taken: this client waits in the backlog until the deadlines free
    // one, then is served, and the gauge comes back to its connection alone.
    let tls = client.connect("localhost", Protocol::Http2).await;
    let (mut sender, _connection) = http2(tls).await;
    let response = get_h2(&mut sender, gateway.addr.port(), "/").await;
    assert_eq!(response.status, 200);
    // A long request keeps the normal connection open (and not idle) while we look.
    let slow = Request::get(format!(
        "https://localhost:{}/slow?ms=30000",
        gateway.addr.port()
    ))
    .body(Full::<Bytes>::default())
    .expect("request");
    let held = tokio::spawn(sender.send_request(slow));
    wait_for_open_connections(gateway.admin_addr, 1).await;
    held.abort();
    drop(silent);
}

#[tokio::test]
async fn http2_client_that_never_sends_the_preface_is_cut() {
    let gateway = start(&deadlines("60s", "", "builtin:whoami")).await;
    let _silent = gateway.client().connect("localhost", Protocol::Http2).await;
    wait_for_open_connections(gateway.admin_addr, 0).await;
}

#[tokio::test]
async fn http2_client_that_never_answers_the_goaway_is_cut() {
    let gateway = start(&deadlines("1s", "", "builtin:whoami")).await;
    let _silent = opened_with(&gateway.client(), Protocol::Http2, H2_PREFACE).await;
    wait_for_open_connections(gateway.admin_addr, 0).await;
}

#[tokio::test]
async fn http2_client_that_only_pings_is_closed_at_idle_timeout() {
    let gateway = start(&deadlines("1s", "", "builtin:whoami")).await;
    let tls = gateway.client().connect("localhost", Protocol::Http2).await;
    // A well-behaved client, except that it keeps the connection busy with PINGs.
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(200))
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(tls))
        .await
        .expect("handshake");
    let connection = tokio::spawn(connection);
    let response = get_h2(&mut sender, gateway.addr.port(), "/").await;
    assert_eq!(response.status, 200);
    // Bytes keep moving, but no request is in flight: GOAWAY, and the client goes.
    let _ = within(connection).await.expect("connection task");
    wait_for_open_connections(gateway.admin_addr, 0).await;
}

#[tokio::test]
async fn client_that_stops_reading_is_cut_at_write_timeout() {
    let app = upstream::start("app").await;
    // Only write_timeout is short: idle and header deadlines cannot be what ends it.
    let gateway = start(&only_write_timeout(&app.url())).await;
    let reader = opened_with(&gateway.client(), Protocol::Http1, NEVER_READ).await;
    wait_for_open_connections(gateway.admin_addr, 0).await;
    drop(reader);
}

#[tokio::test]
async fn http2_client_that_never_opens_its_window_is_cut_at_write_timeout() {
    let app = upstream::start("app").await;
    let gateway = start(&only_write_timeout(&app.url())).await;
    let tls = gateway.client().connect("localhost", Protocol::Http2).await;
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(65_535)
        .handshake(TokioIo::new(tls))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = Request::get(format!(
        "https://localhost:{}/download?bytes=100000000",
        gateway.addr.port()
    ))
    .body(Full::<Bytes>::default())
    .expect("request");
    // The head arrives; the body is never read, so no WINDOW_UPDATE is ever sent and the
    // stream stalls after 64 KiB while the socket itself stays writable.
    let response = within(sender.send_request(request))
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    wait_for_open_connections(gateway.admin_addr, 0).await;
    drop(response);
}

/// An upstream that records the raw bytes of the one connection it accepts, until the
/// gateway closes it, and never answers.
async fn recording_upstream() -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received).await;
        received
    });
    (addr, task)
}

/// Asserts the upstream of [`recording_upstream`] saw the `/upload` request start, with its
/// first chunk, and its connection closed before the body ended.
async fn assert_upload_aborted(received: tokio::task::JoinHandle<Vec<u8>>) {
    let received = within(received).await.expect("upstream task");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("POST /upload HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("hello"), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the body was completed: {text}"
    );
}

#[tokio::test]
async fn request_body_that_stops_arriving_gets_408_and_the_upstream_request_is_aborted() {
    let (upstream, received) = recording_upstream().await;
    // upstream_timeout is long enough that only the body deadline can answer in time.
    let gateway = start(&only_body_read_timeout(upstream)).await;
    // A chunked body whose last chunk never comes.
    let mut tls = opened_with(
        &gateway.client(),
        Protocol::Http1,
        b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .await;
    let mut head = [0u8; 12];
    within(tls.read_exact(&mut head)).await.expect("response");
    assert_eq!(String::from_utf8_lossy(&head), "HTTP/1.1 408");
    // The upstream saw the request start and its connection closed before the body ended.
    assert_upload_aborted(received).await;
}

/// A request body that sends one chunk and then nothing, never ending.
struct StalledBody {
    sent: bool,
}

impl hyper::body::Body for StalledBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if self.sent {
            return std::task::Poll::Pending;
        }
        self.sent = true;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
            b"hello",
        )))))
    }
}

#[tokio::test]
async fn http2_request_body_that_stops_arriving_gets_408_and_the_upstream_request_is_aborted() {
    let (upstream, received) = recording_upstream().await;
    let gateway = start(&only_body_read_timeout(upstream)).await;
    let tls = gateway.client().connect("localhost", Protocol::Http2).await;
    let (mut sender, _connection) = http2(tls).await;
    let request = Request::post(format!("https://localhost:{}/upload", gateway.addr.port()))
        .body(StalledBody { sent: false })
        .expect("request");
    let response = within(sender.send_request(request))
        .await
        .expect("response");
    assert_eq!(response.status(), 408);
    assert_upload_aborted(received).await;
}

#[tokio::test]
async fn listeners_are_bound_with_listen_backlog() {
    let gateway =
        GatewayProcess::start("listen_backlog = 777\n", &public_route("builtin:whoami")).await;
    // For a listening socket, `ss` shows the backlog as Send-Q.
    let output = std::process::Command::new(crate::support::process::tool("ss"))
        .args(["-ltnH", &format!("sport = :{}", gateway.addr.port())])
        .output()
        .expect("run ss");
    let text = String::from_utf8_lossy(&output.stdout);
    let send_q = text
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no listening socket in `ss` output: {text:?}"));
    assert_eq!(send_q, "777", "{text}");
}
