//! HTTP/2 under attack, frame by frame over the TLS stream (no client library would send
//! these): `:authority` against `Host`, malformed header blocks, rapid reset
//! (CVE-2023-44487), CONTINUATION floods (the 2024 family: CVE-2024-27316 and siblings),
//! and the 2019 flood family (CVE-2019-9512 ping, 9515 settings, 9518 empty frames, 9514
//! reset). Secure outcome: the stream or the connection is refused, nothing unauthorized
//! reaches an upstream, and the gateway keeps serving other clients.
//!
//! Header blocks are HPACK literals without Huffman coding or indexing (RFC 7541 §6.2.2);
//! statuses are read from the static table or a literal, one request per connection so
//! the server's dynamic table never matters.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{Tally, assert_still_serving};
use crate::support::client::Protocol;
use crate::support::env::{Env, env, env_with};
use crate::support::tokens::{claims, mint_hs256};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
/// RST_STREAM / GOAWAY error code CANCEL.
const CANCEL: u32 = 0x8;

/// One frame as read.
#[derive(Debug, Clone)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// A frame's bytes.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK integer with an `n`-bit prefix whose high bits are `first`.
fn integer(first: u8, n: u32, value: usize) -> Vec<u8> {
    let max = (1usize << n) - 1;
    if value < max {
        return vec![first | value as u8];
    }
    let mut out = vec![first | max as u8];
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
    out
}

/// An HPACK string literal, not Huffman-coded.
fn string(value: &[u8]) -> Vec<u8> {
    let mut out = integer(0, 7, value.len());
    out.extend_from_slice(value);
    out
}

/// A literal header field without indexing, with a literal name.
fn field(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend(string(name.as_bytes()));
    out.extend(string(value));
    out
}

/// A header block: `:method`, `:scheme https`, `:path`, `:authority` (when given), then
/// `extra` fields in order.
fn block(method: &str, path: &str, authority: Option<&str>, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(field(":method", method.as_bytes()));
    out.extend(field(":scheme", b"https"));
    out.extend(field(":path", path.as_bytes()));
    if let Some(authority) = authority {
        out.extend(field(":authority", authority.as_bytes()));
    }
    for (name, value) in extra {
        out.extend(field(name, value.as_bytes()));
    }
    out
}

/// The `:status` of a response header block (the first field), if it can be read.
fn status(block: &[u8]) -> Option<u16> {
    let mut i = 0;
    // Dynamic table size updates may come first.
    while block.get(i).is_some_and(|b| b & 0xe0 == 0x20) {
        i += 1;
    }
    let first = *block.get(i)?;
    if first & 0x80 != 0 {
        return match first & 0x7f {
            8 => Some(200),
            9 => Some(204),
            10 => Some(206),
            11 => Some(304),
            12 => Some(400),
            13 => Some(404),
            14 => Some(500),
            _ => None,
        };
    }
    let name_index = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    if name_index != 8 {
        return None;
    }
    let header = *block.get(i + 1)?;
    let len = usize::from(header & 0x7f);
    let value = block.get(i + 2..i + 2 + len)?;
    let digits = if header & 0x80 != 0 {
        huffman_digits(value)?
    } else {
        String::from_utf8(value.to_vec()).ok()?
    };
    digits.parse().ok()
}

/// Decodes a Huffman-coded string of ASCII digits (RFC 7541 Appendix B: `0`–`2` are 5-bit
/// codes 0–2, `3`–`9` 6-bit codes 0x19–0x1f; padding is all ones).
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let value = |from: usize, n: usize| bits[from..from + n].iter().fold(0u8, |v, b| v << 1 | b);
    let mut out = String::new();
    let mut at = 0;
    while bits.len() - at >= 5 {
        let five = value(at, 5);
        if five <= 2 {
            out.push(char::from(b'0' + five));
            at += 5;
        } else if bits.len() - at >= 6 && (0x19..=0x1f).contains(&value(at, 6)) {
            out.push(char::from(b'0' + value(at, 6) - 0x16));
            at += 6;
        } else {
            break;
        }
    }
    bits[at..].iter().all(|b| *b == 1).then_some(out)
}

