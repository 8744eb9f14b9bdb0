//! Connection deadlines: when bytes last moved on a connection and how many requests are in
//! flight on it ([`Activity`], fed by the [`Tracked`] stream wrapper and the [`Guarded`]
//! response body), and [`drive`], which runs a connection to completion under them.
//!
//! The stages and their deadlines, after the TLS handshake (`tls_handshake_timeout`, in
//! `https`):
//! - **First bytes**: a client that sends nothing (an HTTP/2 client that never sends its
//!   preface) is asked to close after `header_read_timeout`. Once bytes arrive, hyper's
//!   header timer bounds each HTTP/1.1 request head.
//! - **Idle**: with no request in flight — a request is in flight from its head until its
//!   response body has been sent or dropped, so a download, a long poll or a server-sent
//!   event stream is not idle — and no bytes moving for `idle_timeout`, the connection is
//!   asked to close (HTTP/1.1: closes; HTTP/2: GOAWAY).
//! - **Closing**: a connection asked to close (idle, or shutdown) that is again idle for
//!   that long — a client that never answers the GOAWAY's PING, or never sent the preface
//!   hyper waits for — is cut. A request that raced the GOAWAY still completes first.
//! - **Writes**: a write (or flush) that makes no progress for `write_timeout` fails the
//!   stream ([`Tracked`]), which ends the connection: a client that stops reading.
//! - The request body's deadline is the proxy's (`body_read_timeout`), the drain at
//!   shutdown the accept loop's (`shutdown_grace`).
//!
//! No timer fires while work is in flight: the driver sleeps until the last in-flight
//! request ends ([`Notify`]), then until the idle deadline, so a long request costs no CPU.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, watch};
use tokio::time::Sleep;
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
                activity.closing_started();
                closing = true;
            }
            _ = activity.idle() => {
                if closing {
                    debug!("idle after being asked to close; closing the connection");
                    return;
                }
                debug!("idle timeout");
                graceful_shutdown(connection.as_mut());
                activity.closing_started();
                closing = true;
            }
        }
    }
}

/// When bytes last moved on a connection and how many requests are in flight on it.
///
/// Shared (`Arc`) by the connection's stream wrapper, its service and its driver; all on
/// the connection's worker thread, so the atomics are uncontended.
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    /// Milliseconds after `started` when bytes last moved (or closing started).
    last_ms: AtomicU64,
    /// Whether the client has sent any bytes after the TLS handshake.
    read_any: AtomicBool,
    in_flight: AtomicUsize,
    /// Woken when the last in-flight request ends; only the driver waits on it, so a
    /// `notify_one` with no waiter is kept as a permit and never lost.
    settled: Notify,
    idle_timeout: Duration,
    first_byte_timeout: Duration,
    write_timeout: Duration,
}

/// Marks one request in flight until dropped.
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.settled.notify_one();
        }
    }
}

impl Activity {
    pub(super) fn new(settings: &ServerSettings) -> Activity {
        Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            read_any: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            settled: Notify::new(),
            idle_timeout: settings.idle_timeout,
            first_byte_timeout: settings.header_read_timeout.min(settings.idle_timeout),
            write_timeout: settings.write_timeout,
        }
    }

    /// Bytes moved (or the TLS handshake finished): the idle deadline counts from now.
    pub(super) fn touch(&self) {
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The connection was asked to close: its closing deadline counts from now.
    fn closing_started(&self) {
        self.touch();
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// When the connection becomes idle if nothing happens until then: `first_byte_timeout`
    /// until the client has sent anything, `idle_timeout` after.
    fn idle_deadline(&self) -> Instant {
        let timeout = if self.read_any.load(Ordering::Relaxed) {
            self.idle_timeout
        } else {
            self.first_byte_timeout
        };
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + timeout
    }

    /// Completes once nothing is in flight and no bytes have moved until the idle deadline.
    /// Every wait is for an event: the last request's end, or a deadline in the future
    /// (bytes that moved only push it later), so this never spins.
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
            tokio::time::sleep_until(deadline.into()).await;
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

/// An I/O stream that records when bytes move, for the idle deadline, and fails a write
/// that makes no progress for `write_timeout`.
pub(super) struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
    /// Fires `write_timeout` after a write first found the client not reading; allocated
    /// on the first stalled write, so a connection that never stalls does not pay for it.
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether `stall` is armed for the current stalled write.
    stalled: bool,
}

impl<T> Tracked<T> {
    pub(super) fn new(inner: T, activity: Arc<Activity>) -> Tracked<T> {
        Tracked {
            inner,
            activity,
            stall: None,
            stalled: false,
        }
    }

    /// The write side made progress: bytes moved and the stall timer is disarmed.
    fn wrote(&mut self) {
        self.activity.touch();
        self.stalled = false;
    }

    /// The write side could not make progress: arms the stall timer if this stall is new,
    /// and fails once it has lasted `write_timeout`.
    fn write_pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let timeout = self.activity.write_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        if !self.stalled {
            self.stalled = true;
            match &mut self.stall {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let expired = self
            .stall
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if !expired {
            return Poll::Pending;
        }
        debug!(write_timeout = ?timeout, "client stopped reading; closing the connection");
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write made no progress within write_timeout",
        )))
    }

    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match result {
            Poll::Ready(Ok(n)) if n > 0 => {
                self.wrote();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => self.write_pending(cx),
            other => other,
        }
    }

    fn after_flush(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        match result {
            Poll::Ready(Ok(())) => {
                self.stalled = false;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => self.write_pending(cx),
            other => other,
        }
    }
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
        self.after_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.after_flush(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.after_flush(cx, result)
    }
}
