//! The adversarial suite: an attacker's checklist thrown at the real gateway in front of
//! recording upstreams, black-box, over real TLS.
//!
//! Every hostile case asserts two things: the secure outcome (a refusal with the right
//! status, a closed connection, or a request whose hostile part was removed or normalized)
//! and that nothing unauthorized reached an upstream (its recorded requests). Each test has
//! a control where it matters — the same request without the defect succeeds — so a case
//! passes because of the check it aims at, not because the request was broken some other way.
//!
//! | module | what is attacked |
//! |---|---|
//! | [`tokens`] | JWT validation: `none`, algorithm confusion, null/truncated/psychic signatures, `kid`/`jku`/`x5u`/`jwk` tricks, huge and nested tokens, duplicate claims, wrong claim types |
//! | [`identity`] | identity headers in every spelling, duplicates, obs-fold, CR/LF/NUL, hop-by-hop abuse |
//! | [`paths`] | dot segments raw and encoded, double encoding, `//`, `\`, `;`, case, Host games, absolute-form, SNI fronting |
//! | [`redirects`] | open-redirect bypass shapes for `rd=`, reflected markup |
//! | [`csrf`] | cookie tossing, duplicate credentials, missing or foreign `Origin` on unsafe methods, login CSRF |
//! | [`login`] | timing-based user enumeration, throttling evasion, huge passwords, parser tricks |
//! | [`smuggling`] | CL/TE combinations, chunk tricks, pipelining, pool poisoning |
//! | [`floods`] | slowloris on heads and bodies, 10k headers, long URIs and header values |
//! | [`http2`] | rapid reset, CONTINUATION floods, `:authority` vs `Host` |
//! | [`tls`] | TLS 1.0/1.1, SSLv3 and weak cipher suites offered by `openssl s_client` and by hand |
//!
//! # The count
//!
//! Each test keeps a [`Tally`] of its hostile cases and, when it passes, adds it to the run's
//! totals. When the last test of [`SUITE`] has passed, the totals are printed (to the real
//! stdout, past the test harness's capture), e.g. `adversarial: 240 hostile cases, 240
//! defeated (205 refused, 35 neutralized)`. A tally for a test that is not in [`SUITE`]
//! fails at once, so the list cannot silently drift.
//!
//! No test here is `#[ignore]`d: a weakness the suite finds is fixed in the code and its test
//! stays as a regression test (docs/security.md lists them). Nothing is weakened to pass.

mod csrf;
mod floods;
mod http2;
mod identity;
mod login;
mod paths;
mod redirects;
mod smuggling;
mod tls;
mod tokens;

use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::auth::{Env, Req};
use crate::support::client::{Protocol, TestClient, TestResponse};
use crate::support::within;

/// Every test that reports a tally; the totals are printed when all of them have passed.
const SUITE: &[&str] = &[
    "csrf::cookie_tossing_and_duplicate_credentials_are_refused",
    "csrf::unsafe_cookie_requests_without_a_trusted_origin_are_refused",
    "csrf::cross_site_login_and_logout_are_refused",
    "floods::slowloris_heads_and_bodies_are_cut_off",
    "floods::oversized_heads_are_refused",
    "http2::authority_and_host_disagreement_is_refused",
    "http2::rapid_reset_is_contained",
    "http2::continuation_floods_are_cut_off",
    "http2::frame_floods_are_contained",
    "identity::spoofed_identity_headers_never_reach_the_upstream",
    "identity::malformed_header_syntax_is_refused",
    "identity::hop_by_hop_abuse_cannot_remove_gateway_headers",
    "login::timing_does_not_reveal_whether_a_user_exists",
    "login::timing_does_not_reveal_users_of_an_htpasswd_file",
    "login::throttling_cannot_be_evaded",
    "login::a_login_flood_from_one_address_cannot_outrun_the_throttle",
    "login::hostile_login_bodies_are_refused",
    "paths::dot_segments_and_encodings_cannot_escape_a_route",
    "paths::raw_ambiguous_targets_are_refused",
    "paths::host_games_cannot_change_the_route",
    "paths::path_parameters_cannot_reach_a_stricter_route",
    "paths::case_variants_cannot_reach_a_stricter_route",
    "redirects::open_redirect_shapes_fall_back_to_a_local_path",
    "redirects::login_page_reflects_nothing_executable",
    "smuggling::conflicting_framing_is_refused_or_normalized",
    "smuggling::pipelined_requests_are_each_authorized",
    "tls::old_protocols_and_weak_ciphers_are_refused_by_openssl",
    "tls::hand_made_hellos_for_broken_suites_are_refused",
    "tokens::algorithm_confusion_and_none_are_refused",
    "tokens::null_truncated_and_mangled_signatures_are_refused",
    "tokens::psychic_ecdsa_signatures_are_refused",
    "tokens::key_header_tricks_are_ignored",
    "tokens::oversized_and_nested_tokens_are_refused",
    "tokens::duplicate_claims_are_refused",
    "tokens::wrong_claim_types_are_refused",
    "tokens::identity_claims_cannot_inject_headers",
];

