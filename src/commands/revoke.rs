//! `gateway revoke --user NAME`: signs a user out everywhere — every token of theirs signed
//! in before now is refused.
//!
//! With `[state] store = "redis"` the command writes the cutoff to Redis itself (the set and
//! the channel), so every instance sharing it refuses those tokens within a second, running
//! or not yet started. With `store = "memory"` each instance holds its own revocations, so
//! the command asks the running instance named by this config, through its admin listener
//! (`POST /revoke?user=NAME` on `server.admin_listen`); other instances must be asked one
//! by one.

use std::time::SystemTime;

use http::{Method, StatusCode};

use super::error::{Error, Result};
use super::healthcheck::{HealthError, admin_request, local_target};
use crate::auth::sign_out_everywhere_until;
use crate::auth::state::{Revocation, write_redis_revocation};
use crate::config::{Config, StateSettings};

/// Where `gateway revoke` recorded the cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokedVia {
    /// In the shared Redis (URL redacted).
    Redis(String),
    /// Through the admin listener of the one running instance.
    AdminListener(std::net::SocketAddr),
}

/// Signs `user` out everywhere (see the module docs for where it is recorded).
///
/// # Errors
/// [`Error::NoAuth`] without `[auth]`; a Redis failure; with `store = "memory"`, no admin
/// listener or one that did not accept the request.
pub async fn revoke_user(config: &Config, user: &str) -> Result<RevokedVia> {
    let auth = config.auth.as_ref().ok_or(Error::NoAuth)?;
    let now = SystemTime::now();
    match &config.state {
        StateSettings::Redis(redis) => {
            let revocation = Revocation::User {
                user,
                before: now,
                until: sign_out_everywhere_until(auth, now),
            };
            write_redis_revocation(redis, revocation).await?;
            Ok(RevokedVia::Redis(redis.url.redacted()))
        }
        StateSettings::Memory => {
            let addr = config
                .server
                .admin_listen
                .map(local_target)
                .ok_or(HealthError::NoAdminListener)?;
            let path = format!(
                "/revoke?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("user", user)
                    .finish()
            );
            match admin_request(addr, Method::POST, &path).await? {
                StatusCode::OK => Ok(RevokedVia::AdminListener(addr)),
                other => Err(HealthError::Status(other).into()),
            }
        }
    }
}
