//! The idle timeout: when bytes last moved on a connection and how many requests are in
//! flight on it ([`Activity`], fed by the [`Tracked`] stream wrapper), and [`drive`], which
//! runs a connection to completion and asks it to finish gracefully on shutdown or once it
//! has been idle for `idle_timeout` (or sent nothing within `header_read_timeout`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tracing::debug;

use super::stopped;
use crate::config::ServerSettings;

/// Runs a connection to completion, asking it to finish on shutdown or when idle.
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
/// (`header_read_timeout`): hyper's header timer covers HTTP/1.1, but an HTTP/2 client that
/// completes the TLS handshake and then sends nothing at all would otherwise hold its slot
/// for the whole `idle_timeout`.
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    read_any: AtomicBool,
    in_flight: Arc<AtomicUsize>,
    idle_timeout: Duration,
    first_byte_timeout: Duration,
}

/// Marks one request in flight until dropped.
pub(super) struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    pub(super) fn new(settings: &ServerSettings) -> Activity {
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

    pub(super) fn request_started(&self) -> InFlight {
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
pub(super) struct Tracked<T> {
    pub(super) inner: T,
    pub(super) activity: Arc<Activity>,
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
