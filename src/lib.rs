//! `gateway`: a TLS-terminating reverse proxy that puts JWT login in front of existing web
//! services, routing by host and path.
//!
//! # Architecture
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | `gateway.toml` → validated [`Config`], positioned errors |
//! | [`tls`] | certificates → rustls config, SNI, ALPN, dev self-signed certificate |
//! | [`server`] | accept loops, connection tasks, idle timeout, graceful shutdown |
//! | `handler` | the request pipeline, one function per step |
//! | [`auth`] | credentials, token verification, users, login endpoints, cookies, CSRF |
//! | `policy` | a route's access rule applied to an identity (pure) |
//! | `router` | host and path normalization, host + longest prefix → route (pure) |
//! | `proxy` | pooled upstream client, header hygiene, round robin, WebSocket, whoami |
//! | `response` | the body type, error pages |
//! | [`error`] | [`Error`] (startup) and `RequestError` (per request → status + code) |
//!
//! # Request lifecycle
//!
//! accept (permit from `max_connections`) → TLS handshake under a timeout → hyper
//! HTTP/1.1 or HTTP/2 (header-read timeout, header limits) → `handler::handle`: host and path
//! normalized once → the gateway's own endpoints under `auth.prefix`, or route → credential
//! → verification → access decision (401/redirect/403) → header hygiene and identity
//! injection → upstream (streamed both ways) → cookie renewal → one access-log event. Everything a request needs is in one [`Gateway`] built from a
//! validated [`Config`] before any port is bound, shared behind an `Arc`.

#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod error;
mod handler;
mod policy;
mod proxy;
mod response;
pub mod router;
pub mod server;
pub mod tls;

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;

pub use config::Config;
pub use error::{Error, Result};
pub use server::{Listeners, run};

use auth::Auth;
use config::IdentityHeaders;
use policy::Access;
use proxy::{Balancer, Proxy};
use router::Router;
use tls::TlsAcceptor;

/// Everything a request needs, built once from a validated config.
pub struct Gateway {
    config: Config,
    router: Router<RouteTarget>,
    tls: TlsAcceptor,
    http: auto::Builder<TokioExecutor>,
    proxy: Proxy,
    auth: Option<Auth>,
    request_ids: AtomicU64,
}

/// What a route resolves to.
#[derive(Debug)]
struct RouteTarget {
    /// `host path`, for logs.
    name: String,
    balancer: Balancer,
    access: Access,
}

impl Gateway {
    /// Loads certificates, keys and users, and builds the router and upstream client.
    /// `env` looks up environment variables (`secret_env`); only `main.rs` passes the
    /// process environment.
    ///
    /// # Errors
    /// [`Error::Tls`] or [`Error::Auth`] naming the configured file that failed.
    pub fn new(config: Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Gateway> {
        let tls = TlsAcceptor::load(&config.tls)?;
        let auth = match &config.auth {
            Some(settings) => Some(Auth::load(settings, config.users.as_ref(), env)?),
            None => None,
        };
        let router = Router::new(
            config
                .routes
                .iter()
                .map(|route| {
                    let target = RouteTarget {
                        name: format!("{} {}", route.host, route.path),
                        balancer: Balancer::new(route.upstreams.clone()),
                        access: route.access.clone(),
                    };
                    (route.host.clone(), route.path.clone(), target)
                })
                .collect(),
        );
        let identity_headers = config
            .auth
            .as_ref()
            .map_or_else(IdentityHeaders::default, |a| a.headers.clone());
        let cookie_name = config.auth.as_ref().map(|a| a.cookie.name.clone());
        let proxy = Proxy::new(&config.server, identity_headers, cookie_name);
        Ok(Gateway {
            http: server::http_builder(&config.server),
            config,
            router,
            tls,
            proxy,
            auth,
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

/// Mints a token for `user` of the users file (`gateway token`), valid for `ttl` (default
/// `auth.token_ttl`).
///
/// # Errors
/// [`Error::NoAuth`] without `[auth]`, [`Error::UnknownUser`] for a user that is not in the
/// users file or is disabled, or the error that stopped keys or users from loading.
pub fn mint_token(
    config: &Config,
    user: &str,
    ttl: Option<std::time::Duration>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let settings = config.auth.as_ref().ok_or(Error::NoAuth)?;
    let auth = Auth::load(settings, config.users.as_ref(), env)?;
    if !auth.is_enabled_user(user) {
        return Err(Error::UnknownUser {
            name: user.to_owned(),
        });
    }
    let ttl = ttl.unwrap_or(settings.token_ttl);
    auth.issue_for(user, None, ttl, std::time::SystemTime::now())
        .map_err(Error::Sign)
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
pub fn check(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<CheckSummary> {
    let config = Config::load(path)?;
    if let Some(settings) = &config.auth {
        Auth::check(settings, config.users.as_ref(), env)?;
    }
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
        if let Some(auth) = &self.config.auth {
            writeln!(
                f,
                "auth: {:?} tokens from {}, endpoints under {}",
                auth.algorithm, auth.issuer, auth.prefix
            )?;
        }
        if let Some(users) = &self.config.users {
            writeln!(f, "users: {}", users.file.value.display())?;
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
