//! The write timeout: an I/O stream wrapper for client connections that fails a write
//! making no progress for `write_timeout`, so a client that stops reading its response
//! cannot hold the connection (and the response's buffers) forever. It wraps the TLS
//! stream, so it also covers a WebSocket tunnel, which keeps the upgraded stream.
//!
//! A stall is measured from the first write (or flush, or shutdown) that could not make
//! progress; any progress disarms it. It is not a deadline for the whole response: a slow
//! but steady reader is never cut. Progress inside one TLS flush is not visible here, so a
//! reader that takes longer than `write_timeout` to drain the TLS layer's buffer (64 KiB,
//! about 2 KiB/s at the default 30 s) counts as stalled.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tracing::debug;

/// An I/O stream whose writes fail once one makes no progress for `timeout`.
pub(super) struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    /// Fires `write_timeout` after a write first found the client not reading; allocated
    /// on the first stalled write, so a connection that never stalls does not pay for it.
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether `stall` is armed for the current stalled write.
    stalled: bool,
}

impl<T> WriteTimeout<T> {
    pub(super) fn new(inner: T, timeout: Duration) -> WriteTimeout<T> {
        WriteTimeout {
            inner,
            timeout,
            stall: None,
            stalled: false,
        }
    }

    /// The wrapped stream.
    pub(super) fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, to change.
    pub(super) fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The write side made progress: the stall timer is disarmed.
    fn wrote(&mut self) {
        self.stalled = false;
    }

    /// The write side could not make progress: arms the stall timer if this stall is new,
    /// and fails once it has lasted `write_timeout`.
    fn write_pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let timeout = self.timeout;
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

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn tracked(stream: tokio::io::DuplexStream) -> WriteTimeout<tokio::io::DuplexStream> {
        WriteTimeout::new(stream, Duration::from_secs(1))
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_reads_fails_after_write_timeout() {
        let (ours, _peer) = tokio::io::duplex(64);
        let mut stream = tracked(ours);
        let started = tokio::time::Instant::now();
        let error = stream
            .write_all(&[0u8; 1024])
            .await
            .expect_err("the peer reads nothing");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_reader_is_not_cut() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let mut stream = tracked(ours);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            while total < 1024 {
                tokio::time::sleep(Duration::from_millis(900)).await;
                total += peer.read(&mut buf).await.expect("read");
            }
        });
        // 16 stalls of 0.9 s each, 14 s in all: longer than write_timeout, never a stall
        // that long.
        stream.write_all(&[0u8; 1024]).await.expect("written");
        stream.flush().await.expect("flushed");
        reader.await.expect("reader");
    }
}
