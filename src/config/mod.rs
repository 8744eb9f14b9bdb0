//! `gateway.toml` → a validated [`Config`].
//!
//! Two stages. Serde fills the `Raw*` structs (every one `deny_unknown_fields`, so a typo is
//! an error, not a silently ignored key); values that can be checked on their own — durations,
//! socket addresses, CIDRs, upstream URLs — are parsed inside `Deserialize`, so the TOML parser
//! reports them with the value's own line and column. Then [`validate`] turns the raw tree
//! into typed settings and checks what needs more than one value (a route with neither
//! `upstream` nor `upstreams`, a duplicate host + path) using `toml::Spanned` positions.
//! Every problem is reported as `file:line:col: message`, like `nginx -t`.
//!
//! This module only reads the config text: certificates and keys named here are loaded by
//! [`crate::tls`] before any port is bound. It never reads environment variables (only
//! `main.rs` does), and relative paths are resolved against the config file's folder.

mod access;
mod auth;
mod cidr;
mod cookie;
mod duration;
mod forward_auth;
mod hsts;
mod routes;
mod upstream;
mod warnings;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::text_position::LineIndex;

pub use access::Access;
pub use auth::{
    AuthSettings, DEFAULT_USER_CLAIM, IdentityHeaders, KeySource, ThrottleSettings, UsersSettings,
    default_throttle,
};
pub use cidr::Cidr;
pub use cookie::{CookieSettings, SameSite, is_valid_cookie_name};
pub use duration::{ConfigDuration, parse_duration};
pub use forward_auth::{ForwardAuthSettings, Unmatched, UrlSource};
pub use routes::RouteSettings;
pub use upstream::Upstream;
pub use warnings::{DEMO_USER, LookalikeNames, UsersFacts, Warning, warnings};

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

/// A place in the config file, printed as `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The config file as the user named it (or `<config>` for inline text).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A config value together with where it was written, for errors found after parsing.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it stands in the config file.
    pub at: Location,
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML or does not fit the schema; one or more positioned messages.
    #[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

/// One positioned config problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, when the parser could tell.
    pub at: Location,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners, limits and timeouts.
    pub server: ServerSettings,
    /// Certificates.
    pub tls: TlsSettings,
    /// Routes, in file order.
    pub routes: Vec<RouteSettings>,
    /// Token, cookie and endpoint settings; `None` when no route needs authentication.
    pub auth: Option<AuthSettings>,
    /// The users file and login throttling.
    pub users: Option<UsersSettings>,
    /// How `/.auth/verify` reads the original request.
    pub forward_auth: ForwardAuthSettings,
}

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

/// `[tls]`.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Default certificate chain (PEM).
    pub cert: Located<PathBuf>,
    /// Default private key (PEM).
    pub key: Located<PathBuf>,
    /// Create a self-signed certificate and key when both files are missing.
    pub generate_self_signed: bool,
    /// Extra certificates chosen by SNI.
    pub sni: Vec<SniSettings>,
    /// The `Strict-Transport-Security` value for every HTTPS response, checked at load.
    pub hsts: Option<http::HeaderValue>,
}

/// One `[[tls.sni]]` entry.
#[derive(Debug, Clone)]
pub struct SniSettings {
    /// The SNI host name (lower-case, no trailing dot).
    pub host: Located<String>,
    /// Certificate chain (PEM).
    pub cert: Located<PathBuf>,
    /// Private key (PEM).
    pub key: Located<PathBuf>,
}

impl Config {
    /// Reads and validates the config file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, [`ConfigError::Invalid`] with
    /// positioned problems otherwise.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        parse(&text, base_dir, path.display().to_string().into())
    }

    /// Validates config text; relative paths resolve against `base_dir`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with positioned problems.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        parse(text, base_dir, "<config>".into())
    }
}

fn parse(text: &str, base_dir: &Path, file: Arc<str>) -> Result<Config, ConfigError> {
    let locator = Locator::new(text, file);
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        problems: vec![Problem {
            at: locator.locate(e.span().map_or(0, |s| s.start)),
            message: e.message().trim_end().to_owned(),
        }],
    })?;
    validate(raw, base_dir, &locator)
}

