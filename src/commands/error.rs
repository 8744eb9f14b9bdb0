//! [`Error`]: why the gateway could not start or a command could not finish. It sits at
//! the top, beside `main.rs`, and wraps the errors of the layers below with `#[from]`
//! (causes kept as sources, never flattened into text); `main.rs` prints the chain.

use super::healthcheck::HealthError;
use crate::auth::AuthError;
use crate::auth::token::TokenError;
use crate::config::ConfigError;
use crate::gateway::LoadError;
use crate::tls::TlsError;

/// Why the gateway could not start or a command could not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Keys, secrets or the users file could not be loaded.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// `gateway token` for a user that is not in the users file or is disabled.
    #[error("user {name:?} is not in the users file or is disabled")]
    UnknownUser {
        /// The requested user.
        name: String,
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

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Error {
        match error {
            LoadError::Config(e) => Error::Config(e),
            LoadError::Tls(e) => Error::Tls(e),
            LoadError::Auth(e) => Error::Auth(e),
        }
    }
}
