//! Workers, accept loops, one task per connection, idle timeout, and graceful shutdown.
//!
//! # Workers (thread per core)
//!
//! HTTPS connections are served by `server.workers` workers (one per CPU by default). Each
//! is a thread with its own single-threaded tokio runtime and its own handle on the one
//! HTTPS listening socket (a duplicated descriptor: the kernel hands each new connection to
//! whichever worker accepts first, so a busy worker takes fewer). A connection lives on the
//! worker that accepted it: its TLS, its HTTP tasks, and the upstream connections it uses —
//! the proxy keeps one upstream pool per worker ([`current_worker`]) — so a request never
//! crosses threads and no lock or wake-up is shared between workers on the hot path. Worker
//! 0 is the runtime that calls [`run`]; it also serves the redirect and admin listeners.
//! One `max_connections` semaphore is shared by all HTTPS workers.
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
//!   is hyper's (it needs the timer set on the builder); the idle timeout is ours: bytes
//!   moving or a request in flight keep a connection alive, `idle_timeout` of neither ends it.
//!   Note that hyper's HTTP/1.1 header timer also runs while a keep-alive connection waits
//!   for its next request, so an HTTP/1.1 connection idles at most `header_read_timeout`.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::admin;
use crate::config::ServerSettings;
use crate::gateway::{Gateway, Snapshot};
use crate::handler::{ConnInfo, handle};
use crate::response::{Body, empty};
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

/// Open connections the admin listener accepts at once; probes and scrapes are few.
const ADMIN_MAX_CONNECTIONS: usize = 64;

thread_local! {
    /// The index of the worker whose thread this is; 0 off the worker threads.
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running the caller (0 for worker 0 and off the worker threads),
/// for state kept per worker such as the upstream connection pools.
pub fn current_worker() -> usize {
    WORKER.with(Cell::get)
}

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

/// Starts workers 1..`workers`, each on its own thread with a duplicate of the `https`
/// descriptor (worker 0 keeps `https` itself); returns one receiver per started worker that
/// completes when it has stopped. A worker that cannot start is logged and skipped: the
/// others still serve.
fn start_workers(
    https: &TcpListener,
    workers: usize,
    gateway: &Arc<Gateway>,
    permits: &Arc<Semaphore>,
    shutdown: &watch::Receiver<bool>,
) -> Vec<oneshot::Receiver<()>> {
    let mut stopped = Vec::with_capacity(workers.saturating_sub(1));
    for index in 1..workers {
        let (done, done_rx) = oneshot::channel::<()>();
        // The duplicate shares the socket and its non-blocking flag.
        let listener = match https.as_fd().try_clone_to_owned() {
            Ok(fd) => std::net::TcpListener::from(fd),
            Err(e) => {
                warn!(worker = index, error = %e, "cannot share the https listener with a worker");
                continue;
            }
        };
        let (gateway, permits, shutdown) = (gateway.clone(), permits.clone(), shutdown.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("gateway-w{index}"))
            .spawn(move || {
                WORKER.with(|worker| worker.set(index));
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        warn!(worker = index, error = %e, "cannot start a worker runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            serve_https_listener(listener, gateway, permits, shutdown).await;
                        }
                        Err(e) => {
                            warn!(worker = index, error = %e, "cannot register the https listener")
                        }
                    }
                });
                // Drained by the accept loop; whatever is left (idle upstream connections,
                // tunnels past the grace period) ends with the runtime.
                runtime.shutdown_background();
                drop(done);
            });
        match spawned {
            Ok(_) => stopped.push(done_rx),
            Err(e) => warn!(worker = index, error = %e, "cannot start a worker thread"),
        }
    }
    stopped
}

