//! A client's TLS stream, on rustls' unbuffered API: every buffer of the connection is ours,
//! so an idle connection can hold none.
//!
//! rustls' buffered `ServerConnection` (what tokio-rustls drives) keeps a 4 KiB read buffer
//! for the connection's whole life, and that was the largest piece left of an idle
//! keep-alive connection once hyper's buffers rested (module `server::rest`). Here rustls
//! keeps only the protocol state and the keys; the stream owns three buffers:
//!
//! - `incoming`: TLS bytes read from the socket and not yet processed. Processing happens
//!   right after each read and takes every complete record, so between reads it holds at
//!   most the start of a record.
//! - `plaintext`: decrypted application data that did not fit the reader's buffer.
//! - `outgoing`: TLS bytes encoded (handshake messages, alerts, encrypted data) and not yet
//!   sent, in order.
//!
//! [`TlsStream::release_buffers`] drops whichever of them is empty; a resting connection
//! calls it, and the next read or write allocates again. A stream owned by someone else
//! (hyper's HTTP/2 connection) is asked to through an [`IdleRelease`] instead.
//!
//! One function, `TlsStream::process`, drives rustls' state machine for reads, writes, the
//! handshake and shutdown alike: it takes every record `incoming` holds (application data
//! to the reader, handshake messages such as a `KeyUpdate` answered), queues what rustls has
//! to send, and stops where the caller can act: application data may be written, or more
//! bytes are needed. A write that finds application data (records that came in while the
//! task was writing) keeps it for the reader and wakes it.
//!
//! The peer's `close_notify` is the end of the stream; a TCP end without one is
//! `UnexpectedEof`, as rustls reports it, so a truncated request is never taken for a whole
//! one. A TLS error sends rustls' alert, best effort, and fails the stream.
//!
//! rustls' unbuffered connection does not expose the SNI host name; the certificate
//! resolver sees it during the handshake, on the handshake's own thread, and hands it over
//! through [`SniSeen`].
//!
//! Buffer bookkeeping is [`buffer`]'s; tokio's `AsyncRead` and `AsyncWrite` on top of
//! `process` are [`io_traits`]'.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll, Waker, ready};

use rustls::ServerConfig;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::sni_seen::SniSeen;
use buffer::{Fail, Failure, Grow, append, discard_front, record_end};

mod buffer;
mod idle_release;
mod io_traits;

pub use idle_release::IdleRelease;

/// The first read buffer; it grows to what a record needs.
const READ_CHUNK: usize = 4096;
/// The largest `incoming` may grow: a handshake message is joined from its records in
/// place, and rustls accepts handshake messages up to 64 KiB; a record is at most
/// 2^14 + 256 bytes of ciphertext and a 5-byte header.
const MAX_INCOMING: usize = 0xffff + (1 << 14) + 256 + 5;
/// At most this much plaintext is encrypted per write: enough for hyper's whole write
/// buffer, small enough that a large body is sent as it is encrypted.
const MAX_WRITE: usize = 64 * 1024;
/// Room for the headers, padding and tags of the records encrypting [`MAX_WRITE`] bytes.
const RECORD_OVERHEAD: usize = 5 + 256;

/// A server-side TLS stream over TCP (see the module documentation).
pub struct TlsStream {
    tcp: TcpStream,
    conn: UnbufferedServerConnection,
    incoming: Vec<u8>,
    /// How much of `incoming` holds bytes read.
    incoming_len: usize,
    plaintext: Vec<u8>,
    /// How much of `plaintext` the reader has taken.
    plaintext_read: usize,
    outgoing: Vec<u8>,
    /// How much of `outgoing` holds bytes to send.
    outgoing_len: usize,
    /// How much of those has been sent.
    outgoing_sent: usize,
    /// The peer sent `close_notify`: the reader sees the end once `plaintext` is drained.
    peer_closed: bool,
    /// Our `close_notify` is queued.
    close_notify_queued: bool,
    /// The reader waiting for the socket, woken when a write finds data for it.
    reader: Option<Waker>,
    server_name: Option<Box<str>>,
    /// Shared with the [`IdleRelease`] handles; made when the first one is taken.
    idle_release: Option<Arc<AtomicBool>>,
}

