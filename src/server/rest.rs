//! Client connections that rest while idle: between requests an HTTP/1.1 connection holds
//! its TLS stream and nothing of hyper's, an HTTP/2 one h2's state and a TLS stream without
//! buffers.
//!
//! hyper keeps an 8 KiB write buffer and an 8 KiB read buffer in every HTTP/1.1 connection
//! for as long as it lives, which made an idle keep-alive connection cost about 20 KiB.
//! Here a connection is a sequence of hyper connections on one stream, each serving until
//! its last request ends, the way nginx and HAProxy give their buffers back while a
//! connection idles:
//!
//! 1. **Serving**: a hyper connection (`with_upgrades`) on the stream, with hyper's HTTP
//!    parsing, limits, header timer and upgrades.
//! 2. When nothing has been in flight for `idle_release_after` after a request that
//!    allowed it ([`request_allows_rest`], [`response_allows_rest`]), the driver asks the
//!    connection to **rest**: hyper is asked to finish gracefully — it is idle, so it
//!    stops at once — and its final `shutdown` of the stream is skipped. The stream comes
//!    back from `into_parts` with the bytes hyper had read but not parsed (a pipelined or
//!    partly sent next request), and hyper's connection, buffers and all, is dropped. The
//!    TLS stream frees its own empty buffers too ([`TlsStream::release_buffers`]).
//! 3. **Resting**: the connection waits for the socket to become readable (or serves at
//!    once when it holds unparsed bytes or decrypted data TLS has not handed out yet), then
//!    serves again with a new hyper connection on the same stream, which reads the
//!    unparsed bytes first.
//!
//! A rest is only allowed where a new parser starts exactly where the old one stopped: an
//! HTTP/1.1 request without a body (nothing of it can be left unread on the socket) and
//! without `Connection: close`, answered with anything but `101` or `Connection: close`.
//! Anything else — a request body, an upgrade, a close — ends the way hyper ends it. A
//! connection asked to close while resting shuts its stream down (TLS `close_notify`, then
//! FIN), as hyper does for an idle one.
//!
//! An HTTP/2 connection cannot hand its state over (HPACK tables, settings, stream ids), so
//! h2 keeps its own buffers for the connection's life; what rests is the TLS stream under it
//! (`https` asks through the stream's [`IdleRelease`](crate::tls::IdleRelease)): it frees
//! its empty buffers at its next read that finds nothing to read, which on an idle
//! connection is the driver's next poll. That is safe after any request, body or not: only
//! empty buffers go, and the next read or write allocates again.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::{io, mem};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{HttpService, Service};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::debug;

use super::activity::Guarded;
use super::write_timeout::WriteTimeout;
use crate::http::{Body, lists_token};
use crate::tls::TlsStream;

/// A client's TLS stream under its write timeout.
pub(super) type Stream = WriteTimeout<TlsStream>;

/// Whether a connection may rest after this request, as far as the request goes: HTTP/1.1
/// without a body or `Connection: close`; HTTP/2 always, since only its TLS stream's empty
/// buffers go (see the module documentation).
pub(super) fn request_allows_rest<B: hyper::body::Body>(request: &Request<B>) -> bool {
    match request.version() {
        Version::HTTP_2 => true,
        Version::HTTP_11 => request.body().is_end_stream() && !asks_to_close(request.headers()),
        _ => false,
    }
}

/// Whether a connection may rest after this response: it neither switches protocols nor
/// closes.
pub(super) fn response_allows_rest<B>(response: &Response<B>) -> bool {
    response.status() != StatusCode::SWITCHING_PROTOCOLS && !asks_to_close(response.headers())
}

/// A `Connection` header with the `close` option.
fn asks_to_close(headers: &HeaderMap) -> bool {
    lists_token(headers, header::CONNECTION, "close")
}

/// The service behind a client connection (the request pipeline, its responses guarded by
/// the connection's `Activity`), cloned for every hyper connection a connection serves with.
pub(super) trait ClientService:
    Service<
        Request<Incoming>,
        Response = Response<Guarded<Body>>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Unpin
{
}

impl<S> ClientService for S where
    S: Service<
            Request<Incoming>,
            Response = Response<Guarded<Body>>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Unpin
{
}

/// One HTTP/1.1 client connection, serving with hyper and resting between requests (see
/// the module documentation).
pub(super) struct RestingConnection<S: HttpService<Incoming>> {
    state: State<S>,
    builder: http1::Builder,
    service: S,
    /// Set while a rest is asked for: the stream under hyper then skips hyper's final
    /// `shutdown`, and the end of hyper's connection is the start of the rest.
    resting: Arc<AtomicBool>,
}

