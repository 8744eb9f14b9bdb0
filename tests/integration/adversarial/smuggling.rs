//! Request smuggling (PortSwigger's CL.TE / TE.CL / TE.TE families, RFC 9112 §6.3): bytes
//! that two parsers could frame differently must be refused, or framed one way by the
//! gateway and re-framed unambiguously for the upstream. The upstream here is a tap: a real
//! HTTP/1.1 server that records every byte it reads and every request it parses, so a
//! request smuggled through the gateway's upstream connection would show up as a request
//! the gateway never authorized.
//!
//! Every smuggled request targets `/admin/smuggled` without credentials; the tap must never
//! parse a request for it. After each case a fresh request checks that the pooled upstream
//! connection was not left out of step (a poisoned response queue would answer it with a
//! response meant for another request).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::support::upstream::serve_http1;
use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use super::Tally;
use crate::support::auth_config::auth_config;
use crate::support::client::TestClient;
use crate::support::gateway::TestGateway;
use crate::support::raw::{RawExchange, raw, raw_expecting};
use crate::support::tokens::{claims, mint_hs256};

/// One request as the tap parsed it.
#[derive(Debug, Clone)]
struct Tapped {
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
}

/// An upstream that records raw bytes and parsed requests.
#[derive(Clone)]
struct Tap {
    addr: SocketAddr,
    raw: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<Tapped>>>,
}

impl Tap {
    async fn start() -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tap");
        let tap = Tap {
            addr: listener.local_addr().expect("addr"),
            raw: Arc::default(),
            requests: Arc::default(),
        };
        let state = tap.clone();
        serve_http1(listener, move |stream| {
            let state = state.clone();
            let io = Recording {
                inner: stream,
                log: state.raw.clone(),
            };
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(state.answer(request).await) }
            });
            (io, service)
        });
        tap
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Tapped> {
        self.requests.lock().expect("lock").clone()
    }

    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().expect("lock")).into_owned()
    }

    /// Reads the whole body (bounded in time, so a stalled body cannot hang the test),
    /// records the request and echoes its target.
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), |pq| pq.to_string());
        let (parts, mut body) = request.into_parts();
        let mut bytes = Vec::new();
        let mut trailers = None;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(frame)) = body.frame().await {
                match frame.into_data() {
                    Ok(data) => bytes.extend_from_slice(&data),
                    Err(frame) => trailers = frame.into_trailers().ok(),
                }
            }
        })
        .await;
        self.requests.lock().expect("lock").push(Tapped {
            target: target.clone(),
            headers: parts.headers,
            body: bytes,
            trailers,
        });
        Response::builder()
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(format!("tap saw {target}"))))
            .expect("response")
    }
}

