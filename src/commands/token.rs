//! `gateway token`: mints a token for a user of the users file, signed with the configured
//! keys, for scripts and API clients that cannot sign in with a password.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::error::{Error, Result};
use crate::auth::Auth;
use crate::auth::state::MemoryStore;
use crate::config::{self, Config};
use crate::metrics::Metrics;

/// Mints a token for `user` of the users file (`gateway token`), valid for `ttl` (default
/// `auth.token_ttl`).
///
/// # Errors
/// [`Error::NoAuth`] without `[auth]`, [`Error::UnknownUser`] for a user that is not in the
/// users file or is disabled, or the error that stopped keys or users from loading.
pub fn mint_token(
    config: &Config,
    user: &str,
    ttl: Option<Duration>,
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
        Arc::new(MemoryStore::new(throttle)),
        Arc::new(Metrics::new()),
    )?;
    if !auth.is_enabled_user(user) {
        return Err(Error::UnknownUser {
            name: user.to_owned(),
        });
    }
    let ttl = ttl.unwrap_or(settings.token_ttl);
    auth.issue_for(user, None, ttl, SystemTime::now())
        .map_err(Error::Sign)
}