/// What to do where rustls allows application data.
enum Action<'a, 'b> {
    /// Nothing: process what came in.
    Process,
    /// Process, handing decrypted data to this buffer first.
    Read(&'a mut ReadBuf<'b>),
    /// Encrypt this data (at most [`MAX_WRITE`] of it).
    Write(&'a [u8]),
    /// Queue `close_notify`.
    Close,
}

/// Where `process` stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    /// Application data may be written; `usize` is how much of an `Action::Write` was taken.
    Traffic(usize),
    /// The handshake needs more bytes from the peer.
    NeedData,
    /// Both sides sent `close_notify`.
    Closed,
}

impl TlsStream {
    /// Runs the server side of a TLS handshake on `tcp`. The caller bounds it in time.
    ///
    /// # Errors
    ///
    /// The TLS error (as `InvalidData`, after sending rustls' alert), or the socket's.
    pub async fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsStream> {
        let conn = UnbufferedServerConnection::new(config).map_err(io::Error::other)?;
        let mut stream = TlsStream {
            tcp,
            conn,
            incoming: Vec::new(),
            incoming_len: 0,
            plaintext: Vec::new(),
            plaintext_read: 0,
            outgoing: Vec::new(),
            outgoing_len: 0,
            outgoing_sent: 0,
            peer_closed: false,
            close_notify_queued: false,
            reader: None,
            server_name: None,
            idle_release: None,
        };
        poll_fn(|cx| stream.poll_handshake(cx)).await?;
        Ok(stream)
    }

    /// The protocol ALPN chose, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The host name the client sent in SNI, if any.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The TCP stream underneath (to wait for readability without reading).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Decrypted data, or the peer's `close_notify`, that the reader has not taken yet:
    /// reading would not wait for the socket.
    pub fn holds_plaintext(&self) -> bool {
        self.plaintext_read < self.plaintext.len() || self.peer_closed
    }

    /// Frees the buffers that hold nothing; the next read or write allocates again.
    pub fn release_buffers(&mut self) {
        if self.incoming_len == 0 {
            self.incoming = Vec::new();
        }
        if self.plaintext_read == self.plaintext.len() {
            self.plaintext = Vec::new();
            self.plaintext_read = 0;
        }
        if self.outgoing_sent == self.outgoing_len {
            self.outgoing = Vec::new();
            self.outgoing_len = 0;
            self.outgoing_sent = 0;
        }
    }

