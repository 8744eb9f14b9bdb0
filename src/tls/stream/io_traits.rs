//! tokio's `AsyncRead` and `AsyncWrite` for [`TlsStream`], on top of `process`.
//!
//! A read hands out kept plaintext first, then processes what `incoming` holds (records
//! rustls decrypted are copied straight to the reader's buffer where they fit), sends what
//! processing queued, and reads the socket only when nothing is left; a read that finds the
//! socket empty carries out an idle release that was asked for. A write encrypts into
//! `outgoing` and sends what the socket takes at once; less than `MAX_WRITE` may wait there
//! for the flush, which is the backpressure.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Action, MAX_WRITE, Step, TlsStream, discard_front, invalid_data};

impl TlsStream {
    /// Hands out decrypted data kept from an earlier read.
    fn take_plaintext(&mut self, buf: &mut ReadBuf<'_>) {
        let kept = &self.plaintext[self.plaintext_read..];
        let n = kept.len().min(buf.remaining());
        buf.put_slice(&kept[..n]);
        self.plaintext_read += n;
        if self.plaintext_read == self.plaintext.len() {
            self.plaintext.clear();
            self.plaintext_read = 0;
        }
    }

    /// Processes, for a writer: data found for the reader wakes it.
    fn process_for_writer(&mut self, action: Action<'_, '_>) -> io::Result<Step> {
        let held = self.holds_plaintext();
        let step = self.process(action)?;
        if !held
            && self.holds_plaintext()
            && let Some(reader) = self.reader.take()
        {
            reader.wake();
        }
        Ok(step)
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.plaintext_read < this.plaintext.len() {
                this.take_plaintext(buf);
                return Poll::Ready(Ok(()));
            }
            if this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            // Every read is processed right after it, so with nothing read there is
            // nothing to process (the common case: hyper polls, the socket is empty).
            if this.incoming_len > 0 {
                let before = buf.filled().len();
                let step = this.process(Action::Read(&mut *buf))?;
                if buf.filled().len() > before {
                    return Poll::Ready(Ok(()));
                }
                if this.holds_plaintext() {
                    continue;
                }
                if step == Step::Closed {
                    return Poll::Ready(Ok(()));
                }
            }
            // Whatever processing queued (a session ticket, a key update's answer) goes out
            // as the socket allows; reading does not wait for it.
            if let Poll::Ready(Err(e)) = this.poll_send(cx) {
                return Poll::Ready(Err(e));
            }
            match this.poll_receive(cx) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    this.reader = Some(cx.waker().clone());
                    this.release_if_asked();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Backpressure: less than MAX_WRITE may wait to be sent when more is taken.
        ready!(this.poll_send_until(cx, MAX_WRITE - 1))?;
        discard_front(
            &mut this.outgoing,
            &mut this.outgoing_len,
            this.outgoing_sent,
        );
        this.outgoing_sent = 0;
        let taken = match this.process_for_writer(Action::Write(data))? {
            Step::Traffic(taken) => taken,
            Step::NeedData => return Poll::Ready(Err(invalid_data("TLS handshake not finished"))),
            Step::Closed => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        };
        // Send now if the socket takes it; what it does not take waits for the flush.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send(cx)
    }

    /// Sends `close_notify`, then ends the TCP stream's sending side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_notify_queued {
            this.process_for_writer(Action::Close)?;
            // A stream whose peer already closed both ways has nothing to send.
            this.close_notify_queued = true;
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}
