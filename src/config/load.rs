//! The whole file: [`Config`], read and validated in two stages.
//!
//! The text is parsed into a TOML document (with spans), the environment's
//! `GATEWAY_<SECTION>__<KEY>` variables are laid over it (`environment`), then serde fills
//! the `Raw*` structs of each section's file; then [`validate`] turns the raw tree into typed
//! settings section by section and checks what spans sections (a protected route needs
//! `[auth]`). Every problem of every section is collected before the verdict.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::auth::{self, AuthSettings};
use super::environment::{self, Environment, EnvironmentKey};
use super::error::ConfigError;
use super::forward_auth::{self, ForwardAuthSettings};
use super::location::{Locator, Problem, Problems};
use super::routes::{self, RouteSettings};
use super::schema::Node;
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
    /// The keys set by `GATEWAY_<SECTION>__<KEY>` variables, over the file's.
    pub environment: Vec<EnvironmentKey>,
    /// The variables it was loaded with, for a reload to lay over the file again.
    variables: Environment,
}

impl Config {
    /// Reads the config file at `path`, lays `environment`'s config variables over it and
    /// validates the result.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, [`ConfigError::Invalid`] with
    /// positioned problems otherwise (at the variable, for a value from the environment).
    pub fn load(path: &Path, environment: &Environment) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        parse(
            &text,
            base_dir,
            path.display().to_string().into(),
            environment,
        )
    }

    /// Reads the config file at `path` again and lays the same environment over it as this
    /// config had (a reload: the process environment does not change).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn reload(&self, path: &Path) -> Result<Config, ConfigError> {
        Config::load(path, &self.variables)
    }

    /// Validates config text, without the environment; relative paths resolve against
    /// `base_dir`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with positioned problems.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        parse(text, base_dir, "<config>".into(), &Environment::default())
    }
}

/// The keys the config types accept, as the environment overlay and the example test see
/// them.
pub(super) fn schema() -> &'static Node {
    static SCHEMA: OnceLock<Node> = OnceLock::new();
    SCHEMA.get_or_init(Node::of::<RawConfig>)
}

pub(super) fn parse(
    text: &str,
    base_dir: &Path,
    file: Arc<str>,
    environment: &Environment,
) -> Result<Config, ConfigError> {
    let syntax_error = |locator: &Locator<'_>, e: toml::de::Error| ConfigError::Invalid {
        problems: vec![Problem {
            at: locator.locate(e.span().map_or(0, |s| s.start)),
            message: e.message().trim_end().to_owned(),
        }],
    };
    let locator = Locator::new(text, file);
    let mut document = DeTable::parse(text).map_err(|e| syntax_error(&locator, e))?;
    let overlay = environment::overlay(document.get_mut(), environment, text.len(), schema());
    let locator = locator.with_environment(overlay.ranges);
    if !overlay.problems.is_empty() {
        return Err(ConfigError::Invalid {
            problems: overlay.problems,
        });
    }
    let raw = RawConfig::deserialize(toml::de::Deserializer::from(document))
        .map_err(|e| syntax_error(&locator, e))?;
    let mut config = validate(raw, base_dir, &locator, overlay.keys)?;
    config.variables = environment.clone();
    Ok(config)
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

fn validate(
    raw: RawConfig,
    base_dir: &Path,
    locator: &Locator<'_>,
    environment: Vec<EnvironmentKey>,
) -> Result<Config, ConfigError> {
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
    let routes = routes::validate_routes(raw.route, base_dir, &mut problems);
    let auth_offset = raw.auth.as_ref().map(|a| a.span().start);
    let auth = raw
        .auth
        .and_then(|a| auth::validate_auth(a.into_inner(), base_dir, &mut problems));
    let users_offset = raw.users.as_ref().map(|u| u.span().start);
    let users = raw
        .users
        .map(|u| users::validate_users(u, base_dir, &mut problems));
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
            environment,
            variables: Environment::default(),
        }),
        _ => Err(ConfigError::Invalid {
            problems: problems.found,
        }),
    }
}
