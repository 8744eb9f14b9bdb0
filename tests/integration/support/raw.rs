//! The raw-HTTP harness: bytes no well-behaved client would send, written on a real TLS (or
//! plain TCP) connection, and what came back read until the server closed the connection
//! or a wait passed, split into HTTP/1.1 responses. Every area that speaks HTTP by hand
//! uses these, so there is one way to read a raw response.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

use super::client::{Protocol, TestClient};
use super::within;

/// One response read off a raw connection.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// The head: status line and header lines.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
            .collect()
    }
}

/// What a raw exchange produced.
#[derive(Debug)]
pub struct RawExchange {
    /// Every complete response, in order.
    pub responses: Vec<RawResponse>,
    /// Whether the server closed the connection (else the wait ran out).
    pub closed: bool,
    /// Everything read, as it came.
    pub bytes: Vec<u8>,
}

impl RawExchange {
    fn of(bytes: Vec<u8>, closed: bool) -> RawExchange {
        RawExchange {
            responses: parse_responses(&bytes),
            closed,
            bytes,
        }
    }

    /// The statuses of the responses, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
    }

    /// Everything read, as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The first response, which must be there.
    pub fn first(&self) -> &RawResponse {
        self.responses
            .first()
            .unwrap_or_else(|| panic!("no HTTP response in {:?}", self.text()))
    }
}

/// Writes `bytes` on a new HTTP/1.1 TLS connection (SNI `localhost`), then reads until the
/// server closes the connection or `wait` passes. Write errors are ignored: a server may
/// close before it has read everything, which is a refusal too.
pub async fn raw(client: &TestClient, bytes: &[u8], wait: Duration) -> RawExchange {
    raw_sni(client, "localhost", bytes, wait).await
}

/// [`raw`] with the TLS server name `sni`.
pub async fn raw_sni(client: &TestClient, sni: &str, bytes: &[u8], wait: Duration) -> RawExchange {
    let tls = client.connect(sni, Protocol::Http1).await;
    let started = Instant::now();
    let (mut reader, writing) = write_in_background(tls, bytes);
    let (out, closed_after) = read_until_closed(&mut reader, started, wait).await;
    writing.abort();
    RawExchange::of(out, closed_after.is_some())
}

/// Writes `bytes` like [`raw`], then reads until the server closes the connection, or
/// `expected` responses have arrived and nothing more follows for a moment, or `cap`
/// passes: for keep-alive exchanges, where waiting for the close would take the whole cap.
pub async fn raw_expecting(
    client: &TestClient,
    bytes: &[u8],
    expected: usize,
    cap: Duration,
) -> RawExchange {
    /// How long to wait for a response beyond the expected ones.
    const SURPLUS_WAIT: Duration = Duration::from_secs(1);
    let tls = client.connect("localhost", Protocol::Http1).await;
    let deadline = Instant::now() + cap;
    let (mut reader, writing) = write_in_background(tls, bytes);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut closed = false;
    loop {
        let enough = parse_responses(&out).len() >= expected;
        let wait_until = if enough {
            (Instant::now() + SURPLUS_WAIT).min(deadline)
        } else {
            deadline
        };
        match tokio::time::timeout_at(wait_until.into(), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    writing.abort();
    RawExchange::of(out, closed)
}

/// Splits `stream` and writes `bytes` on its write half in the background, errors ignored;
/// the task keeps the write half open (dropping it could close a TLS stream) until aborted.
fn write_in_background<S>(stream: S, bytes: &[u8]) -> (ReadHalf<S>, JoinHandle<WriteHalf<S>>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, mut writer) = tokio::io::split(stream);
    let data = bytes.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&data).await;
        let _ = writer.flush().await;
        writer
    });
    (reader, writing)
}

/// A slowloris client: a TLS connection on which [`trickle`] wrote its first bytes and
/// keeps writing more, a piece at a time, in the background.
pub struct Trickle {
    pub reader: ReadHalf<TlsStream<TcpStream>>,
    /// When the connection was up, just before the first write.
    pub started: Instant,
    writing: JoinHandle<WriteHalf<TlsStream<TcpStream>>>,
}

impl Trickle {
    /// [`read_until_closed`] from [`Trickle::started`], then stops writing.
    pub async fn until_closed(mut self, wait: Duration) -> (Vec<u8>, Option<Duration>) {
        let read = read_until_closed(&mut self.reader, self.started, wait).await;
        self.writing.abort();
        read
    }
}

