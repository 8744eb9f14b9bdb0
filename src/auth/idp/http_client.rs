//! [`BackChannel`]: the one HTTPS client the gateway uses to talk to identity providers.
//!
//! It is hyper-util's pooled client over `hyper-rustls`, with the trust roots built by
//! `tls::client::client_config` (the system's roots, or only a configured CA file). It
//! refuses plain `http://` URLs: a provider's keys and tokens are only believed when they
//! came over verified TLS. Every call has a deadline ([`CALL_TIMEOUT`]) and a response body
//! cap ([`MAX_BODY`]), so a slow or hostile provider cannot hold a login or fill memory.
//!
//! It implements `openidconnect`'s `AsyncHttpClient` (the crate is built without its own
//! HTTP clients), so the protocol code calls the provider through it unchanged.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::tls::TlsError;
use crate::tls::client::{TrustRoots, client_config};

/// How long one back-channel call (connect, TLS, request, whole response) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response body accepted from a provider (discovery, keys, tokens, userinfo
/// are a few kilobytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a back-channel call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackChannelError {
    /// The URL is not `https://` (or cannot be a request target).
    #[error("{url}: the back channel only speaks https")]
    NotHttps {
        /// The refused URL.
        url: String,
    },
    /// Connecting, the TLS handshake or sending the request failed.
    #[error("{url}: request failed")]
    Request {
        /// The URL called.
        url: String,
        /// What failed.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// Reading the response body failed, or it was larger than [`MAX_BODY`].
    #[error("{url}: cannot read the response body")]
    Body {
        /// The URL called.
        url: String,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The call took longer than [`CALL_TIMEOUT`].
    #[error("{url}: no answer within {timeout:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The deadline.
        timeout: Duration,
    },
}

/// A pooled HTTPS client for identity providers. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct BackChannel {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for BackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackChannel").finish_non_exhaustive()
    }
}

impl BackChannel {
    /// A client trusting `roots` (a provider's `ca_file`, else the system's roots).
    ///
    /// # Errors
    /// A [`TlsError`] when the CA file cannot be loaded (it names its config position).
    pub fn new(roots: TrustRoots<'_>) -> Result<BackChannel, TlsError> {
        let tls = client_config(roots, None, &[])?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_only()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(BackChannel { client })
    }

    /// Sends `request` and reads the whole response, under [`CALL_TIMEOUT`] and
    /// [`MAX_BODY`]. Any status is returned as is: the caller decides what it means.
    ///
    /// # Errors
    /// A [`BackChannelError`] for a non-https URL, a failed connection or TLS handshake,
    /// an unreadable or oversized body, or the deadline.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, BackChannelError> {
        let url = request.uri().to_string();
        if request.uri().scheme() != Some(&http::uri::Scheme::HTTPS) {
            return Err(BackChannelError::NotHttps { url });
        }
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let call =
            async {
                let response = self.client.request(request).await.map_err(|source| {
                    BackChannelError::Request {
                        url: url.clone(),
                        source,
                    }
                })?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map_err(|source| BackChannelError::Body {
                        url: url.clone(),
                        source,
                    })?
                    .to_bytes();
                Ok(http::Response::from_parts(parts, body.to_vec()))
            };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| {
                Err(BackChannelError::Timeout {
                    url: url.clone(),
                    timeout: CALL_TIMEOUT,
                })
            })
    }

    /// `GET url` with `Accept: application/json`.
    ///
    /// # Errors
    /// As [`BackChannel::send`], plus [`BackChannelError::NotHttps`] for a URL that is not
    /// a valid request target.
    pub async fn get(&self, url: &str) -> Result<http::Response<Vec<u8>>, BackChannelError> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|_| BackChannelError::NotHttps {
                url: url.to_owned(),
            })?;
        self.send(request).await
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for BackChannel {
    type Error = BackChannelError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_is_refused_before_any_connection() {
        let channel = BackChannel::new(TrustRoots::System).expect("system roots");
        let err = channel
            .get("http://127.0.0.1:9/.well-known/openid-configuration")
            .await
            .expect_err("http must be refused");
        assert!(matches!(err, BackChannelError::NotHttps { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn unreachable_provider_is_a_request_error() {
        let channel = BackChannel::new(TrustRoots::System).expect("system roots");
        // Port 9 (discard) on loopback: nothing listens in the test environment.
        let err = channel
            .get("https://127.0.0.1:9/jwks")
            .await
            .expect_err("nothing listens");
        assert!(
            matches!(
                err,
                BackChannelError::Request { .. } | BackChannelError::Timeout { .. }
            ),
            "{err:?}"
        );
    }
}
