//! One HTTPS client connection: the TLS handshake, the protocol TLS negotiated, and the
//! hyper connection that serves it.
//!
//! The protocol is what ALPN chose: `h2` is HTTP/2, anything else (or no ALPN) HTTP/1.1.
//! HTTP/2 over TLS without ALPN is not allowed (RFC 9113, section 3.3), so nothing sniffs
//! the first bytes of a connection — which would also cost every HTTP/1.1 connection a read
//! buffer twice the size (hyper's grows when its first read returns only the sniffed bytes).
//!
//! Memory per open connection is mostly what the connection's task holds while it waits for
//! the next request, so this module keeps that small: the handshake future is boxed (it is
//! needed only until the handshake is done), the connection is built and pinned in one
//! expression (a local moved into it would keep a slot of its own beside it), the HTTP/2
//! connection, the larger of the two, is boxed so that HTTP/1.1 connections do not pay for
//! its size, and each request's handler future is boxed, because hyper keeps a slot for it
//! in every connection for the connection's whole life. An idle HTTP/1.1 connection gives
//! hyper's buffers back altogether, an idle HTTP/2 one its TLS stream's (module `rest`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::{HttpService, Service, service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::activity::{Activity, Guarded, Served, drive};
use super::rest::{
    ClientService, RestingConnection, Stream, request_allows_rest, response_allows_rest,
};
use super::write_timeout::WriteTimeout;
use crate::gateway::{Gateway, Snapshot, StreamExecutor};
use crate::http::Body;
use crate::request::ConnInfo;
use crate::tls::{IdleRelease, TlsStream};

/// Serves one client connection until it closes, is idle too long, or shutdown finishes it.
pub(super) async fn serve_https(
    gateway: Arc<Gateway>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    // Certificates and HTTP settings of the generation current at accept time.
    let snapshot = gateway.snapshot();
    let _open = gateway.metrics().connection_opened();
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(&snapshot.config().server));
    let connection = pin!(
        match Box::pin(accept_tls(&gateway, &snapshot, stream, peer)).await {
            Some(tls) => serve_connection(&gateway, &snapshot, tls, peer, &activity),
            None => return,
        }
    );
    drive(connection, shutdown, &activity).await;
}

/// The TLS handshake under `tls_handshake_timeout`; `None` (counted and logged) when it
/// fails or times out. The failure is counted before the socket closes, so a client that
/// sees the close and then reads the metrics finds it counted.
async fn accept_tls(
    gateway: &Gateway,
    snapshot: &Snapshot,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream> {
    let handshake = TlsStream::accept(stream, snapshot.tls.config.clone());
    let timeout = snapshot.config().server.tls_handshake_timeout;
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            debug!(error = %e, "tls handshake failed");
            gateway.metrics().handshake_failed();
            None
        }
        Err(_) => {
            warn!(%peer, "tls handshake timed out");
            gateway.metrics().handshake_failed();
            None
        }
    }
}

pin_project_lite::pin_project! {
    /// A served client connection, in the protocol TLS negotiated.
    #[project = ConnectionProjection]
    enum Connection<S>
    where
        S: HttpService<Incoming>,
    {
        Http1 { connection: RestingConnection<S> },
        Http2 {
            connection: Pin<Box<http2::Connection<TokioIo<Stream>, S, StreamExecutor>>>,
            idle_release: IdleRelease,
        },
    }
}

impl<S: ClientService> Future for Connection<S> {
    type Output = hyper::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ConnectionProjection::Http1 { connection } => Pin::new(connection).poll(cx),
            ConnectionProjection::Http2 { connection, .. } => connection.as_mut().poll(cx),
        }
    }
}

impl<S: ClientService> Served for Connection<S> {
    type Error = hyper::Error;

    fn graceful_shutdown(self: Pin<&mut Self>) {
        match self.project() {
            ConnectionProjection::Http1 { connection } => connection.graceful_shutdown(),
            ConnectionProjection::Http2 { connection, .. } => {
                connection.as_mut().graceful_shutdown();
            }
        }
    }

    /// HTTP/1.1 rests whole; HTTP/2 keeps h2's state and rests its TLS stream.
    fn rest(self: Pin<&mut Self>) {
        match self.project() {
            ConnectionProjection::Http1 { connection } => connection.rest(),
            ConnectionProjection::Http2 { idle_release, .. } => idle_release.ask(),
        }
    }
}

/// The hyper connection for a client whose TLS handshake is done, in the protocol ALPN chose.
fn serve_connection(
    gateway: &Arc<Gateway>,
    snapshot: &Snapshot,
    tls: TlsStream,
    peer: SocketAddr,
    activity: &Arc<Activity>,
) -> Connection<
    impl Service<
        Request<Incoming>,
        Response = Response<Guarded<Body>>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + use<>,
> {
    let http2 = tls.alpn_protocol() == Some(b"h2");
    let server_name = tls.server_name();
    let dedicated_sni = snapshot.tls.dedicated_host(server_name);
    if let Some(sni) = server_name {
        tracing::Span::current().record("sni", sni);
    }
    let conn = Arc::new(ConnInfo {
        peer,
        dedicated_sni,
    });
    // The first request's deadline counts from the end of the handshake.
    activity.restart_clock();
    let mut stream = WriteTimeout::new(tls, snapshot.config().server.write_timeout);
    let activity = activity.clone();
    let gateway = gateway.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let mut in_flight = activity.request_started();
        let request_allows_rest = request_allows_rest(&request);
        let (gateway, conn) = (gateway.clone(), conn.clone());
        // hyper keeps a slot for the request's future in every connection for as long as
        // the connection lives; boxed, an idle connection's slot is a pointer instead of the
        // handler's whole state (about 4 KiB), for one allocation per request. The request
        // stays in flight until its response body is sent (or dropped).
        async move {
            // The config generation this request uses from start to finish, even across a
            // reload.
            let snapshot = gateway.snapshot();
            let id = gateway.next_request_id();
            let response = Box::pin(snapshot.pipeline.handle(id, conn, request)).await;
            if request_allows_rest && response_allows_rest(&response) {
                in_flight.allow_rest();
            }
            Ok::<_, Infallible>(response.map(|body| Guarded::new(body, in_flight)))
        }
    });
    let builders = &snapshot.http;
    if http2 {
        Connection::Http2 {
            idle_release: stream.get_mut().idle_release(),
            connection: Box::pin(
                builders
                    .http2
                    .serve_connection(TokioIo::new(stream), service),
            ),
        }
    } else {
        Connection::Http1 {
            connection: RestingConnection::new(&builders.http1, stream, service),
        }
    }
}
