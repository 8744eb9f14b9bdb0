//! `gateway check`: validates the config file and everything it names — certificates,
//! keys, the users files, the CA and client certificates of HTTPS upstreams — without binding a port or writing a file, and prints a summary
//! and the warnings. With `[state] store = "redis"` it also connects to Redis and says what
//! it found; refused credentials are an error, an unreachable server only a note (the
//! gateway starts without it and retries). Each `[[auth.oidc]]` is validated (its client
//! secret is read, its CA file loaded) and its issuer's discovery document fetched: what it
//! found (endpoints, whether RP-initiated logout is possible) is printed; an unreachable
//! issuer is only a note (the gateway starts without it, its button says so, discovery is
//! retried), a discovery document naming another issuer is flagged.

use std::fmt;
use std::path::Path;

use super::error::Result;
use crate::auth::oidc::{OidcError, OidcProviders};
use crate::auth::state::{RedisCommandError, RedisStartError, probe_redis};
use crate::auth::users::{Lookalike, Users};
use crate::auth::{Auth, AuthError};
use crate::config::{self, Config};
use crate::tls::TlsAcceptor;
use crate::upstream::Proxy;

/// What `gateway check` found in a valid config.
#[derive(Debug)]
pub struct CheckSummary {
    config: Config,
    self_signed_pending: bool,
    /// What was found at the configured Redis (`store = "redis"` only).
    state: Option<String>,
    /// One line per `[[auth.oidc]]`: what discovery found.
    oidc: Vec<String>,
    warnings: Vec<config::Warning>,
}

impl CheckSummary {
    /// Advice about the valid config (`warning: file:line:col: …` lines).
    pub fn warnings(&self) -> &[config::Warning] {
        &self.warnings
    }
}

/// Validates the config file at `path`, with `environment`'s config variables laid over it,
/// and everything it names, without binding ports or writing files.
///
/// # Errors
/// The first [`Error`](super::Error) found: config problems (all of them, positioned) or a TLS file problem.
pub fn check(
    path: &Path,
    environment: &config::Environment,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CheckSummary> {
    let config = Config::load(path, environment)?;
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
    Proxy::check_tls(&config.server, &config.routes)?;
    let state = match &config.state {
        config::StateSettings::Memory => None,
        config::StateSettings::Redis(redis) => Some(describe_redis(redis)?),
    };
    let oidc = match &config.auth {
        Some(settings) if !settings.oidc.is_empty() => describe_oidc(settings, env)?,
        _ => Vec::new(),
    };
    Ok(CheckSummary {
        state,
        oidc,
        warnings: config::warnings(&config, users.as_ref().map(users_facts).as_ref()),
        config,
        self_signed_pending,
    })
}

/// One line about the configured Redis.
///
/// # Errors
/// The password file cannot be read, or Redis refused the credentials.
fn describe_redis(redis: &config::RedisSettings) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| super::Error::Redis(RedisStartError::Thread(e).into()))?;
    let url = redis.url.redacted();
    match runtime.block_on(probe_redis(redis)) {
        Ok(found) => Ok(format!(
            "state: redis at {url}, prefix {:?}: redis {}, {} revocation(s) shared",
            redis.key_prefix, found.version, found.revocations
        )),
        Err(e @ (RedisCommandError::Credentials { .. } | RedisCommandError::Start(_))) => {
            Err(e.into())
        }
        Err(e) => Ok(format!(
            "state: redis at {url}, prefix {:?}: NOT REACHABLE now ({:#}); the gateway starts \
             without it, reports /readyz 503 and retries",
            redis.key_prefix,
            anyhow_like(&e)
        )),
    }
}

/// One line per provider: its discovery, fetched now.
///
/// # Errors
/// The client secret or CA file cannot be read (already checked by `Auth::check`).
fn describe_oidc(
    settings: &config::AuthSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<Vec<String>, AuthError> {
    let providers = OidcProviders::load(&settings.oidc, env)?;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Ok(vec![format!("oidc: discovery not checked ({e})")]),
    };
    Ok(providers
        .iter()
        .map(|provider| {
            let name = &provider.settings().name;
            let issuer = &provider.settings().issuer.value;
            match runtime.block_on(provider.discover_once()) {
                Ok(found) => {
                    let logout = match &found.additional_metadata().end_session_endpoint {
                        Some(url) if provider.settings().rp_initiated_logout => {
                            format!("logout at {}", url.as_str())
                        }
                        Some(_) => "rp_initiated_logout off".to_owned(),
                        None => "no end_session_endpoint (gateway-only logout)".to_owned(),
                    };
                    format!(
                        "oidc {name}: issuer {issuer}: discovery ok: authorize {}, token {}, userinfo {}, keys {}, {logout}",
                        found.authorization_endpoint().as_str(),
                        found.token_endpoint().map_or("none", |u| u.as_str()),
                        found.userinfo_endpoint().map_or("none", |u| u.as_str()),
                        found.jwks_uri().as_str(),
                    )
                }
                Err(e @ OidcError::IssuerMismatch { .. }) => {
                    format!("oidc {name}: WRONG ISSUER: {e}; every login will be refused")
                }
                Err(e) => format!(
                    "oidc {name}: issuer {issuer}: NOT REACHABLE now ({}); the gateway starts \
                     without it, shows its button as unavailable and retries",
                    anyhow_like(&e)
                ),
            }
        })
        .collect())
}

/// `e` and its sources, joined with `: ` (the `{:#}` of anyhow, without anyhow).
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source in their own text; say it once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What the config's warnings need to know about the loaded users file (the config layer
/// cannot read it).
fn users_facts(users: &Users) -> config::UsersFacts {
    config::UsersFacts {
        demo_user_enabled: users.get(config::DEMO_USER).is_some_and(|u| !u.disabled),
        lookalikes: users
            .lookalikes()
            .into_iter()
            .map(|Lookalike { first, second }| config::LookalikeNames {
                first: first.0,
                first_line: first.1.line,
                second: second.0,
                second_at: (second.1.line, second.1.column),
            })
            .collect(),
        holds_secrets: users.any_second_factor(),
    }
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
            if let Some(file) = &users.file {
                writeln!(f, "users: {}", file.value.display())?;
            }
            if let Some(htpasswd) = &users.htpasswd {
                writeln!(
                    f,
                    "users: {} (htpasswd, groups: {})",
                    htpasswd.file.value.display(),
                    htpasswd.groups.join(", ")
                )?;
            }
        }
        if let Some(state) = &self.state {
            writeln!(f, "{state}")?;
        }
        for line in &self.oidc {
            writeln!(f, "{line}")?;
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
        for set in &self.config.environment {
            // The value is never printed: it may be a secret.
            writeln!(f, "from the environment: {} ({})", set.key, set.variable)?;
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
