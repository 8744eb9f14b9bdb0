//! `gateway`: a TLS-terminating reverse proxy that routes by host and path.
//!
//! # Architecture
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | `gateway.toml` → validated [`Config`], positioned errors |
//! | [`tls`] | certificates → rustls config, SNI, ALPN, dev self-signed certificate |
//! | [`server`] | accept loops, connection tasks, idle timeout, graceful shutdown |
//! | `handler` | the request pipeline, one function per step |
//! | `router` | host and path normalization, host + longest prefix → route (pure) |
//! | `proxy` | pooled upstream client, header hygiene, round robin, WebSocket, whoami |
//! | `response` | the body type, error pages |
//! | [`error`] | [`Error`] (startup) and `RequestError` (per request → status + code) |
//!
//! # Request lifecycle
//!
//! accept (permit from `max_connections`) → TLS handshake under a timeout → hyper
//! HTTP/1.1 or HTTP/2 (header-read timeout, header limits) → `handler::handle`: host and path
//! normalized once → route → header hygiene → upstream (streamed both ways) → response →
//! one access-log event. Everything a request needs is in one [`Gateway`] built from a
//! validated [`Config`] before any port is bound, shared behind an `Arc`.

#![forbid(unsafe_code)]

pub mod config;
pub mod error;
mod handler;
mod proxy;
mod response;
pub mod router;
pub mod server;
pub mod tls;

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use http::HeaderName;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;

pub use config::Config;
pub use error::{Error, Result};
pub use server::{Listeners, run};

use proxy::headers::ProtectedHeaders;
use proxy::{Balancer, Proxy};
use router::Router;
use tls::TlsAcceptor;

/// The identity header names every upstream request is cleaned of. They are injected by
/// authentication; until then no client may set them.
const IDENTITY_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-forwarded-user"),
    HeaderName::from_static("x-forwarded-groups"),
    HeaderName::from_static("x-forwarded-email"),
];

/// Everything a request needs, built once from a validated config.
pub struct Gateway {
    config: Config,
    router: Router<RouteTarget>,
    tls: TlsAcceptor,
    http: auto::Builder<TokioExecutor>,
    proxy: Proxy,
    request_ids: AtomicU64,
}

/// What a route resolves to.
#[derive(Debug)]
struct RouteTarget {
    /// `host path`, for logs.
    name: String,
    balancer: Balancer,
}

impl Gateway {
    /// Loads certificates and builds the router and upstream client.
    ///
    /// # Errors
    /// [`Error::Tls`] when a certificate or key cannot be loaded.
    pub fn new(config: Config) -> Result<Gateway> {
        let tls = TlsAcceptor::load(&config.tls)?;
        let router = Router::new(
            config
                .routes
                .iter()
                .map(|route| {
                    let target = RouteTarget {
                        name: format!("{} {}", route.host, route.path),
                        balancer: Balancer::new(route.upstreams.clone()),
                    };
                    (route.host.clone(), route.path.clone(), target)
                })
                .collect(),
        );
        let proxy = Proxy::new(
            &config.server,
            ProtectedHeaders::new(IDENTITY_HEADERS.iter()),
        );
        Ok(Gateway {
            http: server::http_builder(&config.server),
            config,
            router,
            tls,
            proxy,
            request_ids: AtomicU64::new(1),
        })
    }

    /// The configuration the gateway was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.config
            .server
            .trusted_proxies
            .iter()
            .any(|cidr| cidr.contains(ip))
    }
}

/// What `gateway check` found in a valid config.
#[derive(Debug)]
pub struct CheckSummary {
    config: Config,
    self_signed_pending: bool,
}

/// Validates the config file at `path` and everything it names, without binding ports or
/// writing files.
///
/// # Errors
/// The first [`Error`] found: config problems (all of them, positioned) or a TLS file problem.
pub fn check(path: &Path) -> Result<CheckSummary> {
    let config = Config::load(path)?;
    let tls = &config.tls;
    let self_signed_pending =
        tls.generate_self_signed && !tls.cert.value.exists() && !tls.key.value.exists();
    if !self_signed_pending {
        TlsAcceptor::load(tls)?;
    }
    Ok(CheckSummary {
        config,
        self_signed_pending,
    })
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = &self.config.server;
        writeln!(f, "listen https://{} (h2, http/1.1)", server.listen)?;
        if let Some(redirect) = server.redirect_http {
            writeln!(f, "listen http://{redirect} (redirects to https)")?;
        }
        if self.self_signed_pending {
            writeln!(
                f,
                "tls: a self-signed certificate will be generated at {}",
                self.config.tls.cert.value.display()
            )?;
        } else {
            writeln!(f, "tls: {}", self.config.tls.cert.value.display())?;
        }
        for sni in &self.config.tls.sni {
            writeln!(
                f,
                "tls sni {}: {}",
                sni.host.value,
                sni.cert.value.display()
            )?;
        }
        for route in &self.config.routes {
            let upstreams: Vec<String> = route.upstreams.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "route {} {} -> {}",
                route.host,
                route.path,
                upstreams.join(", ")
            )?;
        }
        write!(f, "{} route(s)", self.config.routes.len())
    }
}
