//! An in-process upstream: a real hyper HTTP/1.1 server on `127.0.0.1:0` that records every
//! request it receives and answers by path:
//! - `/slow?ms=N`: waits N ms, then echoes;
//! - `/download?bytes=N`: streams N bytes, generated lazily in 64 KiB chunks;
//! - `/upload`: consumes the body chunk by chunk and answers `{"bytes": N}`;
//! - `/ws`: a WebSocket echo server;
//! - `/hsts`: echoes, with a `Strict-Transport-Security` header of its own;
//! - anything else: echoes `{"upstream", "method", "path", "headers"}` as JSON.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::within;

type TestBody = BoxBody<Bytes, Infallible>;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query exactly as received.
    pub target: String,
    pub headers: HeaderMap,
}

/// A running upstream.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits, polling and bounded by [`within`], until this upstream has received a request.
    pub async fn wait_for_request(&self) {
        within(async {
            while self.received().is_empty() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// The last request received; panics when there was none.
    pub fn last(&self) -> Received {
        self.received()
            .pop()
            .expect("the upstream received no request")
    }
}

impl Upstream {
    /// The record of an upstream at `addr` that has received nothing yet.
    pub fn new(addr: SocketAddr, name: &str) -> Upstream {
        Upstream {
            addr,
            name: name.to_owned(),
            received: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

/// Starts an upstream named `name` (the name is echoed, to tell upstreams apart).
pub async fn start(name: &str) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let upstream = Upstream::new(listener.local_addr().expect("addr"), name);
    let state = upstream.clone();
    serve_http1(listener, move |stream| {
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(respond(state, request).await) }
        });
        (stream, service)
    });
    upstream
}

/// Serves every connection `listener` accepts over HTTP/1.1 (upgrades allowed) until the
/// test ends: `connection` turns each accepted stream into the stream to serve and its
/// service. The accept loop of every test server.
pub fn serve_http1<I, S, B>(
    listener: TcpListener,
    connection: impl Fn(TcpStream) -> (I, S) + Send + 'static,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (io, service) = connection(stream);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
}

/// A port with nothing listening on it (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

fn query_number(request: &Request<Incoming>, key: &str) -> u64 {
    request
        .uri()
        .query()
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The answer of every test upstream (see the module doc), recorded in `state`.
pub async fn respond(state: Upstream, mut request: Request<Incoming>) -> Response<TestBody> {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |pq| pq.to_string());
    let received = Received {
        method: request.method().to_string(),
        target: target.clone(),
        headers: request.headers().clone(),
    };
    state.received.lock().expect("lock").push(received.clone());
    match request.uri().path() {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(query_number(&request, "ms"))).await;
            echo(&state, &received)
        }
        "/download" => Response::new(
            Repeat {
                remaining: query_number(&request, "bytes"),
                chunk: Bytes::from(vec![b'x'; 64 * 1024]),
            }
            .boxed(),
        ),
        "/upload" => {
            let mut body = request.into_body();
            let mut bytes = 0u64;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => bytes += frame.data_ref().map_or(0, |d| d.len() as u64),
                    Err(_) => break,
                }
            }
            json(serde_json::json!({ "bytes": bytes }))
        }
        "/ws" => {
            let key = request.headers().get("sec-websocket-key").cloned();
            let Some(key) = key else {
                return status(StatusCode::BAD_REQUEST);
            };
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let mut ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() || ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
                .body(empty())
                .expect("101")
        }
        "/hsts" => {
            let mut response = echo(&state, &received);
            response.headers_mut().insert(
                "strict-transport-security",
                http::HeaderValue::from_static(UPSTREAM_HSTS),
            );
            response
        }
        _ => echo(&state, &received),
    }
}

/// The `Strict-Transport-Security` value `/hsts` answers with.
pub const UPSTREAM_HSTS: &str = "max-age=60";

fn echo(state: &Upstream, received: &Received) -> Response<TestBody> {
    let headers: Vec<(String, String)> = received
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    json(serde_json::json!({
        "upstream": state.name,
        "method": received.method,
        "path": received.target,
        "headers": headers,
    }))
}

fn json(value: serde_json::Value) -> Response<TestBody> {
    Response::builder()
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(value.to_string())).boxed())
        .expect("response")
}

fn empty() -> TestBody {
    http_body_util::Empty::new().boxed()
}

fn status(code: StatusCode) -> Response<TestBody> {
    let mut response = Response::new(empty());
    *response.status_mut() = code;
    response
}

/// A body of `remaining` bytes produced chunk by chunk, never held in memory at once.
struct Repeat {
    remaining: u64,
    chunk: Bytes,
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(self.chunk.len() as u64);
        self.remaining -= n;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n as usize)))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}
