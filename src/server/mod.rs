//! Serving connections: accept loops, one task per connection, graceful shutdown.
//!
//! | module | concept |
//! |---|---|
//! | this one | [`run`], the accept loops, the redirect and admin connection tasks |
//! | `https` | one HTTPS connection: handshake, protocol by ALPN, its memory per connection |
//! | `workers` | thread per core: the worker threads, each marked with `worker::set_current` |
//! | `activity` | connection deadlines: requests in flight, idle time, driving a connection |
//! | `write_timeout` | the stream wrapper that ends a write making no progress |
//!
//! Ownership and shutdown, as they flow:
//! - [`run`] owns a `watch` channel whose value turns `true` once the caller's shutdown future
//!   completes. Every accept loop (of every worker) and every connection task holds a
//!   receiver; [`run`] returns once every worker has drained.
//! - An accept loop takes a permit from its listener's `max_connections` semaphore *before*
//!   accepting, so a full gateway stops accepting (the kernel's backlog holds new clients)
//!   instead of accepting and dropping. The permit moves into the connection task and is
//!   released when the task ends.
//! - Connection tasks live in the loop's `JoinSet`. On shutdown the loop drops its listener
//!   (no new connections), each connection is told to finish gracefully (HTTP/1.1: after the
//!   in-flight response; HTTP/2: GOAWAY), and the loop waits up to `shutdown_grace` for the
//!   set to empty. Whatever remains after that is aborted when the set is dropped.
//! - Per connection, everything slow happens in the task, never in the loop: `set_nodelay`,
//!   the TLS handshake (under `tls_handshake_timeout`), and serving. The header-read timeout
//!   is hyper's (it needs the timer set on the builder); the other deadlines are ours
//!   (`activity`): `idle_timeout` with no request in flight asks a connection to close, and
//!   one that then stays idle, or a write that makes no progress for `write_timeout`, is
//!   cut. Note that hyper's HTTP/1.1 header timer also runs while a keep-alive connection
//!   waits for its next request, so an HTTP/1.1 connection idles at most
//!   `header_read_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, info, info_span, warn};

mod activity;
mod https;
mod workers;
mod write_timeout;

use activity::{Activity, Guarded, drive};
use https::serve_https;
use workers::start_workers;
use write_timeout::WriteTimeout;

use crate::admin;
use crate::gateway::{Gateway, Snapshot};
use crate::http::{Body, empty};
use crate::router::normalize_host;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Sockets the caller bound; `run` serves them until shutdown.
#[derive(Debug)]
pub struct Listeners {
    /// The HTTPS listener.
    pub https: TcpListener,
    /// The optional plain-HTTP listener that redirects to HTTPS.
    pub redirect_http: Option<TcpListener>,
    /// The optional plain-HTTP admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub admin: Option<TcpListener>,
}

/// Binds a listening socket on `addr` whose accept queue holds `backlog` connections
/// (`[server] listen_backlog`; the kernel caps it at `net.core.somaxconn`). Clients beyond
/// `max_connections` wait in this queue, so a short one refuses them under a burst.
/// `SO_REUSEADDR` is set, as `TcpListener::bind` does, so a restart can bind at once.
///
/// # Errors
/// The OS error of creating, binding or listening on the socket.
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Open connections the admin listener accepts at once; probes and scrapes are few.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// Serves the listeners until `shutdown` completes, then drains connections for up to
/// `shutdown_grace`. Starts `server.workers - 1` worker threads besides the caller's
/// runtime (see the module docs) and returns when all of them have stopped.
pub async fn run(listeners: Listeners, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    let (signal, watch) = watch::channel(false);
    // Fixed at startup: the semaphore sizes and the worker count cannot follow a reload.
    let snapshot = gateway.snapshot();
    let (max_connections, workers) = (
        snapshot.config().server.max_connections,
        snapshot.config().server.workers,
    );
    let https_permits = Arc::new(Semaphore::new(max_connections));
    let https_port = listeners.https.local_addr().map_or(443, |a| a.port());
    let stopped_workers =
        start_workers(&listeners.https, workers, &gateway, &https_permits, &watch);
    let https = serve_https_listener(
        listeners.https,
        gateway.clone(),
        https_permits,
        watch.clone(),
    );
    let grace = || gateway.snapshot().config().server.shutdown_grace;
    let redirect = async {
        if let Some(listener) = listeners.redirect_http {
            let serve = |stream, _peer, shutdown| {
                let service = service_fn(move |request: Request<Incoming>| {
                    std::future::ready(Ok::<_, Infallible>(redirect_to_https(&request, https_port)))
                });
                serve_plain(gateway.snapshot(), stream, shutdown, service)
            };
            let permits = Arc::new(Semaphore::new(max_connections));
            accept_loop(listener, permits, watch.clone(), grace, serve).await;
        }
    };
    let admin = async {
        if let Some(listener) = listeners.admin {
            let serve = |stream, _peer, shutdown| {
                let snapshot = gateway.snapshot();
                let gateway = gateway.clone();
                let service = service_fn(move |request: Request<Incoming>| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(admin::handle(&gateway, &request).await) }
                });
                serve_plain(snapshot, stream, shutdown, service)
            };
            let permits = Arc::new(Semaphore::new(ADMIN_MAX_CONNECTIONS));
            accept_loop(listener, permits, watch.clone(), grace, serve).await;
        }
    };
    let trigger = async {
        shutdown.await;
        info!("shutting down: no new connections, draining open ones");
        signal.send_replace(true);
    };
    tokio::join!(trigger, https, redirect, admin);
    for stopped in stopped_workers {
        // An error means the worker's thread is gone, which is also stopped.
        let _ = stopped.await;
    }
}

