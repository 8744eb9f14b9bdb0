//! [`RequestError`]: everything that ends one request early, and the one place it is
//! built from the domains' errors (`From` impls: a credential, the access decision, a
//! sign-in, forwarding, path and host parsing).
//!
//! A `RequestError` is grouped by who caused it — the client, the upstream, or the gateway
//! itself — and knows its HTTP status and its stable `error` code (the JSON `error` field and
//! the HTML page both use it). Both mappings are exhaustive matches on purpose: a new variant
//! does not compile until someone decides what the client sees. The reason behind an error
//! (which path rule failed, which upstream refused) goes to the log, never into the body.

use std::time::Duration;

use http::{HeaderValue, StatusCode};

use super::original_url::OriginalUrlError;
use crate::auth::access::AccessError;
use crate::auth::session::CredentialError;
use crate::auth::{AuthFailure, SignInError};
use crate::router::{HostError, PathError};
use crate::upstream::ForwardError;

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
    /// No route matches the host and path (or no endpoint under the auth prefix).
    #[error("no route")]
    NoRoute,
    /// Two `Authorization` headers or two gateway cookies: ambiguous credentials.
    #[error("more than one credential")]
    DuplicateCredentials,
    /// The gateway cookie's value is not text.
    #[error("malformed gateway cookie")]
    MalformedCookie,
    /// `Authorization: Bearer` with no token (RFC 6750 §3.1 `invalid_request`).
    #[error("bearer scheme without a token")]
    EmptyBearer,
    /// `TRACE` or `TRACK`: a request the gateway never forwards (cross-site tracing).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Routes match the host and path, but none serves the method; `Allow` lists the
    /// methods they serve.
    #[error("no route for this method")]
    MethodNotRouted {
        /// The `Allow` header value.
        allow: HeaderValue,
    },
    /// A client address outside the route's `networks`.
    #[error("client address outside the route's networks")]
    OutsideNetworks,
    /// A login or logout request the endpoint cannot read (type, size, fields).
    #[error("malformed login request: {0}")]
    MalformedLogin(&'static str),
    /// A forward-auth request whose original URL headers are missing or do not parse.
    #[error("invalid original URL")]
    InvalidOriginalUrl(#[source] OriginalUrlError),
    /// The request body broke while it was streamed to the upstream (a malformed chunk, a
    /// client that stopped sending); the upstream is not at fault.
    #[error("request body failed")]
    RequestBodyFailed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request body stopped arriving mid-way for `body_read_timeout`; the upstream
    /// request was aborted.
    #[error("request body timed out")]
    RequestBodyTimeout,
    /// No credential where one is required.
    #[error("no credentials")]
    Unauthenticated(LoginHint),
    /// A credential that failed verification; the reason is only logged.
    #[error("invalid token")]
    InvalidToken {
        /// Why, for the log.
        #[source]
        failure: AuthFailure,
        /// Where a browser should go.
        hint: LoginHint,
    },
    /// Wrong user name or password at login.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A right password under `second_factor = "required"` for a user with no second
    /// factor enrolled.
    #[error("second factor enrollment required")]
    EnrollmentRequired,
    /// A valid user outside the route's groups.
    #[error("forbidden")]
    Forbidden,
    /// A route that needs a second factor, and a password-only token (RFC 9470 step-up).
    #[error("insufficient user authentication")]
    InsufficientAuthentication(LoginHint),
    /// An unsafe cookie-authenticated request, or a login/logout POST, without an allowed
    /// `Origin`/`Referer`.
    #[error("cross-site request rejected")]
    CsrfRejected,
    /// Login throttled.
    #[error("too many failed logins")]
    TooManyRequests {
        /// When to try again.
        retry_after: Duration,
    },
    /// Too many logins are waiting for a password check: 503 + `Retry-After`.
    #[error("too many logins waiting")]
    LoginsBusy {
        /// When to try again.
        retry_after: Duration,
    },

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
            | RequestError::UnsupportedTarget
            | RequestError::DuplicateCredentials
            | RequestError::MalformedCookie
            | RequestError::MalformedLogin(_)
            | RequestError::InvalidOriginalUrl(_)
            | RequestError::RequestBodyFailed(_) => StatusCode::BAD_REQUEST,
            RequestError::RequestBodyTimeout => StatusCode::REQUEST_TIMEOUT,
            RequestError::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
            RequestError::NoRoute => StatusCode::NOT_FOUND,
            RequestError::MethodNotAllowed | RequestError::MethodNotRouted { .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            RequestError::Unauthenticated(_)
            | RequestError::EmptyBearer
            | RequestError::InvalidToken { .. }
            | RequestError::InsufficientAuthentication(_)
            | RequestError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            RequestError::Forbidden
            | RequestError::OutsideNetworks
            | RequestError::CsrfRejected
            | RequestError::EnrollmentRequired => StatusCode::FORBIDDEN,
            RequestError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            RequestError::LoginsBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
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
            | RequestError::UnsupportedTarget
            | RequestError::DuplicateCredentials
            | RequestError::MalformedCookie
            | RequestError::MalformedLogin(_)
            | RequestError::InvalidOriginalUrl(_)
            | RequestError::RequestBodyFailed(_) => "bad_request",
            RequestError::RequestBodyTimeout => "request_timeout",
            RequestError::MisdirectedRequest => "misdirected_request",
            RequestError::NoRoute => "not_found",
            RequestError::MethodNotAllowed | RequestError::MethodNotRouted { .. } => {
                "method_not_allowed"
            }
            RequestError::OutsideNetworks => "network_not_allowed",
            RequestError::EmptyBearer => "invalid_request",
            RequestError::Unauthenticated(_) => "unauthorized",
            RequestError::InvalidToken { .. } => "invalid_token",
            RequestError::InvalidCredentials => "invalid_credentials",
            RequestError::InsufficientAuthentication(_) => "insufficient_user_authentication",
            RequestError::Forbidden => "forbidden",
            RequestError::EnrollmentRequired => "enrollment_required",
            RequestError::CsrfRejected => "csrf_rejected",
            RequestError::TooManyRequests { .. } => "too_many_requests",
            RequestError::LoginsBusy { .. } => "service_unavailable",
            RequestError::UpstreamUnreachable(_) => "bad_gateway",
            RequestError::UpstreamTimeout => "gateway_timeout",
            RequestError::Internal(_) => "internal",
        }
    }

    /// A sentence for the HTML error page; never names an upstream or a reason.
    pub fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::REQUEST_TIMEOUT => "The request took too long to arrive",
            StatusCode::MISDIRECTED_REQUEST => "Wrong host for this connection",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
            StatusCode::UNAUTHORIZED => "Sign-in required",
            StatusCode::FORBIDDEN => "Access denied",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts; try again later",
            StatusCode::SERVICE_UNAVAILABLE => "Too many sign-ins at once; try again shortly",
            StatusCode::BAD_GATEWAY => "The service is unavailable",
            StatusCode::GATEWAY_TIMEOUT => "The service took too long to answer",
            _ => "Something went wrong",
        }
    }
}

