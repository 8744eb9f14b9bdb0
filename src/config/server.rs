//! `[server]`: listeners, connection limits, timeouts and the request-head limits, with
//! their defaults. The values are checked one by one here (a limit of zero, a backlog past
//! what any kernel takes); what they mean at run time is `crate::server`'s business.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::cidr::Cidr;
use super::duration::ConfigDuration;
use super::location::Problems;

/// Default HTTPS listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// Default cap on concurrently open client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time a client has to finish the TLS handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a complete request head (slowloris defence).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may sit with no request in flight and no bytes moving.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time an idle HTTP/1.1 keep-alive connection keeps hyper's buffers: long enough
/// that a busy connection (a request at least every 100 ms) never pays for releasing and
/// rebuilding them, short enough that connections opened in a burst hold their buffers
/// only briefly.
pub const DEFAULT_IDLE_RELEASE_AFTER: Duration = Duration::from_millis(100);
/// Default time a request body may pause between two chunks before the request gets 408.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a write to a client may make no progress before the connection is closed.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default length of the listening sockets' accept queue (nginx's and HAProxy's; the kernel
/// caps it at `net.core.somaxconn`).
pub const DEFAULT_LISTEN_BACKLOG: u32 = 4096;
/// The largest `listen_backlog` accepted (Linux caps far lower; beyond this is a typo).
const MAX_LISTEN_BACKLOG: u32 = 65_535;
/// Default limit on the request line plus headers, in bytes.
pub const DEFAULT_MAX_REQUEST_HEADER_BYTES: usize = 16_384;
/// Default limit on the number of request headers.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Default time to open a TCP connection to an upstream.
pub const DEFAULT_UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time until the upstream's response head arrives.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time in-flight requests get to finish on shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// hyper's HTTP/1 read buffer cannot be smaller than this, so neither can the header limit.
const MIN_HEADER_BYTES: usize = 8192;

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// HTTPS listener.
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener that redirects to HTTPS.
    pub redirect_http: Option<SocketAddr>,
    /// Optional plain-HTTP admin listener: `/healthz`, `/readyz`, `/metrics`.
    pub admin_listen: Option<SocketAddr>,
    /// Peers whose `X-Forwarded-For` is kept and appended to.
    pub trusted_proxies: Vec<Cidr>,
    /// Cap on concurrently open client connections.
    pub max_connections: usize,
    /// Threads serving HTTPS connections, each with its own event loop and upstream
    /// connection pool (default: one per CPU).
    pub workers: usize,
    /// Time to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Time to send a complete request head.
    pub header_read_timeout: Duration,
    /// Time a connection may be idle.
    pub idle_timeout: Duration,
    /// Time an HTTP/1.1 keep-alive connection is idle before it releases its HTTP buffers.
    pub idle_release_after: Duration,
    /// Time a request body may pause mid-way (between chunks) before 408.
    pub body_read_timeout: Duration,
    /// Time a write to the client may make no progress before the connection is closed.
    pub write_timeout: Duration,
    /// Accept queue length of the listening sockets (`listen(2)` backlog).
    pub listen_backlog: u32,
    /// Limit on request line + headers, bytes.
    pub max_request_header_bytes: usize,
    /// Limit on the number of headers.
    pub max_headers: usize,
    /// Time to connect to an upstream.
    pub upstream_connect_timeout: Duration,
    /// Time until the upstream's response head.
    pub upstream_timeout: Duration,
    /// Time in-flight requests get on shutdown.
    pub shutdown_grace: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<SocketAddr>,
    redirect_http: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    #[serde(default)]
    trusted_proxies: Vec<Cidr>,
    max_connections: Option<Spanned<usize>>,
    workers: Option<Spanned<usize>>,
    tls_handshake_timeout: Option<ConfigDuration>,
    header_read_timeout: Option<ConfigDuration>,
    idle_timeout: Option<ConfigDuration>,
    idle_release_after: Option<ConfigDuration>,
    body_read_timeout: Option<Spanned<ConfigDuration>>,
    write_timeout: Option<Spanned<ConfigDuration>>,
    listen_backlog: Option<Spanned<u32>>,
    max_request_header_bytes: Option<Spanned<usize>>,
    max_headers: Option<Spanned<usize>>,
    upstream_connect_timeout: Option<ConfigDuration>,
    upstream_timeout: Option<ConfigDuration>,
    shutdown_grace: Option<ConfigDuration>,
}