/// Opens an HTTP/1.1 TLS connection with SNI `sni`, writes `first` on it, then writes
/// `piece` every `every` in the background, at most `times` times and until a write fails.
/// The writing task keeps the write half open until it is stopped.
pub async fn trickle(
    client: &TestClient,
    sni: &str,
    first: &[u8],
    piece: &[u8],
    every: Duration,
    times: usize,
) -> Trickle {
    let tls = client.connect(sni, Protocol::Http1).await;
    let started = Instant::now();
    let (reader, mut writer) = tokio::io::split(tls);
    writer.write_all(first).await.expect("write");
    let piece = piece.to_vec();
    let writing = tokio::spawn(async move {
        for _ in 0..times {
            tokio::time::sleep(every).await;
            if writer.write_all(&piece).await.is_err() {
                break;
            }
        }
        writer
    });
    Trickle {
        reader,
        started,
        writing,
    }
}

/// Reads until EOF, a read error or `wait` after `started`; returns the bytes and, if the
/// stream closed, how long after `started` it did.
pub async fn read_until_closed<R: AsyncRead + Unpin>(
    reader: &mut R,
    started: Instant,
    wait: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = started + wait;
    loop {
        match tokio::time::timeout_at(deadline.into(), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(started.elapsed())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, None),
        }
    }
}

/// A new TLS connection offering `protocol` (SNI `localhost`) on which `bytes` were written,
/// kept open and never read: a client that goes silent after saying this much.
pub async fn opened_with(
    client: &TestClient,
    protocol: Protocol,
    bytes: &[u8],
) -> TlsStream<TcpStream> {
    let mut tls = client.connect("localhost", protocol).await;
    within(tls.write_all(bytes)).await.expect("write");
    tls
}

/// Writes `bytes` on `stream` and reads to its end, bounded by [`within`]; returns what was
/// read and how the read ended (an error, such as a close without `close_notify`, keeps
/// what was read before it).
pub async fn exchange_on<S>(mut stream: S, bytes: &[u8]) -> (Vec<u8>, std::io::Result<usize>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within(stream.write_all(bytes)).await.expect("write");
    let mut out = Vec::new();
    let ended = within(stream.read_to_end(&mut out)).await;
    (out, ended)
}

/// A new plain TCP connection to `addr` on which `bytes` were written, kept open.
pub async fn tcp_opened_with(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut tcp = within(TcpStream::connect(addr)).await.expect("connect");
    within(tcp.write_all(bytes)).await.expect("write");
    tcp
}

/// Writes `bytes` on a new plain TCP connection to `addr` and reads until the server closes
/// it (a read error, such as a reset, ends the read too); every step bounded by
/// [`within`]. The whole answer as text.
pub async fn plain(addr: SocketAddr, bytes: &[u8]) -> String {
    let tcp = within(TcpStream::connect(addr)).await.expect("connect");
    let (out, _) = exchange_on(tcp, bytes).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET path` with `Host: host` and `Connection: close` over plain HTTP/1.1: [`plain`].
pub async fn plain_get(addr: SocketAddr, host: &str, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    plain(addr, request.as_bytes()).await
}

/// Splits a byte stream into HTTP/1.1 responses (Content-Length or chunked bodies); stops
/// at the first incomplete one.
pub fn parse_responses(mut bytes: &[u8]) -> Vec<RawResponse> {
    let mut responses = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let Some(status) = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
        else {
            break;
        };
        let mut response = RawResponse {
            status,
            head,
            body: Vec::new(),
        };
        let rest = &bytes[end + 4..];
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        let length = response
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        if chunked {
            let Some((body, used)) = dechunk(rest) else {
                break;
            };
            response.body = body;
            bytes = &rest[used..];
        } else if let Some(length) = length {
            let Some(body) = rest.get(..length) else {
                break;
            };
            response.body = body.to_vec();
            bytes = &rest[length..];
        } else {
            // No framing: 1xx/204/304, or a body that ends with the connection.
            let bodyless = status < 200 || status == 204 || status == 304;
            if !bodyless {
                response.body = rest.to_vec();
                bytes = &[];
            } else {
                bytes = rest;
            }
        }
        responses.push(response);
    }
    responses
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body; returns it and the bytes consumed (trailers included).
fn dechunk(mut bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let total = bytes.len();
    let mut body = Vec::new();
    loop {
        let line_end = find(bytes, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&bytes[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            let trailers_end = find(bytes, b"\r\n")?;
            // Skip trailer lines until the empty one.
            let mut rest = bytes;
            let mut end = trailers_end;
            while end != 0 {
                rest = &rest[end + 2..];
                end = find(rest, b"\r\n")?;
            }
            let consumed = total - rest.len() + 2;
            return Some((body, consumed));
        }
        body.extend_from_slice(bytes.get(..size)?);
        bytes = bytes.get(size + 2..)?;
    }
}
