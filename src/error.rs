//! Errors: [`Error`] for everything that stops the gateway from starting, [`RequestError`]
//! for everything that ends one request early.
//!
//! A `RequestError` is grouped by who caused it — the client, the upstream, or the gateway
//! itself — and knows its HTTP status and its stable `error` code (the JSON `error` field and
//! the HTML page both use it). Both mappings are exhaustive matches on purpose: a new variant
//! does not compile until someone decides what the client sees. The reason behind an error
//! (which path rule failed, which upstream refused) goes to the log, never into the body.

use http::StatusCode;

use crate::config::ConfigError;
use crate::router::{HostError, PathError};
use crate::tls::TlsError;

/// Why the gateway could not start or a command could not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with the gateway's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why one request was answered by the gateway instead of an upstream.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    // Caused by the client.
    /// The path is ambiguous or malformed (DESIGN: path normalization).
    #[error("invalid request path")]
    InvalidPath(#[source] PathError),
    /// The host is malformed.
    #[error("invalid host")]
    InvalidHost(#[source] HostError),
    /// No `Host` header and no authority in the request target.
    #[error("missing host")]
    MissingHost,
    /// More than one `Host` header.
    #[error("duplicate host header")]
    DuplicateHost,
    /// HTTP/2 `:authority` and `Host` disagree.
    #[error("host header disagrees with :authority")]
    ConflictingHost,
    /// Asterisk-form or authority-form target (`OPTIONS *`, `CONNECT`): nothing to route.
    #[error("unsupported request target")]
    UnsupportedTarget,
    /// The connection's SNI chose a dedicated certificate for another host.
    #[error("request host does not match the connection's TLS server name")]
    MisdirectedRequest,
    /// No route matches the host and path.
    #[error("no route")]
    NoRoute,

    // Caused by the upstream.
    /// The upstream refused the connection or broke it before answering.
    #[error("upstream unreachable")]
    UpstreamUnreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The upstream did not send its response head within `upstream_timeout`.
    #[error("upstream timed out")]
    UpstreamTimeout,

    // Caused by the gateway.
    /// A response could not be built; a bug, not a client's fault.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl RequestError {
    /// The status the client receives.
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::InvalidPath(_)
            | RequestError::InvalidHost(_)
            | RequestError::MissingHost
            | RequestError::DuplicateHost
            | RequestError::ConflictingHost
            | RequestError::UnsupportedTarget => StatusCode::BAD_REQUEST,
            RequestError::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
            RequestError::NoRoute => StatusCode::NOT_FOUND,
            RequestError::UpstreamUnreachable(_) => StatusCode::BAD_GATEWAY,
            RequestError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            RequestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `error` code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidPath(_)
            | RequestError::InvalidHost(_)
            | RequestError::MissingHost
            | RequestError::DuplicateHost
            | RequestError::ConflictingHost
            | RequestError::UnsupportedTarget => "bad_request",
            RequestError::MisdirectedRequest => "misdirected_request",
            RequestError::NoRoute => "not_found",
            RequestError::UpstreamUnreachable(_) => "bad_gateway",
            RequestError::UpstreamTimeout => "gateway_timeout",
            RequestError::Internal(_) => "internal",
        }
    }

    /// A sentence for the HTML error page; never names an upstream or a reason.
    pub fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::MISDIRECTED_REQUEST => "Wrong host for this connection",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_GATEWAY => "The service is unavailable",
            StatusCode::GATEWAY_TIMEOUT => "The service took too long to answer",
            _ => "Something went wrong",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error() -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other("x"))
    }

    #[test]
    fn each_variant_has_its_status_and_code() {
        let cases: Vec<(RequestError, u16, &str)> = vec![
            (
                RequestError::InvalidPath(PathError::Backslash),
                400,
                "bad_request",
            ),
            (
                RequestError::InvalidHost(HostError::Empty),
                400,
                "bad_request",
            ),
            (RequestError::MissingHost, 400, "bad_request"),
            (RequestError::DuplicateHost, 400, "bad_request"),
            (RequestError::ConflictingHost, 400, "bad_request"),
            (RequestError::UnsupportedTarget, 400, "bad_request"),
            (RequestError::MisdirectedRequest, 421, "misdirected_request"),
            (RequestError::NoRoute, 404, "not_found"),
            (
                RequestError::UpstreamUnreachable(io_error()),
                502,
                "bad_gateway",
            ),
            (RequestError::UpstreamTimeout, 504, "gateway_timeout"),
            (RequestError::Internal(io_error()), 500, "internal"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert!(!error.title().is_empty());
        }
    }
}