pub(super) fn validate_server(raw: RawServer, problems: &mut Problems<'_>) -> ServerSettings {
    let duration = |value: Option<ConfigDuration>, default| value.map_or(default, |d| d.0);
    let mut positive =
        |value: Option<Spanned<usize>>, default: usize, min: usize, name: &str| match value {
            None => default,
            Some(v) if *v.get_ref() >= min => v.into_inner(),
            Some(v) => {
                problems.add(v.span().start, format!("{name} must be at least {min}"));
                default
            }
        };
    let max_connections = positive(
        raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
        1,
        "max_connections",
    );
    let max_request_header_bytes = positive(
        raw.max_request_header_bytes,
        DEFAULT_MAX_REQUEST_HEADER_BYTES,
        MIN_HEADER_BYTES,
        "max_request_header_bytes",
    );
    let max_headers = positive(raw.max_headers, DEFAULT_MAX_HEADERS, 1, "max_headers");
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let workers = positive(raw.workers, cpus, 1, "workers");
    let mut nonzero =
        |value: Option<Spanned<ConfigDuration>>, default: Duration, name: &str| match value {
            None => default,
            Some(v) if !v.get_ref().0.is_zero() => v.into_inner().0,
            Some(v) => {
                problems.add(v.span().start, format!("{name} must be longer than zero"));
                default
            }
        };
    let body_read_timeout = nonzero(
        raw.body_read_timeout,
        DEFAULT_BODY_READ_TIMEOUT,
        "body_read_timeout",
    );
    let write_timeout = nonzero(raw.write_timeout, DEFAULT_WRITE_TIMEOUT, "write_timeout");
    let listen_backlog = match raw.listen_backlog {
        None => DEFAULT_LISTEN_BACKLOG,
        Some(v) if (1..=MAX_LISTEN_BACKLOG).contains(v.get_ref()) => v.into_inner(),
        Some(v) => {
            problems.add(
                v.span().start,
                format!("listen_backlog must be between 1 and {MAX_LISTEN_BACKLOG}"),
            );
            DEFAULT_LISTEN_BACKLOG
        }
    };
    ServerSettings {
        listen: raw.listen.unwrap_or_else(|| {
            DEFAULT_LISTEN
                .parse()
                .expect("DEFAULT_LISTEN is a valid socket address")
        }),
        redirect_http: raw.redirect_http,
        admin_listen: raw.admin_listen,
        trusted_proxies: raw.trusted_proxies,
        max_connections,
        workers,
        tls_handshake_timeout: duration(raw.tls_handshake_timeout, DEFAULT_TLS_HANDSHAKE_TIMEOUT),
        header_read_timeout: duration(raw.header_read_timeout, DEFAULT_HEADER_READ_TIMEOUT),
        idle_timeout: duration(raw.idle_timeout, DEFAULT_IDLE_TIMEOUT),
        idle_release_after: duration(raw.idle_release_after, DEFAULT_IDLE_RELEASE_AFTER),
        body_read_timeout,
        write_timeout,
        listen_backlog,
        max_request_header_bytes,
        max_headers,
        upstream_connect_timeout: duration(
            raw.upstream_connect_timeout,
            DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
        ),
        upstream_timeout: duration(raw.upstream_timeout, DEFAULT_UPSTREAM_TIMEOUT),
        shutdown_grace: duration(raw.shutdown_grace, DEFAULT_SHUTDOWN_GRACE),
    }
}