/// A raw HTTP/2 connection.
struct H2 {
    reader: ReadHalf<TlsStream<TcpStream>>,
    writer: WriteHalf<TlsStream<TcpStream>>,
    buffer: Vec<u8>,
}

impl H2 {
    /// Connects with ALPN h2, sends the preface and empty SETTINGS, and acknowledges the
    /// server's SETTINGS.
    async fn open(env: &Env) -> H2 {
        let tls = env.client.connect("localhost", Protocol::Http2).await;
        assert_eq!(
            tls.get_ref().1.alpn_protocol(),
            Some(&b"h2"[..]),
            "h2 negotiated"
        );
        let (reader, writer) = tokio::io::split(tls);
        let mut h2 = H2 {
            reader,
            writer,
            buffer: Vec::new(),
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        h2.send(&hello).await.expect("preface");
        loop {
            let frame = h2
                .next(Duration::from_secs(10))
                .await
                .expect("server SETTINGS");
            if frame.kind == SETTINGS && frame.flags & ACK == 0 {
                h2.send(&self::frame(SETTINGS, ACK, 0, &[]))
                    .await
                    .expect("ack");
                break;
            }
        }
        h2
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await
    }

    /// The next frame, or `None` on EOF, a read error or `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = Instant::now() + wait;
        loop {
            if self.buffer.len() >= 9 {
                let len = usize::from(self.buffer[0]) << 16
                    | usize::from(self.buffer[1]) << 8
                    | usize::from(self.buffer[2]);
                if self.buffer.len() >= 9 + len {
                    let bytes: Vec<u8> = self.buffer.drain(..9 + len).collect();
                    return Some(Frame {
                        kind: bytes[3],
                        flags: bytes[4],
                        stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]])
                            & 0x7fff_ffff,
                        payload: bytes[9..].to_vec(),
                    });
                }
            }
            let mut chunk = vec![0u8; 64 * 1024];
            match tokio::time::timeout_at(deadline.into(), self.reader.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads until the stream's response HEADERS, its RST_STREAM, a GOAWAY or the end.
    async fn outcome(&mut self, stream: u32) -> Outcome {
        while let Some(frame) = self.next(Duration::from_secs(10)).await {
            match frame.kind {
                HEADERS if frame.stream == stream => {
                    return Outcome::Status(status(&frame.payload));
                }
                RST_STREAM if frame.stream == stream => return Outcome::Reset,
                GOAWAY => return Outcome::GoAway(goaway_code(&frame)),
                PING if frame.flags & ACK == 0 => {
                    let _ = self.send(&self::frame(PING, ACK, 0, &frame.payload)).await;
                }
                _ => {}
            }
        }
        Outcome::Closed
    }

    /// Reads until GOAWAY or the end of the connection (or `wait`); returns the GOAWAY code.
    async fn until_goaway(&mut self, wait: Duration) -> Option<Option<u32>> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(frame) if frame.kind == GOAWAY => return Some(goaway_code(&frame)),
                Some(_) => {}
                None if Instant::now() >= deadline => return None,
                None => return Some(None),
            }
        }
    }
}

fn goaway_code(frame: &Frame) -> Option<u32> {
    let code = frame.payload.get(4..8)?;
    Some(u32::from_be_bytes([code[0], code[1], code[2], code[3]]))
}

/// How one stream ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Status(Option<u16>),
    Reset,
    GoAway(Option<u32>),
    Closed,
}

impl Outcome {
    /// Anything but a success.
    fn refused(&self) -> bool {
        !matches!(self, Outcome::Status(Some(200..=399)))
    }
}

/// Sends one request header block on a new connection and returns its outcome.
async fn one_request(env: &Env, header_block: &[u8]) -> Outcome {
    let mut h2 = H2::open(env).await;
    h2.send(&frame(HEADERS, END_STREAM | END_HEADERS, 1, header_block))
        .await
        .expect("send");
    h2.outcome(1).await
}