enum State<S: HttpService<Incoming>> {
    /// hyper's connection, boxed so a resting connection does not keep its size.
    Serving(Box<http1::UpgradeableConnection<TokioIo<Handed>, S>>),
    Resting {
        stream: Stream,
        unparsed: Bytes,
    },
    /// Asked to close while resting: shutting the stream down.
    Closing(Stream),
    Done,
}

impl<S: ClientService> RestingConnection<S> {
    /// Serves `stream` with `builder`'s settings, a clone of `service` per hyper connection.
    pub(super) fn new(builder: &http1::Builder, stream: Stream, service: S) -> Self {
        let mut connection = RestingConnection {
            state: State::Done,
            builder: builder.clone(),
            service,
            resting: Arc::new(AtomicBool::new(false)),
        };
        connection.state = connection.serve(stream, Bytes::new());
        connection
    }

    fn serve(&self, stream: Stream, unparsed: Bytes) -> State<S> {
        let io = TokioIo::new(Handed {
            stream,
            unparsed,
            resting: self.resting.clone(),
        });
        State::Serving(Box::new(
            self.builder
                .serve_connection(io, self.service.clone())
                .with_upgrades(),
        ))
    }

    /// Asks the connection to finish: after the response in flight, or now if resting.
    pub(super) fn graceful_shutdown(&mut self) {
        match mem::replace(&mut self.state, State::Done) {
            State::Serving(mut connection) => {
                self.resting.store(false, Ordering::Relaxed);
                Pin::new(&mut *connection).graceful_shutdown();
                self.state = State::Serving(connection);
            }
            State::Resting { stream, .. } => self.state = State::Closing(stream),
            other => self.state = other,
        }
    }

    /// Starts a rest: hyper, idle, finishes at the next poll and hands the stream back.
    pub(super) fn rest(&mut self) {
        if let State::Serving(connection) = &mut self.state {
            self.resting.store(true, Ordering::Relaxed);
            Pin::new(&mut **connection).graceful_shutdown();
        }
    }
}

impl<S: ClientService> Future for RestingConnection<S> {
    type Output = hyper::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Serving(connection) => {
                    let result = ready!(Pin::new(&mut **connection).poll(cx));
                    let rested = this.resting.swap(false, Ordering::Relaxed);
                    let State::Serving(connection) = mem::replace(&mut this.state, State::Done)
                    else {
                        return Poll::Ready(result);
                    };
                    if result.is_err() || !rested {
                        return Poll::Ready(result);
                    }
                    // `None`: the connection was upgraded; the tunnel has the stream.
                    let Some(parts) = connection.into_parts() else {
                        return Poll::Ready(Ok(()));
                    };
                    let mut handed = parts.io.into_inner();
                    handed.stream.get_mut().release_buffers();
                    this.state = State::Resting {
                        stream: handed.stream,
                        unparsed: concat(parts.read_buf, handed.unparsed),
                    };
                }
                State::Resting { stream, unparsed } => {
                    if unparsed.is_empty() && !stream.get_ref().holds_plaintext() {
                        let tcp = stream.get_ref().tcp();
                        if let Err(e) = ready!(tcp.poll_read_ready(cx)) {
                            debug!(error = %e, "resting connection failed");
                            this.state = State::Done;
                            return Poll::Ready(Ok(()));
                        }
                    }
                    let State::Resting { stream, unparsed } =
                        mem::replace(&mut this.state, State::Done)
                    else {
                        return Poll::Ready(Ok(()));
                    };
                    this.state = this.serve(stream, unparsed);
                }
                State::Closing(stream) => {
                    if let Err(e) = ready!(Pin::new(stream).poll_shutdown(cx)) {
                        debug!(error = %e, "closing a resting connection failed");
                    }
                    this.state = State::Done;
                    return Poll::Ready(Ok(()));
                }
                State::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// The bytes hyper read and did not parse, then those it had not read yet, in a buffer of
/// their own: hyper's `read_buf` is a view into its whole read buffer (even when empty), and
/// keeping the view would keep the buffer.
fn concat(read: Bytes, unread: Bytes) -> Bytes {
    if read.is_empty() && unread.is_empty() {
        return Bytes::new();
    }
    let mut joined = BytesMut::with_capacity(read.len() + unread.len());
    joined.extend_from_slice(&read);
    joined.extend_from_slice(&unread);
    joined.freeze()
}

/// The stream as one hyper connection sees it: the bytes an earlier one left unparsed are
/// read first, and the final `shutdown` is skipped when the connection is going to rest.
struct Handed {
    stream: Stream,
    unparsed: Bytes,
    resting: Arc<AtomicBool>,
}

impl AsyncRead for Handed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.unparsed.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = self.unparsed.len().min(buf.remaining());
        buf.put_slice(&self.unparsed[..n]);
        self.unparsed.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Handed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.resting.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