static CASES: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);
static NEUTRALIZED: AtomicUsize = AtomicUsize::new(0);
static FINISHED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// The hostile cases of one test. Call [`Tally::refused`] or [`Tally::neutralized`] after a
/// case's assertions held, and [`Tally::finish`] at the end of the test.
#[derive(Debug)]
pub struct Tally {
    test: &'static str,
    refused: usize,
    neutralized: usize,
}

impl Tally {
    /// Starts the tally of `test` (`module::function`), which must be listed in [`SUITE`].
    pub fn new(test: &'static str) -> Tally {
        assert!(
            SUITE.contains(&test),
            "{test} is not in adversarial::SUITE: add it there so the totals count it"
        );
        Tally {
            test,
            refused: 0,
            neutralized: 0,
        }
    }

    /// A case the gateway refused (an error status or a closed connection) with nothing
    /// forwarded.
    pub fn refused(&mut self) {
        self.refused += 1;
    }

    /// A case the gateway served after removing or normalizing its hostile part.
    pub fn neutralized(&mut self) {
        self.neutralized += 1;
    }

    /// Adds this test's cases to the run's totals; the last test of [`SUITE`] prints them.
    pub fn finish(self) {
        let cases = self.refused + self.neutralized;
        assert!(cases > 0, "{}: a test without hostile cases", self.test);
        CASES.fetch_add(cases, Ordering::SeqCst);
        REFUSED.fetch_add(self.refused, Ordering::SeqCst);
        NEUTRALIZED.fetch_add(self.neutralized, Ordering::SeqCst);
        println!(
            "adversarial {}: {cases} hostile cases ({} refused, {} neutralized)",
            self.test, self.refused, self.neutralized
        );
        let mut finished = FINISHED.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            !finished.contains(&self.test),
            "{} finished twice",
            self.test
        );
        finished.push(self.test);
        if finished.len() == SUITE.len() {
            let (cases, refused, neutralized) = (
                CASES.load(Ordering::SeqCst),
                REFUSED.load(Ordering::SeqCst),
                NEUTRALIZED.load(Ordering::SeqCst),
            );
            // Straight to the process's stdout: libtest captures `println!` of passing tests.
            let line = format!(
                "\nadversarial: {cases} hostile cases, {} defeated ({refused} refused, \
                 {neutralized} neutralized) in {} tests\n",
                refused + neutralized,
                SUITE.len()
            );
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

/// Sends `request` over HTTP/1.1 and asserts the refusal `status` and that no upstream
/// received anything; counts the case.
pub async fn refused(
    env: &Env,
    tally: &mut Tally,
    what: &str,
    request: Req,
    status: u16,
) -> TestResponse {
    let before = env.upstream_count();
    let response = env.send(request).await;
    assert_eq!(response.status, status, "{what}: {}", response.text());
    assert_eq!(
        env.upstream_count(),
        before,
        "{what}: an upstream received the request"
    );
    tally.refused();
    response
}

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
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// What a raw exchange produced.
#[derive(Debug)]
pub struct RawExchange {
    /// Every complete response, in order.
    pub responses: Vec<RawResponse>,
    /// Whether the server closed the connection (else the wait ran out).
    pub closed: bool,
}

impl RawExchange {
    /// The statuses of the responses, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
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
    let (mut reader, mut writer) = tokio::io::split(tls);
    let started = Instant::now();
    let data = bytes.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&data).await;
        let _ = writer.flush().await;
        // Keep the write half open until the reader is done: dropping it would close the
        // TLS stream.
        writer
    });
    let (out, closed_after) = read_until_closed(&mut reader, started, wait).await;
    writing.abort();
    RawExchange {
        responses: parse_responses(&out),
        closed: closed_after.is_some(),
    }
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
    let (mut reader, mut writer) = tokio::io::split(tls);
    let deadline = Instant::now() + cap;
    let data = bytes.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&data).await;
        let _ = writer.flush().await;
        writer
    });
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
    RawExchange {
        responses: parse_responses(&out),
        closed,
    }
}

/// Reads until EOF, a read error or `wait`; returns the bytes and when the stream closed.
pub async fn read_until_closed<R: AsyncReadExt + Unpin>(
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

/// Asserts that the gateway still serves a normal request after an attack.
pub async fn assert_still_serving(env: &Env, what: &str) {
    let response = within(env.send(Req::get("app1.example.test", "/public/alive"))).await;
    assert_eq!(
        response.status,
        200,
        "{what}: the gateway stopped serving: {}",
        response.text()
    );
}