/// The HTTPS accept loop of one worker.
pub(super) async fn serve_https_listener(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    permits: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
) {
    let grace = || gateway.snapshot().config().server.shutdown_grace;
    let serve = |stream, peer, shutdown| serve_https(gateway.clone(), stream, peer, shutdown);
    accept_loop(listener, permits, shutdown, grace, serve).await;
}

/// Serves one listener, capped by `permits`. Each listener has its own semaphore: one shared
/// by two listeners whose loops both wait for a permit before accepting would let an idle
/// listener hold the last permit while the busy one starves. The HTTPS workers share theirs
/// safely, because they accept from one socket: whichever holds a permit takes the next
/// client.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
    grace: impl Fn() -> Duration,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let local = listener.local_addr().ok();
    let mut connections = JoinSet::new();
    loop {
        let permit: OwnedSemaphorePermit = tokio::select! {
            _ = stopped(&mut shutdown) => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed; stop if it ever is
            },
        };
        let (stream, peer) = tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let span = info_span!("conn", %peer, local = ?local, sni = tracing::field::Empty);
        let task = serve(stream, peer, shutdown.clone());
        connections.spawn(Permitted { task, permit }.instrument(span));
        while let Some(finished) = connections.try_join_next() {
            if let Err(e) = finished
                && e.is_panic()
            {
                tracing::error!(error = %e, "connection task panicked");
            }
        }
    }
    drop(listener);
    let open = connections.len();
    if open == 0 {
        return;
    }
    let grace = grace();
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => info!(listener = ?local, connections = open, "connections drained"),
        Err(_) => {
            warn!(remaining = connections.len(), grace = ?grace, "shutdown grace period over; closing remaining connections")
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection task that holds its listener's permit until it finishes (or is dropped).
    /// A wrapper rather than an `async` block, which would store the task twice: once as the
    /// block's capture and once as the future it awaits.
    struct Permitted<F> {
        #[pin]
        task: F,
        permit: OwnedSemaphorePermit,
    }
}

impl<F: Future> Future for Permitted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().task.poll(cx)
    }
}

/// Completes once shutdown has been signalled (or the sender is gone). The `watch` guard is
/// dropped inside, so callers' futures stay `Send`.
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves one plain-HTTP/1.1 connection (the redirect and admin listeners), under the same
/// deadlines as HTTPS connections.
async fn serve_plain<S>(
    snapshot: Arc<Snapshot>,
    stream: TcpStream,
    shutdown: watch::Receiver<bool>,
    service: S,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    let settings = &snapshot.config().server;
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(settings));
    let io = TokioIo::new(WriteTimeout::new(stream, settings.write_timeout));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_request_header_bytes);
    let tracked = activity.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let in_flight = tracked.request_started();
        let response = service.call(request);
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Guarded::new(body, in_flight)))
        }
    });
    let connection = pin!(builder.serve_connection(io, service));
    drive(
        connection,
        http1::Connection::graceful_shutdown,
        shutdown,
        &activity,
    )
    .await;
}

/// `308` to the same host and target on HTTPS; 400 without a usable host.
fn redirect_to_https(request: &Request<Incoming>, https_port: u16) -> Response<Body> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| normalize_host(h).ok());
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = host.and_then(|host| {
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        HeaderValue::from_str(&format!("https://{host}{port}{target}")).ok()
    });
    let mut response = Response::new(empty());
    match location {
        Some(location) => {
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(header::LOCATION, location);
        }
        None => *response.status_mut() = StatusCode::BAD_REQUEST,
    }
    response
}