#[tokio::test]
async fn authority_and_host_disagreement_is_refused() {
    let mut tally = Tally::new("http2::authority_and_host_disagreement_is_refused");
    let env = env().await;
    let bob = mint_hs256(&claims("bob"));
    let bearer = format!("Bearer {bob}");
    // Controls: the public route, and an agreeing Host.
    let control = one_request(
        &env,
        &block("GET", "/public/x", Some("app1.example.test"), &[]),
    )
    .await;
    assert_eq!(control, Outcome::Status(Some(200)), "control");
    let agreeing = block(
        "GET",
        "/public/x",
        Some("app1.example.test"),
        &[("host", "APP1.example.test:443")],
    );
    assert_eq!(
        one_request(&env, &agreeing).await,
        Outcome::Status(Some(200)),
        "agreeing Host"
    );
    let protected = block(
        "GET",
        "/",
        Some("app1.example.test"),
        &[("authorization", &bearer)],
    );
    assert_eq!(
        one_request(&env, &protected).await,
        Outcome::Status(Some(200)),
        "bob"
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            ":authority app2, Host app1 (the public route)",
            block(
                "GET",
                "/public/x",
                Some("app2.example.test"),
                &[("host", "app1.example.test")],
            ),
        ),
        (
            ":authority app1, Host app2",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("host", "app2.example.test")],
            ),
        ),
        (
            ":authority app1, Host another site",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("host", "evil.test")],
            ),
        ),
        (
            "two Host fields",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("host", "app1.example.test"), ("host", "evil.test")],
            ),
        ),
        (
            "no :authority, two Host fields",
            block(
                "GET",
                "/public/x",
                None,
                &[("host", "app1.example.test"), ("host", "app2.example.test")],
            ),
        ),
        (
            "userinfo in :authority",
            block("GET", "/public/x", Some("alice@app1.example.test"), &[]),
        ),
        ("empty :authority", block("GET", "/public/x", Some(""), &[])),
        ("no host at all", block("GET", "/public/x", None, &[])),
        (
            ":authority with a bad port",
            block("GET", "/public/x", Some("app1.example.test:99999"), &[]),
        ),
        (
            "dot segments in :path",
            block("GET", "/public/../admin", Some("app1.example.test"), &[]),
        ),
        (
            "encoded dot segments in :path",
            block(
                "GET",
                "/public/%2e%2e/admin",
                Some("app1.example.test"),
                &[],
            ),
        ),
        (
            "encoded slash in :path",
            block("GET", "/public/..%2fadmin", Some("app1.example.test"), &[]),
        ),
        (
            "backslash in :path",
            block("GET", "/public\\..\\admin", Some("app1.example.test"), &[]),
        ),
        (
            "relative :path",
            block("GET", "public/x", Some("app1.example.test"), &[]),
        ),
        (
            "empty :path",
            block("GET", "", Some("app1.example.test"), &[]),
        ),
        (
            "asterisk :path with GET",
            block("GET", "*", Some("app1.example.test"), &[]),
        ),
        (
            "CONNECT",
            block("CONNECT", "/", Some("app1.example.test:443"), &[]),
        ),
        (
            "upper-case header name",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("X-Forwarded-User", "admin")],
            ),
        ),
        (
            "connection-specific header",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("connection", "x-forwarded-user")],
            ),
        ),
        (
            "transfer-encoding in HTTP/2",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("transfer-encoding", "chunked")],
            ),
        ),
        (
            "te other than trailers",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("te", "gzip")],
            ),
        ),
        ("pseudo-header after a regular one", {
            let mut b = block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("x-a", "1")],
            );
            b.extend(field(":path", b"/admin"));
            b
        }),
        ("two :path", {
            let mut b = block("GET", "/public/x", Some("app1.example.test"), &[]);
            b.extend(field(":path", b"/admin"));
            b
        }),
        ("unknown pseudo-header", {
            let mut b = field(":user", b"admin");
            b.extend(block("GET", "/public/x", Some("app1.example.test"), &[]));
            b
        }),
        (
            "CR LF in a value",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("x-note", "a\r\nx-forwarded-user: admin")],
            ),
        ),
        (
            "NUL in a value",
            block(
                "GET",
                "/public/x",
                Some("app1.example.test"),
                &[("x-note", "a\0b")],
            ),
        ),
    ];
    for (what, header_block) in cases {
        let before = env.upstream_count();
        let outcome = one_request(&env, &header_block).await;
        assert!(outcome.refused(), "{what}: {outcome:?}");
        assert_eq!(env.upstream_count(), before, "{what}: forwarded");
        tally.refused();
    }
    // A body longer than its content-length: the stream is refused, and what reached the
    // public upstream (if anything) never carried more than the declared bytes.
    let mut h2 = H2::open(&env).await;
    let head = block(
        "POST",
        "/upload",
        Some("app1.example.test"),
        &[("authorization", &bearer), ("content-length", "5")],
    );
    let mut bytes = frame(HEADERS, END_HEADERS, 1, &head);
    bytes.extend(frame(DATA, END_STREAM, 1, b"hello, and more than declared"));
    h2.send(&bytes).await.expect("send");
    let outcome = h2.outcome(1).await;
    assert!(outcome.refused(), "content-length mismatch: {outcome:?}");
    tally.refused();
    assert_still_serving(&env, "after malformed HTTP/2").await;
    tally.finish();
}

