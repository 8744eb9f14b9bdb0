//! `gateway`: a TLS-terminating reverse proxy that puts JWT login in front of existing web
//! services, routing by host and path.
//!
//! # Architecture
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | `gateway.toml` → validated [`Config`], positioned errors |
//! | [`tls`] | certificates → rustls config, SNI, ALPN, dev self-signed certificate |
//! | [`server`] | workers, accept loops, connection tasks, idle timeout, graceful shutdown |
//! | `handler` | the request pipeline, one function per step |
//! | [`auth`] | credentials, token verification, users, login endpoints, cookies, CSRF |
//! | `policy` | a route's access rule applied to an identity (pure) |
//! | `router` | host and path normalization, host + longest prefix → route (pure) |
//! | `proxy` | pooled upstream client, header hygiene, round robin, WebSocket, whoami |
//! | `response` | the body type, error pages |
//! | [`error`] | [`Error`] (startup) and `RequestError` (per request → status + code) |
//! | `gateway` | [`Gateway`]: the current [`Snapshot`] of config-built state, swapped on reload |
//! | [`metrics`] | Prometheus counters and histograms |
//! | [`log_writer`] | log lines to stdout in batches, off the request path |
//! | `admin` | `/healthz`, `/readyz`, `/metrics` on the admin listener |
//!
//! # Request lifecycle
//!
//! accept (permit from `max_connections`) → TLS handshake under a timeout → hyper
//! HTTP/1.1 or HTTP/2 (header-read timeout, header limits) → `handler::handle`: host and path
//! normalized once → the gateway's own endpoints under `auth.prefix`, or route → credential
//! → verification → access decision (401/redirect/403) → header hygiene and identity
//! injection → upstream (streamed both ways) → cookie renewal → one access-log event. Everything a request needs is in one [`Gateway`] built from a
//! validated [`Config`] before any port is bound: a [`Snapshot`], held by the long-lived
//! [`Gateway`] and replaced as a whole on reload.

#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod config;
pub mod error;
mod gateway;
mod handler;
pub mod log_writer;
pub mod metrics;
mod policy;
mod proxy;
mod response;
pub mod router;
pub mod server;
mod text_position;
pub mod tls;

use std::fmt;
use std::path::Path;

pub use config::Config;
pub use error::{Error, Result};
pub use gateway::{Gateway, Snapshot};
pub use server::{Listeners, run};

use auth::Auth;
use tls::TlsAcceptor;

/// Internals the criterion benchmarks and fuzz targets call directly. Not a stable API.
#[doc(hidden)]
pub mod bench {
    pub use crate::proxy::headers::{
        ClientSide, ProtectedHeaders, inject_identity, prepare_upstream_request,
    };
}

/// Entry points for the cargo-fuzz targets in `fuzz/`: the request path's own parsing and
/// validation functions, nothing re-implemented. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::auth::cookie::{find_token, strip_ours};
    pub use crate::auth::jwt::{TokenKeys, TokenSettings};
    pub use crate::auth::redirect::{origin_allowed, safe_redirect};
    pub use crate::auth::{Credential, CredentialSource, find_credential as credential};
    pub use crate::handler::fuzz_request_target as request_target;
    pub use crate::router::{
        HostPattern, Router, normalize_host, normalize_path, parse_route_prefix,
    };
    pub use jsonwebtoken::Algorithm;
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
    let throttle = config
        .users
        .as_ref()
        .map_or_else(config::default_throttle, |u| u.throttle);
    let auth = Auth::load(
        settings,
        config.users.as_ref(),
        env,
        std::sync::Arc::new(auth::store::MemoryStore::new(throttle)),
        std::sync::Arc::new(metrics::Metrics::new()),
    )?;
    if !auth.is_enabled_user(user) {
        return Err(Error::UnknownUser {
            name: user.to_owned(),
        });
    }
    let ttl = ttl.unwrap_or(settings.token_ttl);
    auth.issue_for(user, None, ttl, std::time::SystemTime::now())
        .map_err(Error::Sign)
}

/// Probes the running gateway's admin `/healthz` (`gateway healthcheck`). Only
/// `server.admin_listen` is read from the config file, so an edit that is not yet reloaded
/// (and may not even be valid) cannot turn a healthy gateway unhealthy.
///
/// # Errors
/// [`Error::Health`] when the address cannot be read or the listener does not answer 200.
pub async fn healthcheck(config_path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(config_path).map_err(admin::HealthError::ReadConfig)?;
    let addr = admin::admin_address(&text)?;
    admin::probe(admin::local_target(addr)).await?;
    Ok(())
}

/// What `gateway check` found in a valid config.
#[derive(Debug)]
pub struct CheckSummary {
    config: Config,
    self_signed_pending: bool,
    warnings: Vec<config::Warning>,
}

impl CheckSummary {
    /// Advice about the valid config (`warning: file:line:col: …` lines).
    pub fn warnings(&self) -> &[config::Warning] {
        &self.warnings
    }
}

/// Validates the config file at `path` and everything it names, without binding ports or
/// writing files.
///
/// # Errors
/// The first [`Error`] found: config problems (all of them, positioned) or a TLS file problem.
pub fn check(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<CheckSummary> {
    let config = Config::load(path)?;
    // Loaded once, for the check and for its warnings: a users file of 100,000 users takes
    // a second to parse.
    let users = match &config.auth {
        Some(settings) => Auth::check(settings, config.users.as_ref(), env)?,
        None => None,
    };
    let tls = &config.tls;
    let self_signed_pending =
        tls.generate_self_signed && !tls.cert.value.exists() && !tls.key.value.exists();
    if !self_signed_pending {
        TlsAcceptor::load(tls)?;
    }
    Ok(CheckSummary {
        warnings: config::warnings(&config, users.as_ref()),
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
        if let Some(admin) = self.config.server.admin_listen {
            writeln!(
                f,
                "listen http://{admin} (admin: /healthz /readyz /metrics)"
            )?;
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
                "route {} {} -> {} ({})",
                route.host,
                route.path,
                upstreams.join(", "),
                route.access
            )?;
        }
        write!(f, "{} route(s)", self.config.routes.len())
    }
}