/// Records what is read from the inner stream.
struct Recording<T> {
    inner: T,
    log: Arc<Mutex<Vec<u8>>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Recording<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled()[before..].to_vec();
        self.log.lock().expect("lock").extend_from_slice(&read);
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Recording<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The common auth config with app1.example.test's routes on the tap.
struct SmuggleEnv {
    _gateway: TestGateway,
    client: TestClient,
    tap: Tap,
}

async fn smuggle_env() -> SmuggleEnv {
    let tap = Tap::start().await;
    // Connections rest as soon as a response is sent, so every pipelined case also
    // crosses from one hyper connection to the next (`src/server/rest.rs`).
    let gateway = auth_config(&tap.url(), &tap.url())
        .server("upstream_timeout = \"5s\"\nidle_release_after = \"0s\"")
        .start()
        .await;
    SmuggleEnv {
        client: gateway.client(),
        _gateway: gateway,
        tap,
    }
}

/// The request a smuggler hides: protected, without credentials.
const SMUGGLED: &str =
    "GET /admin/smuggled HTTP/1.1\r\nHost: app1.example.test\r\nX-Forwarded-User: alice\r\n\r\n";

/// Sends `bytes` and reads `expected` responses (or until the connection closes), then
/// checks: no smuggled request at the tap, every tapped request is one the gateway
/// authorized, and a fresh request still gets its own response.
async fn attempt(
    env: &SmuggleEnv,
    what: &str,
    bytes: &[u8],
    expected: usize,
) -> (RawExchange, Vec<Tapped>) {
    let before = env.tap.requests().len();
    let exchange = raw_expecting(&env.client, bytes, expected, Duration::from_secs(10)).await;
    // The tap may still be reading a body the gateway streams; give it a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tapped: Vec<Tapped> = env.tap.requests()[before..].to_vec();
    for request in &tapped {
        assert!(
            !request.target.contains("smuggled"),
            "{what}: the smuggled request reached the upstream: {request:?}"
        );
        assert!(
            request.target.starts_with("/public/"),
            "{what}: an unauthorized request reached the upstream: {request:?}"
        );
        let users: Vec<_> = request.headers.get_all("x-forwarded-user").iter().collect();
        assert!(
            users.is_empty(),
            "{what}: identity header upstream: {request:?}"
        );
    }
    // No pooled connection left out of step.
    let probe =
        "GET /public/probe HTTP/1.1\r\nHost: app1.example.test\r\nConnection: close\r\n\r\n";
    let check = raw(&env.client, probe.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(check.statuses(), [200], "{what}: follow-up: {check:?}");
    assert_eq!(
        check.responses[0].text(),
        "tap saw /public/probe",
        "{what}: the follow-up got another request's response"
    );
    (exchange, tapped)
}

/// A POST to the public route with `framing` header lines and `body`.
fn post(framing: &str, body: &str) -> Vec<u8> {
    format!("POST /public/outer HTTP/1.1\r\nHost: app1.example.test\r\n{framing}\r\n{body}")
        .into_bytes()
}

/// What a case must come to.
enum Outcome {
    /// 400 before anything reached the upstream, and the connection closed.
    Refused,
    /// The head was fine and forwarded, the body broke while streaming: 400, the
    /// connection closed, the upstream at most saw the start of the legitimate body.
    BrokenBody,
    /// Served with exactly these statuses; the upstream saw exactly these (target, body)
    /// requests, re-framed by the gateway.
    Served(Vec<u16>, Vec<(&'static str, String)>),
}

/// Runs one case and checks its outcome; counts it.
async fn check(env: &SmuggleEnv, tally: &mut Tally, what: &str, bytes: &[u8], outcome: Outcome) {
    let expected = match &outcome {
        Outcome::Refused | Outcome::BrokenBody => 1,
        Outcome::Served(statuses, _) => statuses.len(),
    };
    let (exchange, tapped) = attempt(env, what, bytes, expected).await;
    let statuses = exchange.statuses();
    match outcome {
        Outcome::Refused => {
            assert_eq!(statuses, [400], "{what}: {exchange:?}");
            assert!(tapped.is_empty(), "{what}: forwarded {tapped:?}");
            assert!(exchange.closed, "{what}: connection left open");
            tally.refused();
        }
        Outcome::BrokenBody => {
            // The client's body broke, not the upstream: 400, never 502.
            assert_eq!(statuses, [400], "{what}: {exchange:?}");
            assert!(exchange.closed, "{what}: connection left open");
            assert!(tapped.len() <= 1, "{what}: {tapped:?}");
            for request in &tapped {
                assert_eq!(request.target, "/public/outer", "{what}");
                assert!(b"hello".starts_with(&request.body), "{what}: {request:?}");
            }
            tally.refused();
        }
        Outcome::Served(expected_statuses, expected) => {
            assert_eq!(statuses, expected_statuses, "{what}: {exchange:?}");
            let seen: Vec<(String, String)> = tapped
                .iter()
                .map(|t| {
                    (
                        t.target.clone(),
                        String::from_utf8_lossy(&t.body).into_owned(),
                    )
                })
                .collect();
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(target, body)| (target.to_owned(), body))
                .collect();
            assert_eq!(seen, expected, "{what}: what the upstream received");
            for request in &tapped {
                // One framing, consistent with the body actually sent.
                let te = request.headers.get("transfer-encoding").is_some();
                let cl = request
                    .headers
                    .get("content-length")
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                assert!(
                    !(te && cl.is_some()),
                    "{what}: both framings upstream: {:?}",
                    request.headers
                );
                if let Some(cl) = cl {
                    assert_eq!(cl, request.body.len().to_string(), "{what}: Content-Length");
                }
                assert!(request.trailers.is_none(), "{what}: trailers forwarded");
            }
            tally.neutralized();
        }
    }
}

#[tokio::test]
async fn conflicting_framing_is_refused_or_normalized() {
    let mut tally = Tally::new("smuggling::conflicting_framing_is_refused_or_normalized");
    let env = smuggle_env().await;
    let chunked_smuggle = format!("0\r\n\r\n{SMUGGLED}");
    let as_chunk = format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    let outer = |body: &str| Outcome::Served(vec![200], vec![("/public/outer", body.to_owned())]);
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        (
            // Transfer-Encoding wins (RFC 9112 §6.3); the connection is closed after the
            // response, so the bytes after the last chunk are never read as a request.
            "CL.TE: Content-Length then chunked",
            post(
                &format!(
                    "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
                    chunked_smuggle.len()
                ),
                &chunked_smuggle,
            ),
            outer(""),
        ),
        (
            // The same: the smuggled request is the chunk's data, re-framed as body bytes.
            "TE.CL: chunked then Content-Length",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                &as_chunk,
            ),
            outer(SMUGGLED),
        ),
        (
            "TE.TE: xchunked",
            post(
                "Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n",
                &chunked_smuggle,
            ),
            Outcome::Refused,
        ),
        (
            "TE.TE: chunked then a second TE header",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
                &chunked_smuggle,
            ),
            Outcome::Refused,
        ),
        (
            "TE.TE: chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", &chunked_smuggle),
            Outcome::Refused,
        ),
        (
            "TE.TE: space before the colon",
            post(
                &format!(
                    "Transfer-Encoding : chunked\r\nContent-Length: {}\r\n",
                    chunked_smuggle.len()
                ),
                &chunked_smuggle,
            ),
            Outcome::Refused,
        ),
        (
            "TE.TE: obs-folded",
            post(
                &format!(
                    "X-Pad: x\r\n Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
                    chunked_smuggle.len()
                ),
                &chunked_smuggle,
            ),
            Outcome::Refused,
        ),
        (
            "TE.TE: vertical tab",
            post("Transfer-Encoding:\x0bchunked\r\n", &chunked_smuggle),
            Outcome::Refused,
        ),
        (
            "TE.TE: quoted",
            post("Transfer-Encoding: \"chunked\"\r\n", &chunked_smuggle),
            Outcome::Refused,
        ),
        (
            "TE in HTTP/1.0",
            format!(
                "POST /public/outer HTTP/1.0\r\nHost: app1.example.test\r\n\
                 Transfer-Encoding: chunked\r\n\r\n{chunked_smuggle}"
            )
            .into_bytes(),
            Outcome::Refused,
        ),
        (
            "two different Content-Lengths",
            post(
                &format!(
                    "Content-Length: 5\r\nContent-Length: {}\r\n",
                    5 + SMUGGLED.len()
                ),
                &format!("hello{SMUGGLED}"),
            ),
            Outcome::Refused,
        ),
        (
            "a Content-Length list that disagrees",
            post(
                &format!("Content-Length: 5, {}\r\n", 5 + SMUGGLED.len()),
                &format!("hello{SMUGGLED}"),
            ),
            Outcome::Refused,
        ),
        (
            "Content-Length with a sign",
            post("Content-Length: +5\r\n", "hello"),
            Outcome::Refused,
        ),
        (
            "negative Content-Length",
            post("Content-Length: -1\r\n", "hello"),
            Outcome::Refused,
        ),
        (
            "hex Content-Length",
            post("Content-Length: 0x5\r\n", "hello"),
            Outcome::Refused,
        ),
        (
            "Content-Length with a suffix",
            post("Content-Length: 5a\r\n", "hello"),
            Outcome::Refused,
        ),
        (
            "Content-Length past 64 bits",
            post("Content-Length: 99999999999999999999\r\n", "hello"),
            Outcome::Refused,
        ),
        (
            "chunk size past 64 bits",
            post(
                "Transfer-Encoding: chunked\r\n",
                "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
            ),
            Outcome::BrokenBody,
        ),
        (
            "negative chunk size",
            post("Transfer-Encoding: chunked\r\n", "-5\r\nhello\r\n0\r\n\r\n"),
            Outcome::BrokenBody,
        ),
        (
            "chunk longer than its size",
            post(
                "Transfer-Encoding: chunked\r\n",
                &format!("5\r\nhello{SMUGGLED}\r\n0\r\n\r\n"),
            ),
            Outcome::BrokenBody,
        ),
        (
            "chunk size line ended by a bare LF",
            post(
                "Transfer-Encoding: chunked\r\n",
                &format!("5\nhello\n0\n\n{SMUGGLED}"),
            ),
            Outcome::BrokenBody,
        ),
        (
            "duplicate equal Content-Lengths",
            post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
            outer("hello"),
        ),
    ];
    for (what, bytes, outcome) in cases {
        check(&env, &mut tally, what, &bytes, outcome).await;
    }
    tally.finish();
}