/// Turns byte offsets from `toml` into `file:line:col`.
struct Locator<'a> {
    lines: LineIndex<'a>,
    file: Arc<str>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str, file: Arc<str>) -> Locator<'a> {
        Locator {
            lines: LineIndex::new(text),
            file,
        }
    }

    fn locate(&self, offset: usize) -> Location {
        let (line, col) = self.lines.line_column(offset);
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }

    fn located<T>(&self, spanned: Spanned<T>) -> Located<T> {
        let at = self.locate(spanned.span().start);
        Located {
            value: spanned.into_inner(),
            at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    tls: Option<Spanned<RawTls>>,
    #[serde(default)]
    route: Vec<Spanned<routes::RawRoute>>,
    auth: Option<Spanned<auth::RawAuth>>,
    users: Option<Spanned<auth::RawUsers>>,
    forward_auth: Option<forward_auth::RawForwardAuth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
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
    body_read_timeout: Option<Spanned<ConfigDuration>>,
    write_timeout: Option<Spanned<ConfigDuration>>,
    listen_backlog: Option<Spanned<u32>>,
    max_request_header_bytes: Option<Spanned<usize>>,
    max_headers: Option<Spanned<usize>>,
    upstream_connect_timeout: Option<ConfigDuration>,
    upstream_timeout: Option<ConfigDuration>,
    shutdown_grace: Option<ConfigDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
    #[serde(default)]
    generate_self_signed: bool,
    #[serde(default)]
    sni: Vec<RawSni>,
    hsts: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSni {
    host: Spanned<String>,
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

/// Collects problems so that one `check` run reports all of them.
struct Problems<'a> {
    locator: &'a Locator<'a>,
    found: Vec<Problem>,
}

impl Problems<'_> {
    fn add(&mut self, offset: usize, message: impl Into<String>) {
        self.found.push(Problem {
            at: self.locator.locate(offset),
            message: message.into(),
        });
    }
}

fn validate(raw: RawConfig, base_dir: &Path, locator: &Locator<'_>) -> Result<Config, ConfigError> {
    let mut problems = Problems {
        locator,
        found: Vec::new(),
    };
    let server = validate_server(raw.server, &mut problems);
    let tls = match raw.tls {
        Some(tls) => validate_tls(tls.into_inner(), base_dir, &mut problems),
        None => {
            problems.add(
                0,
                "missing [tls] section: the gateway needs a certificate (cert, key)",
            );
            None
        }
    };
    let routes = routes::validate_routes(raw.route, &mut problems);
    let auth_offset = raw.auth.as_ref().map(|a| a.span().start);
    let auth = raw
        .auth
        .and_then(|a| auth::validate_auth(a.into_inner(), base_dir, &mut problems));
    let users_offset = raw.users.as_ref().map(|u| u.span().start);
    let users = raw
        .users
        .map(|u| auth::validate_users(u.into_inner(), base_dir, &mut problems));
    let forward_auth = forward_auth::validate_forward_auth(raw.forward_auth, locator);
    routes::check_auth_coverage(
        &routes,
        auth_offset,
        users_offset,
        auth.as_ref(),
        &mut problems,
    );
    match tls {
        Some(tls) if problems.found.is_empty() => Ok(Config {
            server,
            tls,
            routes,
            auth,
            users,
            forward_auth,
        }),
        _ => Err(ConfigError::Invalid {
            problems: problems.found,
        }),
    }
}

fn validate_server(raw: RawServer, problems: &mut Problems<'_>) -> ServerSettings {
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

fn validate_tls(raw: RawTls, base_dir: &Path, problems: &mut Problems<'_>) -> Option<TlsSettings> {
    let locator = problems.locator;
    let resolve = |path: Spanned<PathBuf>| {
        let mut located = locator.located(path);
        located.value = base_dir.join(&located.value);
        located
    };
    let mut seen = HashSet::new();
    let mut sni = Vec::new();
    for entry in raw.sni {
        let host_offset = entry.host.span().start;
        let host = entry
            .host
            .get_ref()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host.is_empty() || host.contains(['*', ':', '/', ' ']) {
            problems.add(
                host_offset,
                format!(
                    "invalid SNI host {:?}: expected a DNS name such as \"app1.example.com\"",
                    entry.host.get_ref()
                ),
            );
            continue;
        }
        if !seen.insert(host.clone()) {
            problems.add(host_offset, format!("duplicate [[tls.sni]] host {host:?}"));
            continue;
        }
        let mut located_host = locator.located(entry.host);
        located_host.value = host;
        sni.push(SniSettings {
            host: located_host,
            cert: resolve(entry.cert),
            key: resolve(entry.key),
        });
    }
    let hsts = raw
        .hsts
        .and_then(|hsts| match hsts::parse_hsts(hsts.get_ref()) {
            Ok(value) => Some(value),
            Err(message) => {
                problems.add(hsts.span().start, message);
                None
            }
        });
    Some(TlsSettings {
        cert: resolve(raw.cert),
        key: resolve(raw.key),
        generate_self_signed: raw.generate_self_signed,
        sni,
        hsts,
    })
}

#[cfg(test)]
mod tests;
