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
//! - **Rest**: an HTTP/1.1 connection with nothing in flight for `idle_release_after`,
//!   whose last request left nothing on the connection for a parser to misread (module
//!   `rest`), releases hyper's buffers and waits for the client's next bytes holding only
//!   its TLS state; an HTTP/2 connection releases its TLS stream's empty buffers after any
//!   request. Under load a connection is never idle that long, so it never pays for
//!   releasing and rebuilding them.
//! - **Closing**: a connection asked to close (idle, or shutdown) that is idle again for
//!   that long — a client that never answers the GOAWAY's PING, or never sent the preface
//!   hyper waits for — is cut. A request that raced the GOAWAY still completes first.
//! - **Writes**: a write (or flush) that makes no progress for `write_timeout` fails the
//!   stream (module `write_timeout`), which ends the connection: a client that stops
//!   reading. A response body whose frame the client does not take for `write_timeout`
//!   ends it too: an HTTP/2 client that never opens its flow-control window stalls the
//!   stream, not the socket.
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

use crate::config::ServerSettings;

/// A served connection as [`drive`] sees it: a future that ends with the connection, which
/// can be asked to finish, and to rest (release what it holds while idle).
pub(super) trait Served: Future<Output = Result<(), Self::Error>> {
    type Error: std::fmt::Display;

    /// Asks the connection to finish (HTTP/1.1: after the response in flight; HTTP/2: with
    /// GOAWAY).
    fn graceful_shutdown(self: Pin<&mut Self>);

    /// Its last request ended and may be followed by a rest ([`InFlight::allow_rest`]):
    /// a connection that can release its buffers until the client sends again does so.
    fn rest(self: Pin<&mut Self>) {}
}

/// Runs a connection to completion, asking it to finish on shutdown or when idle, to rest
/// when its last request allowed it, and cutting it (returning, which drops it) when it
/// stays idle after being asked to finish.
///
/// The caller pins the connection where it lives: taking it by value would store it twice
/// in the connection task (once in the caller's future, once in this one), and every idle
/// connection would pay for the copy.
pub(super) async fn drive<C: Served>(
    mut connection: Pin<&mut C>,
    mut shutdown: watch::Receiver<bool>,
    activity: &Activity,
) {
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
                connection.as_mut().graceful_shutdown();
                activity.restart_clock();
                closing = true;
            }
            event = activity.next_event() => match event {
                Event::Rest => {
                    if !closing {
                        connection.as_mut().rest();
                    }
                }
                Event::Stalled => {
                    debug!(write_timeout = ?activity.write_timeout, "response not drained; closing the connection");
                    return;
                }
                Event::Idle if closing => {
                    debug!("idle after being asked to close; closing the connection");
                    return;
                }
                Event::Idle => {
                    debug!("idle timeout");
                    connection.as_mut().graceful_shutdown();
                    activity.restart_clock();
                    closing = true;
                }
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
    /// Response bodies that handed hyper a frame and have not been asked for the next one
    /// since: hyper asks only once the client took the last (its socket drained, or its
    /// HTTP/2 flow-control window opened).
    awaiting_client: AtomicUsize,
    /// Milliseconds after `started` when hyper last asked any response body for a frame.
    drained_ms: AtomicU64,
    /// Set by the driver when it waits with no response awaiting the client: the next
    /// frame handed out wakes it (once) to arm the stall deadline.
    wake_on_frame: AtomicBool,
    /// The last request ended and allowed the connection to rest; taken by the driver.
    rest_due: AtomicBool,
    idle_timeout: Duration,
    /// `idle_release_after`: how long after a request that allowed it the connection rests.
    rest_after: Duration,
    first_request_timeout: Duration,
    write_timeout: Duration,
}

/// What [`Activity::next_event`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// Nothing in flight until the idle deadline.
    Idle,
    /// A response body waited `write_timeout` for the client to take its last frame.
    Stalled,
    /// The last request ended, nothing is in flight, and that request allowed a rest.
    Rest,
}

/// Marks one request in flight until dropped.
pub(super) struct InFlight {
    activity: Arc<Activity>,
    /// This request's response body is counted in `awaiting_client`.
    awaiting_client: bool,
    /// The connection may rest once this request ends.
    allows_rest: bool,
}

impl InFlight {
    /// Once this request ends (and nothing else is in flight), the connection may rest:
    /// for HTTP/1.1, the request and its response leave nothing behind on the connection
    /// that a new HTTP parser could misread; for HTTP/2, any request (module `rest`).
    pub(super) fn allow_rest(&mut self) {
        self.allows_rest = true;
    }

    /// hyper asked the response body for a frame: the client took the last one.
    fn frame_asked(&mut self) {
        let activity = &self.activity;
        if std::mem::take(&mut self.awaiting_client) {
            activity.awaiting_client.fetch_sub(1, Ordering::Relaxed);
        }
        activity
            .drained_ms
            .store(activity.now_ms(), Ordering::Relaxed);
    }