    /// The bytes of buffer capacity the stream holds, whatever is in them.
    #[cfg(test)]
    pub(crate) fn held_buffer_bytes(&self) -> usize {
        self.incoming.capacity() + self.plaintext.capacity() + self.outgoing.capacity()
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let (step, seen) = SniSeen::capture(|| self.process(Action::Process));
            if let Some(name) = seen {
                self.server_name = name;
            }
            let step = step?;
            ready!(self.poll_send(cx))?;
            match step {
                Step::Traffic(_) if !self.conn.is_handshaking() => return Poll::Ready(Ok(())),
                Step::Traffic(_) | Step::NeedData => {
                    if ready!(self.poll_receive(cx))? == 0 {
                        return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                    }
                }
                Step::Closed => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
            }
        }
    }

    /// Drives rustls until application data may be written or more bytes are needed (see
    /// the module documentation), doing `action` on the way.
    fn process(&mut self, mut action: Action<'_, '_>) -> io::Result<Step> {
        loop {
            let UnbufferedStatus { mut discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[..self.incoming_len]);
            let state = match state {
                Ok(state) => state,
                Err(error) => {
                    discard_front(&mut self.incoming, &mut self.incoming_len, discard);
                    self.queue_alert();
                    self.try_send();
                    return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                }
            };
            let stop = match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record.map_err(invalid_data)?;
                        discard += record.discard;
                        let mut payload = record.payload;
                        if let Action::Read(buf) = &mut action {
                            let n = payload.len().min(buf.remaining());
                            buf.put_slice(&payload[..n]);
                            payload = &payload[n..];
                        }
                        self.plaintext.extend_from_slice(payload);
                    }
                    None
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    append(&mut self.outgoing, &mut self.outgoing_len, 0, |out| {
                        encode.encode(out).map_err(encode_error)
                    })?;
                    None
                }
                // What was encoded is queued in `outgoing`, in order; sending is the
                // caller's next step.
                ConnectionState::TransmitTlsData(transmit) => {
                    transmit.done();
                    None
                }
                ConnectionState::PeerClosed => {
                    self.peer_closed = true;
                    None
                }
                ConnectionState::Closed => Some(Step::Closed),
                ConnectionState::BlockedHandshake => Some(Step::NeedData),
                ConnectionState::WriteTraffic(mut traffic) => {
                    let mut taken = 0;
                    match &mut action {
                        Action::Write(data) => {
                            let data = &data[..data.len().min(MAX_WRITE)];
                            append(
                                &mut self.outgoing,
                                &mut self.outgoing_len,
                                data.len() + RECORD_OVERHEAD * (data.len() / (1 << 14) + 1),
                                |out| traffic.encrypt(data, out).map_err(encrypt_error),
                            )?;
                            taken = data.len();
                        }
                        Action::Close if !self.close_notify_queued => {
                            append(
                                &mut self.outgoing,
                                &mut self.outgoing_len,
                                RECORD_OVERHEAD,
                                |out| traffic.queue_close_notify(out).map_err(encrypt_error),
                            )?;
                            self.close_notify_queued = true;
                        }
                        Action::Close | Action::Read(_) | Action::Process => {}
                    }
                    Some(Step::Traffic(taken))
                }
                // Early data is not enabled, so rustls never offers it; anything else is a
                // state this stream does not know.
                _ => return Err(io::Error::other("unexpected TLS connection state")),
            };
            discard_front(&mut self.incoming, &mut self.incoming_len, discard);
            if let Some(step) = stop {
                return Ok(step);
            }
        }
    }

    /// After a TLS error: encodes the alert rustls queued. rustls hands out what it has to
    /// send before it looks at incoming bytes again, so no record is processed here.
    fn queue_alert(&mut self) {
        while self.conn.wants_write() {
            let UnbufferedStatus { state, .. } = self.conn.process_tls_records(&mut []);
            let Ok(ConnectionState::EncodeTlsData(mut encode)) = state else {
                return;
            };
            let queued = append(&mut self.outgoing, &mut self.outgoing_len, 0, |out| {
                encode.encode(out).map_err(encode_error)
            });
            if queued.is_err() {
                return;
            }
        }
    }

    /// Sends what `outgoing` holds without waiting (an alert before the stream fails).
    fn try_send(&mut self) {
        while self.outgoing_sent < self.outgoing_len {
            match self
                .tcp
                .try_write(&self.outgoing[self.outgoing_sent..self.outgoing_len])
            {
                Ok(n) if n > 0 => self.outgoing_sent += n,
                _ => return,
            }
        }
    }

    /// Sends everything `outgoing` holds.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_send_until(cx, 0)
    }

    /// Sends from `outgoing` until at most `left` bytes wait.
    fn poll_send_until(&mut self, cx: &mut Context<'_>, left: usize) -> Poll<io::Result<()>> {
        while self.outgoing_len - self.outgoing_sent > left {
            let pending = &self.outgoing[self.outgoing_sent..self.outgoing_len];
            match ready!(Pin::new(&mut self.tcp).poll_write(cx, pending))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => self.outgoing_sent += n,
            }
        }
        if self.outgoing_sent == self.outgoing_len {
            self.outgoing_len = 0;
            self.outgoing_sent = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads what the socket has into `incoming`; `Ok(0)` at its end.
    /// `incoming` grows by [`READ_CHUNK`], or at once to the end of the record it holds the
    /// start of.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.incoming_len == self.incoming.len() {
            let grown = (self.incoming_len + READ_CHUNK)
                .max(record_end(&self.incoming[..self.incoming_len]))
                .min(MAX_INCOMING);
            if grown <= self.incoming_len {
                return Poll::Ready(Err(invalid_data("TLS message too large")));
            }
            self.incoming.resize(grown, 0);
        }
        let mut buf = ReadBuf::new(&mut self.incoming[self.incoming_len..]);
        ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        self.incoming_len += n;
        Poll::Ready(Ok(n))
    }
}

fn encode_error(error: EncodeError) -> Failure {
    match error {
        EncodeError::InsufficientSize(size) => Grow(size.required_size),
        other => Fail(invalid_data(other)),
    }
}

fn encrypt_error(error: EncryptError) -> Failure {
    match error {
        EncryptError::InsufficientSize(size) => Grow(size.required_size),
        other => Fail(invalid_data(other)),
    }
}

fn invalid_data(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

#[cfg(test)]
pub(crate) mod test_pair;
#[cfg(test)]
mod tests;
