//! Accept loops: one per listener (and one per worker for HTTPS), each capped by its
//! listener's `max_connections` semaphore, each connection a task of its own that holds its
//! permit until it ends; on shutdown, the listener is dropped and open connections get
//! `shutdown_grace` to drain.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, info, info_span, warn};

use super::activity::stopped;
use super::https::serve_https;
use crate::gateway::Gateway;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

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
pub(super) async fn accept_loop<F, Fut>(
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