#[tokio::test]
async fn pipelined_requests_are_each_authorized() {
    let mut tally = Tally::new("smuggling::pipelined_requests_are_each_authorized");
    let env = smuggle_env().await;
    let bob = mint_hs256(&claims("bob"));
    let public_a = || vec![("/public/a", String::new())];
    let cases: Vec<(&str, String, Outcome)> = vec![
        (
            "a public request, then a protected one",
            format!("GET /public/a HTTP/1.1\r\nHost: app1.example.test\r\n\r\n{SMUGGLED}"),
            Outcome::Served(vec![200, 401], public_a()),
        ),
        (
            "Content-Length 0, the smuggled request after it",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: app1.example.test\r\nContent-Length: 0\r\n\r\n\
                 {SMUGGLED}"
            ),
            Outcome::Served(vec![200, 401], public_a()),
        ),
        (
            "a GET whose body is a request",
            format!(
                "GET /public/a HTTP/1.1\r\nHost: app1.example.test\r\nContent-Length: {}\r\n\r\n\
                 {SMUGGLED}",
                SMUGGLED.len()
            ),
            Outcome::Served(vec![200], vec![("/public/a", SMUGGLED.to_owned())]),
        ),
        (
            "a refused request, then one riding on it",
            format!("GET /admin HTTP/1.1\r\nHost: app1.example.test\r\n\r\n{SMUGGLED}"),
            Outcome::Served(vec![401, 401], Vec::new()),
        ),
        (
            "a WebSocket upgrade the upstream declines, then a request",
            format!(
                "GET /public/a HTTP/1.1\r\nHost: app1.example.test\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n{SMUGGLED}"
            ),
            Outcome::Served(vec![200, 401], public_a()),
        ),
        (
            "a trailer carrying an identity header",
            "POST /public/a HTTP/1.1\r\nHost: app1.example.test\r\nTransfer-Encoding: chunked\r\n\
             Trailer: X-Forwarded-User\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\
             X-Forwarded-User: admin\r\n\r\n"
                .to_owned(),
            Outcome::Served(vec![200], vec![("/public/a", "hello".to_owned())]),
        ),
        (
            "a token on the first request only",
            format!(
                "GET /public/a HTTP/1.1\r\nHost: app1.example.test\r\nAuthorization: Bearer {bob}\r\n\r\n\
                 {SMUGGLED}"
            ),
            Outcome::Served(vec![200, 401], public_a()),
        ),
    ];
    for (what, bytes, outcome) in cases {
        check(&env, &mut tally, what, bytes.as_bytes(), outcome).await;
    }
    // h2c (the "h2c smuggling" of proxies that tunnel an upgraded connection): the upgrade
    // is dropped, and an HTTP/2 preface afterwards is never a tunnel to the upstream.
    let bytes = format!(
        "GET /public/a HTTP/1.1\r\nHost: app1.example.test\r\nUpgrade: h2c\r\n\
         HTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n\
         PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n{SMUGGLED}"
    );
    let (exchange, tapped) = attempt(&env, "h2c upgrade", bytes.as_bytes(), 1).await;
    assert_eq!(exchange.statuses().first(), Some(&200), "h2c: {exchange:?}");
    assert!(
        !exchange.statuses().contains(&101),
        "h2c: switched protocols"
    );
    assert_eq!(tapped.len(), 1, "h2c: {tapped:?}");
    assert!(
        tapped[0].headers.get("upgrade").is_none(),
        "h2c: upgrade forwarded"
    );
    tally.neutralized();
    assert!(
        !env.tap
            .raw_text()
            .to_ascii_lowercase()
            .contains("x-forwarded-user: admin"),
        "a trailer's identity header reached the upstream"
    );
    tally.finish();
}