    /// The response body handed hyper a frame; it waits for the client until asked again.
    fn frame_given(&mut self) {
        let activity = &self.activity;
        self.awaiting_client = true;
        activity.awaiting_client.fetch_add(1, Ordering::Relaxed);
        if activity.wake_on_frame.load(Ordering::Relaxed)
            && activity.wake_on_frame.swap(false, Ordering::Relaxed)
        {
            activity.settled.notify_one();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.activity;
        if self.awaiting_client {
            activity.awaiting_client.fetch_sub(1, Ordering::Relaxed);
        }
        if activity.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            activity.rest_due.store(self.allows_rest, Ordering::Relaxed);
            activity.restart_clock();
            activity.settled.notify_one();
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
            awaiting_client: AtomicUsize::new(0),
            drained_ms: AtomicU64::new(0),
            wake_on_frame: AtomicBool::new(false),
            rest_due: AtomicBool::new(false),
            idle_timeout: settings.idle_timeout,
            rest_after: settings.idle_release_after,
            first_request_timeout: settings.header_read_timeout.min(settings.idle_timeout),
            write_timeout: settings.write_timeout,
        }
    }

    /// The idle clock counts from now (the TLS handshake is done, the last request ended,
    /// or the connection was asked to close).
    pub(super) fn restart_clock(&self) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn at(&self, ms: &AtomicU64) -> Instant {
        self.started + Duration::from_millis(ms.load(Ordering::Relaxed))
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served_any.store(true, Ordering::Relaxed);
        InFlight {
            activity: self.clone(),
            awaiting_client: false,
            allows_rest: false,
        }
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
        self.at(&self.since_ms) + timeout
    }

    /// Completes `idle_release_after` after the last request ended, if it allowed the
    /// connection to rest and nothing started since ([`Event::Rest`]); once nothing has
    /// been in flight from the idle clock's start until the idle deadline
    /// ([`Event::Idle`]); or once a response body has waited `write_timeout` for the client
    /// to take a frame ([`Event::Stalled`]: an HTTP/2 client that never
    /// opens its flow-control window; an HTTP/1.1 one that stops reading is also caught by
    /// its socket, in `write_timeout`). Every wait is for an event — the last request's
    /// end, a frame handed out, or a deadline in the future — so this never spins.
    async fn next_event(&self) -> Event {
        loop {
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                if self.awaiting_client.load(Ordering::Relaxed) == 0 {
                    self.wake_on_frame.store(true, Ordering::Relaxed);
                    if self.awaiting_client.load(Ordering::Relaxed) == 0 {
                        self.settled.notified().await;
                    }
                    continue;
                }
                let stall_deadline = self.at(&self.drained_ms) + self.write_timeout;
                if Instant::now() >= stall_deadline {
                    return Event::Stalled;
                }
                tokio::select! {
                    _ = self.settled.notified() => {}
                    _ = tokio::time::sleep_until(stall_deadline) => {}
                }
                continue;
            }
            let now = Instant::now();
            let deadline = self.idle_deadline();
            let rest_at = self
                .rest_due
                .load(Ordering::Relaxed)
                .then(|| self.at(&self.since_ms) + self.rest_after);
            if rest_at.is_some_and(|at| now >= at) && self.rest_due.swap(false, Ordering::Relaxed) {
                return Event::Rest;
            }
            if now >= deadline {
                return Event::Idle;
            }
            let wake_at = rest_at.map_or(deadline, |at| at.min(deadline));
            // A request may start while we sleep: its first frame wakes us to watch it.
            self.wake_on_frame.store(true, Ordering::Relaxed);
            tokio::select! {
                _ = self.settled.notified() => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
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
        let Some(in_flight) = this.in_flight else {
            return this.body.poll_frame(cx);
        };
        in_flight.frame_asked();
        let frame = this.body.poll_frame(cx);
        match &frame {
            Poll::Ready(Some(Ok(_))) => in_flight.frame_given(),
            Poll::Ready(None | Some(Err(_))) => *this.in_flight = None,
            Poll::Pending => {}
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

/// Completes once shutdown has been signalled (or the sender is gone). The `watch` guard is
/// dropped inside, so callers' futures stay `Send`.
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
impl Activity {
    /// The activity of a connection under `server`, lines of a `[server]` table.
    pub(super) fn for_tests(server: &str) -> Arc<Activity> {
        let text = format!("[server]\n{server}\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n");
        let config = crate::config::Config::from_toml_str(&text, std::path::Path::new("."))
            .expect("valid config");
        Arc::new(Activity::new(&config.server))
    }
}

#[cfg(test)]
mod tests;
