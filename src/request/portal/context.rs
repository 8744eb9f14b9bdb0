//! What every endpoint is given besides the request ([`EndpointContext`]), and how an
//! endpoint reports a failure of the gateway itself ([`internal`]).

use std::net::IpAddr;

use crate::request::error::RequestError;

/// What the endpoints need to know about the request besides the request itself.
#[derive(Debug)]
pub(crate) struct EndpointContext<'a> {
    /// Normalized host.
    pub host: &'a str,
    /// The endpoint: the normalized path after the prefix (`/login`, `/me`, …).
    pub endpoint: &'a str,
    /// Client address for throttling (trusted proxies applied).
    pub client_ip: IpAddr,
}

/// A failure of the gateway itself inside an endpoint (500); logged here.
pub(super) fn internal<E: std::error::Error + Send + Sync + 'static>(error: E) -> RequestError {
    tracing::warn!(error = %error, "auth endpoint failed");
    RequestError::Internal(Box::new(error))
}