#[tokio::test]
async fn rapid_reset_is_contained() {
    let mut tally = Tally::new("http2::rapid_reset_is_contained");
    let env = env().await;
    let streams = 5000u32;
    let mut h2 = H2::open(&env).await;
    let started = Instant::now();
    let mut batch = Vec::new();
    let mut sent = 0;
    for i in 0..streams {
        let id = 2 * i + 1;
        let header_block = block("GET", "/public/rapid-reset", Some("app1.example.test"), &[]);
        batch.extend(frame(HEADERS, END_STREAM | END_HEADERS, id, &header_block));
        batch.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
        if batch.len() > 32 * 1024 || i + 1 == streams {
            if h2.send(&batch).await.is_err() {
                break;
            }
            sent = i + 1;
            batch.clear();
        }
    }
    let goaway = h2.until_goaway(Duration::from_secs(15)).await;
    let forwarded = env.app1.received().len();
    println!(
        "rapid reset: {sent} streams written in {:?}, GOAWAY {goaway:?}, {forwarded} forwarded",
        started.elapsed()
    );
    assert!(
        goaway.is_some(),
        "the connection was neither closed nor told to go away"
    );
    assert!(
        forwarded < streams as usize / 2,
        "{forwarded} of {streams} cancelled requests were forwarded"
    );
    tally.refused();
    // The same with streams the gateway refuses itself (no credentials): nothing forwarded.
    let mut h2 = H2::open(&env).await;
    let before = env.upstream_count();
    let mut batch = Vec::new();
    for i in 0..streams {
        let id = 2 * i + 1;
        let header_block = block("GET", "/admin", Some("app1.example.test"), &[]);
        batch.extend(frame(HEADERS, END_STREAM | END_HEADERS, id, &header_block));
        batch.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
        if batch.len() > 32 * 1024 || i + 1 == streams {
            if h2.send(&batch).await.is_err() {
                break;
            }
            batch.clear();
        }
    }
    let goaway = h2.until_goaway(Duration::from_secs(15)).await;
    assert!(
        goaway.is_some(),
        "protected: neither closed nor told to go away"
    );
    assert_eq!(env.upstream_count(), before, "protected: forwarded");
    tally.refused();
    assert_still_serving(&env, "after rapid reset").await;
    tally.finish();
}