/// The HTTPS accept loop of one worker.
async fn serve_https_listener(
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
        connections.spawn(
            async move {
                task.await;
                drop(permit);
            }
            .instrument(span),
        );
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

/// Completes once shutdown has been signalled (or the sender is gone). The `watch` guard is
/// dropped inside, so callers' futures stay `Send`.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The shared hyper server builder for client connections (HTTP/1.1 and HTTP/2).
pub fn http_builder(settings: &ServerSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_request_header_bytes)
        .max_headers(settings.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(settings.max_request_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(Some(256))
        .max_pending_accept_reset_streams(Some(64))
        .max_local_error_reset_streams(Some(256));
    builder
}

async fn serve_https(
    gateway: Arc<Gateway>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    // Certificates and HTTP settings of the generation current at accept time.
    let snapshot = gateway.snapshot();
    let settings = &snapshot.config().server;
    let _open = gateway.metrics().connection_opened();
    let _ = stream.set_nodelay(true);
    let handshake = tokio::time::timeout(
        settings.tls_handshake_timeout,
        snapshot.tls.acceptor.accept(stream),
    );
    let tls = match handshake.await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            debug!(error = %e, "tls handshake failed");
            gateway.metrics().handshake_failed();
            return;
        }
        Err(_) => {
            warn!(%peer, "tls handshake timed out");
            gateway.metrics().handshake_failed();
            return;
        }
    };
    let dedicated_sni = snapshot.tls.dedicated_host(tls.get_ref().1.server_name());
    if let Some(sni) = tls.get_ref().1.server_name() {
        tracing::Span::current().record("sni", sni);
    }
    let conn = Arc::new(ConnInfo {
        peer,
        dedicated_sni,
    });
    let activity = Arc::new(Activity::new(settings));
    let io = TokioIo::new(Tracked {
        inner: tls,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        let gateway = gateway.clone();
        service_fn(move |request: Request<Incoming>| {
            let in_flight = activity.request_started();
            let response = handle(gateway.clone(), conn.clone(), request);
            async move {
                let response = response.await;
                drop(in_flight);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let connection = snapshot.http.serve_connection_with_upgrades(io, service);
    drive(
        connection,
        auto::UpgradeableConnection::graceful_shutdown,
        shutdown,
        &activity,
    )
    .await;
}

/// Serves one plain-HTTP/1.1 connection (the redirect and admin listeners).
async fn serve_plain<S>(
    snapshot: Arc<Snapshot>,
    stream: TcpStream,
    shutdown: watch::Receiver<bool>,
    service: S,
) where
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let settings = &snapshot.config().server;
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(settings));
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_request_header_bytes);
    let connection = builder.serve_connection(io, service);
    drive(
        connection,
        hyper::server::conn::http1::Connection::graceful_shutdown,
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

/// Runs a connection to completion, asking it to finish on shutdown or when idle.
/// `graceful_shutdown` is the connection type's own method (hyper has no common trait).
async fn drive<C, E>(
    connection: C,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    mut shutdown: watch::Receiver<bool>,
    activity: &Activity,
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        let idle_check = tokio::time::sleep_until(activity.idle_deadline().into());
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "connection closed with an error");
                }
                return;
            }
            _ = stopped(&mut shutdown), if !closing => {
                graceful_shutdown(connection.as_mut());
                closing = true;
            }
            _ = idle_check, if !closing => {
                if activity.is_idle() {
                    debug!("idle timeout");
                    graceful_shutdown(connection.as_mut());
                    closing = true;
                }
            }
        }
    }
}

/// When bytes last moved on a connection and how many requests are in flight on it.
///
/// Until the client sends its first byte the connection may stay only `first_byte_timeout`
/// (`header_read_timeout`): hyper's header timer starts only after the auto builder has
/// read enough to tell HTTP/1.1 from HTTP/2, so a client that sends nothing at all would
/// otherwise hold its slot for the whole `idle_timeout`.
#[derive(Debug)]
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    read_any: AtomicBool,
    in_flight: Arc<AtomicUsize>,
    idle_timeout: Duration,
    first_byte_timeout: Duration,
}

/// Marks one request in flight until dropped.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    fn new(settings: &ServerSettings) -> Activity {
        Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            read_any: AtomicBool::new(false),
            in_flight: Arc::new(AtomicUsize::new(0)),
            idle_timeout: settings.idle_timeout,
            first_byte_timeout: settings.header_read_timeout.min(settings.idle_timeout),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn request_started(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.in_flight.clone())
    }

    fn idle_deadline(&self) -> Instant {
        if !self.read_any.load(Ordering::Relaxed) {
            return self.started + self.first_byte_timeout;
        }
        self.started
            + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
            + self.idle_timeout
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() >= self.idle_deadline()
    }
}

/// An I/O stream that records when bytes move, for the idle timeout.
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
            self.activity.read_any.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
