//! Serving connections: accept loops, one task per connection, graceful shutdown.
//!
//! | module | concept |
//! |---|---|
//! | this one | [`bind`] and [`run`]: the listeners, the workers, shutdown |
//! | `accept` | the accept loops: permits, one task per connection, draining |
//! | `plain` | the redirect and admin listeners' plain-HTTP/1.1 connections |
//! | `https` | one HTTPS connection: handshake, protocol by ALPN, its memory per connection |
//! | `workers` | thread per core: the worker threads, each marked with `worker::set_current` |
//! | `activity` | connection deadlines: requests in flight, idle time, driving a connection |
//! | `rest` | HTTP/1.1 connections that release hyper's buffers while idle |
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
//!   cut. hyper's HTTP/1.1 header timer also runs while a keep-alive connection waits for
//!   its next request, until the connection rests (`idle_release_after`, module `rest`):
//!   a rested connection idles until `idle_timeout`, and the next head's timer starts with
//!   its first bytes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};
use tracing::info;

mod accept;
mod activity;
mod https;
mod plain;
mod rest;
mod workers;
mod write_timeout;

use accept::{accept_loop, serve_https_listener};
use plain::{redirect_to_https, serve_plain};
use workers::start_workers;

use crate::admin;
use crate::gateway::Gateway;

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
