//! Connection deadlines: how many requests are in flight on a connection and when the last
//! one ended ([`Activity`], fed by the connection's service and its [`Guarded`] response
//! bodies), and [`drive`], which runs a connection to completion under them.
//!
//! The stages and their deadlines, after the TLS handshake (`tls_handshake_timeout`, in
//! `https`):
//! - **First request**: the HTTP/2 preface and the first request head must arrive within
//!   `header_read_timeout` of the handshake, else the connection is asked to close. After
//!   that, hyper's header timer bounds each HTTP/1.1 request head.
//! - **Idle**: with no request in flight for `idle_timeout` — a request is in flight from
//!   its head until its response body has been sent or dropped, so a download, a long poll
//!   or a server-sent event stream is not idle — the connection is asked to close
//!   (HTTP/1.1: closes; HTTP/2: GOAWAY). Bytes alone do not count: a client sending HTTP/2
//!   PINGs, or trickling a header block, with no request in flight is idle.
//! - **Closing**: a connection asked to close (idle, or shutdown) that is idle again for
//!   that long — a client that never answers the GOAWAY's PING, or never sent the preface
//!   hyper waits for — is cut. A request that raced the GOAWAY still completes first.
//! - **Writes**: a write (or flush) that makes no progress for `write_timeout` fails the
//!   stream (module `write_timeout`), which ends the connection: a client that stops reading.
//! - The request body's deadline is the proxy's (`body_read_timeout`), the drain at
//!   shutdown the accept loop's (`shutdown_grace`).
//!
//! No timer fires while work is in flight: the driver sleeps until the last in-flight
//! request ends ([`Notify`]), then until the idle deadline, so a long request costs no CPU.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::debug;

use super::stopped;
use crate::config::ServerSettings;

/// Runs a connection to completion, asking it to finish on shutdown or when idle, and
/// cutting it (returning, which drops it) when it stays idle after that.
/// `graceful_shutdown` is the connection type's own method (hyper has no common trait).
///
/// The caller pins the connection where it lives: taking it by value would store it twice
/// in the connection task (once in the caller's future, once in this one), and every idle
/// connection would pay for the copy.
pub(super) async fn drive<C, E>(
    mut connection: Pin<&mut C>,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    mut shutdown: watch::Receiver<bool>,
    activity: &Activity,
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "connection closed with an error");
                }
                return;
            }
            _ = stopped(&mut shutdown), if !closing => {
                graceful_shutdown(connection.as_mut());
                activity.restart_clock();
                closing = true;
            }
            _ = activity.idle() => {
                if closing {
                    debug!("idle after being asked to close; closing the connection");
                    return;
                }
                debug!("idle timeout");
                graceful_shutdown(connection.as_mut());
                activity.restart_clock();
                closing = true;
            }
        }
    }
}

/// How many requests are in flight on a connection, and when the last one ended.
///
/// Shared (`Arc`) by the connection's service, its response bodies and its driver; all on
/// the connection's worker thread, so the atomics are uncontended.
///
/// Idle time counts from the end of the last request, not from the last bytes: bytes with
/// nothing in flight are control frames (HTTP/2 PINGs, SETTINGS, WINDOW_UPDATEs) or a
/// request head still arriving, and a client sending those forever must not keep its slot.
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    /// Milliseconds after `started` when the idle clock last restarted: the handshake, the
    /// end of the last request, or the request to close.
    since_ms: AtomicU64,
    /// Whether a request has started on this connection.
    served_any: AtomicBool,
    in_flight: AtomicUsize,
    /// Woken when the last in-flight request ends; only the driver waits on it, so a
    /// `notify_one` with no waiter is kept as a permit and never lost.
    settled: Notify,
    idle_timeout: Duration,
    first_request_timeout: Duration,
}

/// Marks one request in flight until dropped.
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.restart_clock();
            self.0.settled.notify_one();
        }
    }
}

impl Activity {
    pub(super) fn new(settings: &ServerSettings) -> Activity {
        Activity {
            started: Instant::now(),
            since_ms: AtomicU64::new(0),
            served_any: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            settled: Notify::new(),
            idle_timeout: settings.idle_timeout,
            first_request_timeout: settings.header_read_timeout.min(settings.idle_timeout),
        }
    }