impl RequestError {
    /// The refusal of the access decision, with `hint` saying where a browser should go to
    /// sign in (used for 401s only).
    pub fn denied(error: AccessError, hint: impl FnOnce() -> LoginHint) -> RequestError {
        match error {
            AccessError::OutsideNetworks => RequestError::OutsideNetworks,
            AccessError::Credential(error) => error.into(),
            AccessError::InvalidToken(failure) => RequestError::InvalidToken {
                failure,
                hint: hint(),
            },
            AccessError::ConflictingCookies => RequestError::DuplicateCredentials,
            AccessError::Unauthenticated => RequestError::Unauthenticated(hint()),
            AccessError::Forbidden => RequestError::Forbidden,
            AccessError::SecondFactorRequired => RequestError::InsufficientAuthentication(hint()),
            AccessError::CrossSite => RequestError::CsrfRejected,
        }
    }
}

impl RequestError {
    /// 405 for a path whose routes serve only `methods`.
    pub fn not_routed(methods: &[http::Method]) -> RequestError {
        let listed: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
        let allow =
            HeaderValue::from_str(&listed.join(", ")).expect("method tokens are valid header text");
        RequestError::MethodNotRouted { allow }
    }
}

impl From<AccessError> for RequestError {
    /// A refusal for an API endpoint: no login hint.
    fn from(error: AccessError) -> RequestError {
        RequestError::denied(error, || LoginHint::None)
    }
}

impl From<CredentialError> for RequestError {
    fn from(error: CredentialError) -> RequestError {
        match error {
            CredentialError::TwoAuthorizationHeaders => RequestError::DuplicateCredentials,
            CredentialError::CookieNotText => RequestError::MalformedCookie,
            CredentialError::EmptyBearer => RequestError::EmptyBearer,
        }
    }
}

impl From<SignInError> for RequestError {
    fn from(error: SignInError) -> RequestError {
        match error {
            SignInError::NoUsers => RequestError::NoRoute,
            SignInError::Rejected
            | SignInError::ChallengeInvalid
            | SignInError::WrongCode { .. } => RequestError::InvalidCredentials,
            SignInError::EnrollmentRequired => RequestError::EnrollmentRequired,
            SignInError::Throttled { retry_after } => RequestError::TooManyRequests { retry_after },
            SignInError::Busy { retry_after } => RequestError::LoginsBusy { retry_after },
            SignInError::Failed(cause) => RequestError::Internal(cause),
        }
    }
}

impl From<ForwardError> for RequestError {
    fn from(error: ForwardError) -> RequestError {
        match error {
            ForwardError::Unreachable(cause) => RequestError::UpstreamUnreachable(cause),
            ForwardError::Timeout => RequestError::UpstreamTimeout,
            ForwardError::RequestBodyFailed(cause) => RequestError::RequestBodyFailed(cause),
            ForwardError::RequestBodyTimeout => RequestError::RequestBodyTimeout,
            ForwardError::Internal(cause) => RequestError::Internal(cause),
        }
    }
}

impl From<OriginalUrlError> for RequestError {
    fn from(error: OriginalUrlError) -> RequestError {
        RequestError::InvalidOriginalUrl(error)
    }
}

/// Where an unauthenticated client should go to sign in.
#[derive(Debug, Clone)]
pub enum LoginHint {
    /// Nowhere: an API endpoint answers a bare 401.
    None,
    /// A browser navigation is redirected to this same-host login URL (`/.auth/login?rd=…`).
    Navigate(String),
    /// Forward-auth: every 401 carries this absolute login URL as `Location`.
    Location(HeaderValue),
    /// Forward-auth, for a browser navigation or a request with a safe `rd=`: a 302 to this
    /// absolute login URL instead of the 401 (Traefik and Caddy pass it on as it is).
    Redirect(HeaderValue),
}

#[cfg(test)]
mod tests;
