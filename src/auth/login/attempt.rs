//! One sign-in attempt against the throttle: choose its keys, reserve them, check the
//! password, settle the reservations.
//!
//! Keys: an attempt that presents a valid device cookie for the username it names is counted
//! under that device alone; any other attempt under its client address *and* its username.
//! Each key is [reserved](super::super::store::StateStore::reserve) before the hash is
//! queued, so parallel attempts cannot outrun the count: per key, at most `max_failures`
//! hashes run in a window, and the rest are refused at once (429 + `Retry-After`).
//!
//! The check and the settling run in a task of their own, so that a client that goes away
//! mid-check (which drops the request's future) still has its reservations settled: a wrong
//! password counts even if nobody reads the answer, and a reservation is never stranded.
//!
//! Not here: reading the request and rendering the answer (`login.rs`), the counters
//! (`store.rs`), the queue of hashes (`password.rs`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use tracing::{info, warn};

use super::super::password::CredentialsError;
use super::super::store::{PENDING_RETRY_AFTER, Reservation, StateStore, ThrottleKey};
use super::super::users::{User, Users};
use super::super::{Auth, cookie};
use crate::error::RequestError;
use crate::metrics::LoginResult;

/// `Retry-After` of a login refused because the password checker's queue is full.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why an attempt did not sign the user in.
#[derive(Debug)]
pub(super) enum AttemptError {
    /// Wrong username or password (401: the caller renders the form or the JSON error).
    Rejected,
    /// Refused without a check: throttling (429) or a full queue (503), or a failure (500).
    Refused(RequestError),
}

/// The throttle keys of an attempt by `username` from `client_ip` with `headers`.
fn keys(auth: &Auth, headers: &HeaderMap, client_ip: IpAddr, username: &str) -> Vec<ThrottleKey> {
    match device_id(auth, headers, username) {
        Some(id) => vec![ThrottleKey::device(&id)],
        None => vec![
            ThrottleKey::client_ip(client_ip),
            ThrottleKey::username(username),
        ],
    }
}

/// The id of the request's device cookie, if it is valid for `username`.
fn device_id(auth: &Auth, headers: &HeaderMap, username: &str) -> Option<String> {
    let devices = auth.devices.as_ref()?;
    let name = cookie::device_cookie_name(&auth.settings.cookie);
    // Two device cookies (or one that is not text) vouch for nothing; the attempt is then
    // throttled like any other, never refused for it.
    let value = cookie::find_token(headers, &name).ok()??;
    devices
        .key
        .verify(value, username, SystemTime::now(), devices.ttl)
}

/// Runs one attempt: reserve every key, check the password, settle.
///
/// # Errors
/// [`AttemptError`]; every refusal is logged and counted here.
pub(super) async fn sign_in(
    auth: &Auth,
    users: Arc<Users>,
    headers: &HeaderMap,
    client_ip: IpAddr,
    username: String,
    password: String,
) -> Result<User, AttemptError> {
    let keys = keys(auth, headers, client_ip, &username);
    let now = Instant::now();
    for (taken, key) in keys.iter().enumerate() {
        let reserved = auth.store.reserve(key, now).await.map_err(internal)?;
        if let Reservation::Refused { retry_after } = reserved {
            release(auth.store.as_ref(), &keys[..taken]).await;
            info!(user = %username, client = %client_ip, "login throttled");
            auth.metrics.login(LoginResult::Throttled);
            let error = RequestError::TooManyRequests { retry_after };
            return Err(AttemptError::Refused(error));
        }
    }
    let (store, checker, metrics) = (
        Arc::clone(&auth.store),
        auth.checker.clone(),
        Arc::clone(&auth.metrics),
    );
    let client = ThrottleKey::client_ip(client_ip);
    let name = username.clone();
    // Owned by the task until the hash has run and the keys are settled; the request only
    // waits for it, so a cancelled request cannot leave a reservation behind.
    let task = tokio::spawn(async move {
        let result = checker.verify_from(client, users, name, password).await;
        if hashed(&result) {
            metrics.password_checked();
        }
        settle(store.as_ref(), &keys, &result).await;
        result
    });
    let result = task.await.map_err(internal)?;
    match result {
        Ok(user) => Ok(user),
        Err(e) if e.is_rejection() => {
            info!(user = %username, client = %client_ip, reason = %e, "login failed");
            auth.metrics.login(LoginResult::Failure);
            Err(AttemptError::Rejected)
        }
        Err(CredentialsError::ClientQueueFull) => {
            info!(user = %username, client = %client_ip, "login throttled: checks of this client queued");
            auth.metrics.login(LoginResult::Throttled);
            let retry_after = PENDING_RETRY_AFTER;
            Err(AttemptError::Refused(RequestError::TooManyRequests {
                retry_after,
            }))
        }
        Err(CredentialsError::QueueFull) => {
            warn!(user = %username, client = %client_ip, "login refused: password checks queue full");
            auth.metrics.login(LoginResult::Busy);
            let retry_after = BUSY_RETRY_AFTER;
            Err(AttemptError::Refused(RequestError::LoginsBusy {
                retry_after,
            }))
        }
        Err(e) => Err(internal(e)),
    }
}

/// Whether a check result means a hash ran.
fn hashed(result: &Result<User, CredentialsError>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => !matches!(
            e,
            CredentialsError::PasswordTooLong
                | CredentialsError::ClientQueueFull
                | CredentialsError::QueueFull
                | CredentialsError::NoHashWorkers
                | CredentialsError::CheckTaskFailed
        ),
    }
}

/// Settles every key's reservation: a rejection becomes a failure; a success gives them
/// back and clears the failures of the username (or device) key, never of the client
/// address; anything else (no check ran, or it broke) gives them back.
async fn settle(
    store: &dyn StateStore,
    keys: &[ThrottleKey],
    result: &Result<User, CredentialsError>,
) {
    match result {
        Err(e) if e.is_rejection() => {
            let now = Instant::now();
            for key in keys {
                if let Err(error) = store.record_failure(key, now).await {
                    warn!(%error, "cannot count a failed login");
                }
            }
        }
        Ok(_) => {
            release(store, keys).await;
            let cleared = keys
                .iter()
                .filter(|key| !matches!(key, ThrottleKey::ClientIp(_)));
            for key in cleared {
                if let Err(error) = store.clear_failures(key).await {
                    warn!(%error, "cannot clear failed logins");
                }
            }
        }
        Err(_) => release(store, keys).await,
    }
}

async fn release(store: &dyn StateStore, keys: &[ThrottleKey]) {
    for key in keys {
        if let Err(error) = store.release(key).await {
            warn!(%error, "cannot release a login reservation");
        }
    }
}

fn internal<E: std::error::Error + Send + Sync + 'static>(error: E) -> AttemptError {
    AttemptError::Refused(super::internal(error))
}
