//! The whole file: [`Config`], read and validated in two stages.
//!
//! Serde fills the `Raw*` structs of each section's file; then [`validate`] turns the raw
//! tree into typed settings section by section and checks what spans sections (a protected
//! route needs `[auth]`). Every problem of every section is collected before the verdict.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::auth::{self, AuthSettings};
use super::error::ConfigError;
use super::forward_auth::{self, ForwardAuthSettings};
use super::location::{Locator, Problem, Problems};
use super::routes::{self, RouteSettings};
use super::server::{self, ServerSettings};
use super::state::{self, StateSettings};
use super::tls::{self, TlsSettings};
use super::users::{self, UsersSettings};

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
    /// Where revocations and login throttling live (`[state]`).
    pub state: StateSettings,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: server::RawServer,
    tls: Option<Spanned<tls::RawTls>>,
    #[serde(default)]
    route: Vec<Spanned<routes::RawRoute>>,
    auth: Option<Spanned<auth::RawAuth>>,
    users: Option<Spanned<users::RawUsers>>,
    forward_auth: Option<forward_auth::RawForwardAuth>,
    state: Option<state::RawState>,
}

fn validate(raw: RawConfig, base_dir: &Path, locator: &Locator<'_>) -> Result<Config, ConfigError> {
    let mut problems = Problems::new(locator);
    let server = server::validate_server(raw.server, &mut problems);
    let tls = match raw.tls {
        Some(tls) => tls::validate_tls(tls.into_inner(), base_dir, &mut problems),
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
        .map(|u| users::validate_users(u.into_inner(), base_dir, &mut problems));
    let forward_auth = forward_auth::validate_forward_auth(raw.forward_auth, locator);
    let state = state::validate_state(raw.state, base_dir, &mut problems);
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
            state,
        }),
        _ => Err(ConfigError::Invalid {
            problems: problems.found,
        }),
    }
}