    /// The idle clock counts from now (the TLS handshake is done, the last request ended,
    /// or the connection was asked to close).
    pub(super) fn restart_clock(&self) {
        self.since_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served_any.store(true, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// When the connection is idle unless a request starts first: `header_read_timeout`
    /// (at most `idle_timeout`) until a first request has started — the HTTP/2 preface and
    /// the first request head must arrive in that time — and `idle_timeout` after.
    fn idle_deadline(&self) -> Instant {
        let timeout = if self.served_any.load(Ordering::Relaxed) {
            self.idle_timeout
        } else {
            self.first_request_timeout
        };
        self.started + Duration::from_millis(self.since_ms.load(Ordering::Relaxed)) + timeout
    }

    /// Completes once nothing has been in flight from the idle clock's start until the
    /// idle deadline. Every wait is for an event — the last request's end, or a deadline
    /// in the future — so this never spins.
    async fn idle(&self) {
        loop {
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                self.settled.notified().await;
                continue;
            }
            let deadline = self.idle_deadline();
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request in flight until it has been sent or dropped.
    pub(super) struct Guarded<B> {
        #[pin]
        body: B,
        in_flight: Option<InFlight>,
    }
}

impl<B> Guarded<B> {
    pub(super) fn new(body: B, in_flight: InFlight) -> Guarded<B> {
        Guarded {
            body,
            in_flight: Some(in_flight),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Guarded<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = this.body.poll_frame(cx);
        if matches!(frame, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.in_flight.take();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicUsize;

    use http_body_util::{BodyExt, Full};

    use super::*;
    use crate::config::Config;

    fn activity(server: &str) -> Arc<Activity> {
        let text = format!("[server]\n{server}\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n");
        let config = Config::from_toml_str(&text, Path::new(".")).expect("valid config");
        Arc::new(Activity::new(&config.server))
    }

    /// Counts the polls of `future` into `polls`.
    async fn counted<F: Future>(future: F, polls: &AtomicUsize) -> F::Output {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            future.as_mut().poll(cx)
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_past_the_idle_deadline_does_not_wake_the_driver() {
        let activity = activity("idle_timeout = \"1s\"");
        let request = activity.request_started();
        let polls = Arc::new(AtomicUsize::new(0));
        let idle = tokio::spawn({
            let (activity, polls) = (activity.clone(), polls.clone());
            async move { counted(activity.idle(), &polls).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!idle.is_finished(), "idle with a request in flight");
        // The old driver re-armed a timer already past: a poll per turn of the runtime.
        assert!(polls.load(Ordering::Relaxed) <= 3, "{polls:?} polls");
        drop(request);
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(
            !idle.is_finished(),
            "the idle deadline counts from the request's end"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(idle.is_finished());
        assert!(polls.load(Ordering::Relaxed) <= 5, "{polls:?} polls");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_is_due_within_header_read_timeout_the_next_within_idle_timeout() {
        let activity = activity("idle_timeout = \"60s\"\nheader_read_timeout = \"2s\"");
        activity.restart_clock(); // the handshake
        let started = Instant::now();
        activity.idle().await;
        assert_eq!(started.elapsed().as_secs(), 2);
        drop(activity.request_started());
        let started = Instant::now();
        activity.idle().await;
        assert_eq!(started.elapsed().as_secs(), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_body_keeps_its_request_in_flight_until_sent() {
        let activity = activity("");
        let body = Guarded::new(
            Full::new(Bytes::from_static(b"x")),
            activity.request_started(),
        );
        let mut body = std::pin::pin!(body);
        assert_eq!(activity.in_flight.load(Ordering::Relaxed), 1);
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().ok(), Some(Bytes::from_static(b"x")));
        assert_eq!(activity.in_flight.load(Ordering::Relaxed), 1);
        assert!(body.frame().await.is_none());
        assert_eq!(activity.in_flight.load(Ordering::Relaxed), 0);
    }
}
