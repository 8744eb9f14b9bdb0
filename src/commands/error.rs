//! [`Error`]: why the gateway could not start or a command could not finish. It sits at
//! the top, beside `main.rs`, and wraps the errors of the layers below with `#[from]`
//! (causes kept as sources, never flattened into text); `main.rs` prints the chain.

use super::healthcheck::HealthError;
use crate::auth::AuthError;
use crate::auth::state::RedisCommandError;
use crate::auth::token::TokenError;
use crate::config::ConfigError;
use crate::gateway::LoadError;
use crate::tls::TlsError;

/// Why the gateway could not start or a command could not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config, a certificate or key, or the keys and users it names could not be
    /// loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `gateway token` for a user that is not in the users file or is disabled.
    #[error("user {name:?} is not in the users file or is disabled")]
    UnknownUser {
        /// The requested user.
        name: String,
    },
    /// `gateway explain` with a URL it cannot route.
    #[error("cannot explain {url:?}: {problem}")]
    ExplainUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `gateway token` with a config that has no `[auth]` section.
    #[error("the config has no [auth] section, so there is nothing to sign tokens with")]
    NoAuth,
    /// A token could not be signed.
    #[error("cannot sign the token")]
    Sign(#[source] TokenError),
    /// `gateway healthcheck` found no healthy admin listener.
    #[error(transparent)]
    Health(#[from] HealthError),
    /// `gateway totp` with a config that has no `[users] file` (htpasswd users have no
    /// second factor).
    #[error(
        "the config has no [users] file to enroll users in (users of an htpasswd file have no second factor)"
    )]
    NoUsersFile,
    /// The users file could not be read or written.
    #[error("cannot update {path}")]
    UsersFile {
        /// The users file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The users file cannot be edited: it is not TOML, or the edit would make it invalid.
    #[error("{path}: {message}")]
    UsersEdit {
        /// The users file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The system random generator or a hash failed while enrolling.
    #[error("cannot make the second factor: {0}")]
    Enroll(String),
    /// A command could not reach or use the shared Redis (`[state]`).
    #[error(transparent)]
    Redis(#[from] RedisCommandError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with the gateway's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Error {
        Error::Load(error.into())
    }
}

impl From<TlsError> for Error {
    fn from(error: TlsError) -> Error {
        Error::Load(error.into())
    }
}

impl From<AuthError> for Error {
    fn from(error: AuthError) -> Error {
        Error::Load(error.into())
    }
}