#[tokio::test]
async fn continuation_floods_are_cut_off() {
    let mut tally = Tally::new("http2::continuation_floods_are_cut_off");
    let env = env().await;
    let first = block(
        "GET",
        "/public/continuation",
        Some("app1.example.test"),
        &[],
    );
    let junk: Vec<u8> = (0..400)
        .flat_map(|i| field(&format!("x-flood-{i}"), &[b'a'; 24]))
        .collect();
    for (what, continuation, frames) in [
        ("CONTINUATION frames of junk headers", junk.clone(), 2000),
        ("empty CONTINUATION frames", Vec::new(), 200_000),
    ] {
        let before = env.upstream_count();
        let mut h2 = H2::open(&env).await;
        let started = Instant::now();
        let mut out = frame(HEADERS, END_STREAM, 1, &first);
        let mut written = 0;
        for _ in 0..frames {
            out.extend(frame(CONTINUATION, 0, 1, &continuation));
            if out.len() > 64 * 1024 {
                if h2.send(&out).await.is_err() {
                    break;
                }
                written += out.len();
                out.clear();
            }
        }
        let goaway = h2.until_goaway(Duration::from_secs(10)).await;
        println!(
            "{what}: {written} bytes written, {goaway:?} after {:?}",
            started.elapsed()
        );
        assert!(
            goaway.is_some(),
            "{what}: neither closed nor told to go away"
        );
        assert_eq!(env.upstream_count(), before, "{what}: forwarded");
        tally.refused();
    }
    // One header block too big for the limit, in one frame sequence: refused, not buffered.
    let before = env.upstream_count();
    let mut h2 = H2::open(&env).await;
    let big: Vec<u8> = (0..2000)
        .flat_map(|i| field(&format!("x-big-{i}"), &[b'b'; 40]))
        .collect();
    let mut out = frame(HEADERS, END_STREAM, 1, &first);
    for (i, chunk) in big.chunks(16 * 1024).enumerate() {
        let last = (i + 1) * 16 * 1024 >= big.len();
        out.extend(frame(
            CONTINUATION,
            if last { END_HEADERS } else { 0 },
            1,
            chunk,
        ));
    }
    let _ = h2.send(&out).await;
    let outcome = h2.outcome(1).await;
    assert!(outcome.refused(), "an oversized header block: {outcome:?}");
    assert_eq!(env.upstream_count(), before);
    tally.refused();
    assert_still_serving(&env, "after CONTINUATION floods").await;
    tally.finish();
}

#[tokio::test]
async fn frame_floods_are_contained() {
    let mut tally = Tally::new("http2::frame_floods_are_contained");
    let env = env_with(|c| c.server("idle_timeout = \"2s\"")).await;
    // Each flood is written without reading a single answer back.
    let floods: Vec<(&str, Vec<u8>)> = vec![
        ("100,000 PINGs (CVE-2019-9512)", {
            (0..100_000u64)
                .flat_map(|i| frame(PING, 0, 0, &i.to_be_bytes()))
                .collect()
        }),
        ("50,000 SETTINGS (CVE-2019-9515)", {
            (0..50_000)
                .flat_map(|_| frame(SETTINGS, 0, 0, &[]))
                .collect()
        }),
        ("100,000 empty DATA frames (CVE-2019-9518)", {
            let mut out = frame(
                HEADERS,
                END_HEADERS,
                1,
                &block(
                    "POST",
                    "/public/empty-frames",
                    Some("app1.example.test"),
                    &[],
                ),
            );
            out.extend((0..100_000).flat_map(|_| frame(DATA, 0, 1, &[])));
            out
        }),
        ("5,000 malformed streams (CVE-2019-9514)", {
            (0..5000u32)
                .flat_map(|i| {
                    frame(
                        HEADERS,
                        END_STREAM | END_HEADERS,
                        2 * i + 1,
                        &block(
                            "GET",
                            "/public/x",
                            Some("app1.example.test"),
                            &[("Upper-Case", "x")],
                        ),
                    )
                })
                .collect()
        }),
        ("a window update past 2^31-1", {
            let mut out = frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes());
            out.extend(frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()));
            out
        }),
        ("a header block that never ends", {
            frame(
                HEADERS,
                END_STREAM,
                1,
                &block("GET", "/public/stalled", Some("app1.example.test"), &[]),
            )
        }),
    ];
    for (what, bytes) in floods {
        let before = env.app1.received().len();
        let mut h2 = H2::open(&env).await;
        let started = Instant::now();
        let writing = tokio::spawn(async move {
            for chunk in bytes.chunks(64 * 1024) {
                if h2.writer.write_all(chunk).await.is_err() {
                    break;
                }
            }
            let _ = h2.writer.flush().await;
            h2
        });
        // Meanwhile another client is served.
        assert_still_serving(&env, what).await;
        let Ok(mut h2) = writing.await else {
            panic!("{what}: writer panicked")
        };
        let goaway = h2.until_goaway(Duration::from_secs(15)).await;
        println!("{what}: {goaway:?} after {:?}", started.elapsed());
        assert!(
            goaway.is_some(),
            "{what}: the connection outlived the flood"
        );
        let forwarded = env.app1.received().len() - before - 1;
        assert!(forwarded <= 1, "{what}: {forwarded} requests forwarded");
        tally.refused();
    }
    tally.finish();
}
