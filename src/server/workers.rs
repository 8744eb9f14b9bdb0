//! Workers: thread per core.
//!
//! HTTPS connections are served by `server.workers` workers (one per CPU by default). Each
//! is a thread with its own single-threaded tokio runtime and its own handle on the one
//! HTTPS listening socket (a duplicated descriptor: the kernel hands each new connection to
//! whichever worker accepts first, so a busy worker takes fewer). A connection lives on the
//! worker that accepted it: its TLS, its HTTP tasks, and the upstream connections it uses —
//! the upstream client keeps one pool per worker (`worker::current_worker`) — so a request never
//! crosses threads and no lock or wake-up is shared between workers on the hot path. Worker
//! 0 is the runtime that calls [`run`](super::run) (it also serves the redirect and admin
//! listeners); this module starts the others. One `max_connections` semaphore is shared by
//! all HTTPS workers.

use std::os::fd::AsFd;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tracing::warn;

use super::accept::serve_https_listener;
use crate::gateway::Gateway;

/// Starts workers 1..`workers`, each on its own thread with a duplicate of the `https`
/// descriptor (worker 0 keeps `https` itself); returns one receiver per started worker that
/// completes when it has stopped. A worker that cannot start is logged and skipped: the
/// others still serve.
pub(super) fn start_workers(
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
                crate::worker::set_current(index);
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
