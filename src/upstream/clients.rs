//! The pooled upstream clients of one config generation: per worker, one for plain-HTTP
//! upstreams and one per TLS profile for HTTPS upstreams.
//!
//! A TLS profile is what a route says about its HTTPS upstreams: the trust roots (the
//! system's, or only `upstream_ca_file`'s) and the client certificate, if any. Routes that
//! name the same files share a profile, and so a pool. Every TLS client is `https_only`:
//! it cannot open a plain connection, so a certificate that is not accepted ends the
//! attempt (a 502) and never turns into a plain-text request. rustls checks the certificate
//! against the URL's host, which is also the SNI name sent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::body::UpstreamBody;
use crate::config::{RouteSettings, ServerSettings, UpstreamTls};
use crate::tls::TlsError;
use crate::tls::client::{ClientIdentity, TrustRoots, client_config};

/// How long an idle pooled upstream connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type PlainClient = Client<HttpConnector, UpstreamBody>;
type TlsClient = Client<HttpsConnector<HttpConnector>, UpstreamBody>;

/// A TLS profile as configured: the CA file and the client certificate and key files.
type ProfileKey = (Option<PathBuf>, Option<(PathBuf, PathBuf)>);

/// Which pool an attempt uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pool {
    /// Plain HTTP.
    Plain,
    /// HTTPS with the TLS profile of this index.
    Tls(usize),
}

/// The clients, built once per config generation.
#[derive(Debug)]
pub(super) struct Clients {
    /// One per worker.
    plain: Box<[PlainClient]>,
    /// Per TLS profile, one per worker.
    tls: Vec<Box<[TlsClient]>>,
    profiles: HashMap<ProfileKey, usize>,
}

fn profile_key(tls: &UpstreamTls) -> ProfileKey {
    (
        tls.ca_file.as_ref().map(|f| f.value.clone()),
        tls.client_identity
            .as_ref()
            .map(|(cert, key)| (cert.value.clone(), key.value.clone())),
    )
}

impl Clients {
    /// Plain clients for every worker, and a TLS profile for each distinct setting of the
    /// routes that have an `https` upstream (their CA and client certificate files are
    /// read now).
    ///
    /// # Errors
    /// A [`TlsError`] naming the configured file that could not be used.
    pub(super) fn new(
        settings: &ServerSettings,
        routes: &[RouteSettings],
    ) -> Result<Clients, TlsError> {
        let workers = settings.workers.max(1);
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(settings.upstream_connect_timeout));
        http.set_nodelay(true);
        let pooled = || {
            let mut builder = Client::builder(TokioExecutor::new());
            builder
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new());
            builder
        };
        let plain = (0..workers).map(|_| pooled().build(http.clone())).collect();
        let mut tls_http = http;
        tls_http.enforce_http(false);
        let mut tls = Vec::new();
        let mut profiles = HashMap::new();
        for route in routes
            .iter()
            .filter(|r| r.upstreams.iter().any(|u| u.is_https()))
        {
            let key = profile_key(&route.upstream_tls);
            if profiles.contains_key(&key) {
                continue;
            }
            let settings = &route.upstream_tls;
            let roots = settings
                .ca_file
                .as_ref()
                .map_or(TrustRoots::System, TrustRoots::File);
            let identity = settings
                .client_identity
                .as_ref()
                .map(|(cert, key)| ClientIdentity { cert, key });
            // No ALPN of our own: the connector offers http/1.1, what the client speaks.
            let config = Arc::unwrap_or_clone(client_config(roots, identity, &[])?);
            let connector = HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_only()
                .enable_http1()
                .wrap_connector(tls_http.clone());
            tls.push(
                (0..workers)
                    .map(|_| pooled().build(connector.clone()))
                    .collect(),
            );
            profiles.insert(key, tls.len() - 1);
        }
        Ok(Clients {
            plain,
            tls,
            profiles,
        })
    }

    /// The TLS profile of a route's `upstream_tls`, when it has https upstreams.
    pub(super) fn profile(&self, tls: &UpstreamTls) -> Option<usize> {
        self.profiles.get(&profile_key(tls)).copied()
    }

    /// Sends `request` through `pool` on `worker`'s client; `None` when the profile does
    /// not exist (a route built against other clients).
    pub(super) fn request(
        &self,
        pool: Pool,
        worker: usize,
        request: http::Request<UpstreamBody>,
    ) -> Option<ResponseFuture> {
        // A reload may have changed `workers`; the worker count of the running server is
        // fixed, so wrap rather than index out of range.
        match pool {
            Pool::Plain => Some(self.plain[worker % self.plain.len()].request(request)),
            Pool::Tls(profile) => {
                let clients = self.tls.get(profile)?;
                Some(clients[worker % clients.len()].request(request))
            }
        }
    }
}
