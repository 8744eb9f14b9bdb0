//! One sign-in attempt against the throttle: choose its keys, reserve them, check the
//! password, settle the reservations.
//!
//! Keys: an attempt that presents a valid device cookie for the username it names is counted
//! under that device alone; any other attempt under its client address *and* its username.
//! Each key is [reserved](super::state::StateStore::reserve) before the hash is
//! queued, so parallel attempts cannot outrun the count: per key, at most `max_failures`
//! hashes run in a window, and the rest are refused at once (429 + `Retry-After`).
//!
//! The check and the settling run in a task of their own, so that a client that goes away
//! mid-check (which drops the request's future) still has its reservations settled: a wrong
//! password counts even if nobody reads the answer, and a reservation is never stranded.
//!
//! Not here: reading the request and rendering the answer (`request/portal/login.rs`), the
//! counters (`state/`), the queue of hashes (`users/pool/`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use tracing::{info, warn};

use super::Auth;
use super::second_factor::ChallengeId;
use super::session::cookie;
use super::state::{PENDING_RETRY_AFTER, Reservation, StateStore, ThrottleKey};
use super::users::password::CredentialsError;
use super::users::{User, Users, normalized_name};
use crate::metrics::LoginResult;

/// `Retry-After` of a login refused because the password checker's queue is full.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `Retry-After` of a login refused because the revocation list is full: entries expire as
/// sessions end, which takes a while.
const REVOCATIONS_FULL_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a sign-in did not sign the user in. Every refusal is logged and counted where it
/// happens; the caller only chooses the answer.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// There is no users file: nobody signs in here.
    #[error("no users file")]
    NoUsers,
    /// Wrong username or password (the caller renders the form or the JSON error).
    #[error("wrong username or password")]
    Rejected,
    /// Too many failed attempts for one of the attempt's keys.
    #[error("too many failed logins")]
    Throttled {
        /// When to try again.
        retry_after: Duration,
    },
    /// Too many checks are waiting, or the revocation list has no room for a new session.
    #[error("too many logins waiting")]
    Busy {
        /// When to try again.
        retry_after: Duration,
    },
    /// `[auth] second_factor = "required"` and the user has none enrolled: the password
    /// was right, but only an admin can let them in (`gateway totp enroll`).
    #[error("second factor required but not enrolled")]
    EnrollmentRequired,
    /// The second-factor challenge is unknown, spent or expired: start again.
    #[error("invalid or expired second-factor challenge")]
    ChallengeInvalid,
    /// A wrong (or replayed) code; `retry` is a fresh challenge for another try, while
    /// the sign-in has tries left.
    #[error("wrong second-factor code")]
    WrongCode {
        /// The challenge to send the next code with, if any.
        retry: Option<ChallengeId>,
    },
    /// The check could not run (a task failed, the shared store broke).
    #[error("the sign-in could not be carried out")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Auth {
    /// Signs `username` in with `password` from `client_ip`: refuses at once when the
    /// revocation list is full (a new session could not be revoked token by token: fail
    /// closed, before any password work), then runs the throttled attempt.
    ///
    /// # Errors
    /// [`SignInError`].
    pub async fn sign_in(
        &self,
        headers: &HeaderMap,
        client_ip: IpAddr,
        username: &str,
        password: String,
    ) -> Result<User, SignInError> {
        let users = self.users.clone().ok_or(SignInError::NoUsers)?;
        if !self.accepts_new_sessions(SystemTime::now()) {
            warn!("login refused: the revocation list is full");
            self.metrics.login(LoginResult::RevocationsFull);
            return Err(SignInError::Busy {
                retry_after: REVOCATIONS_FULL_RETRY_AFTER,
            });
        }
        // One spelling of the name for the throttle keys and the device cookie, whichever
        // Unicode form the keyboard produced (the users file is read in NFC too).
        let username = normalized_name(username).into_owned();
        attempt(self, users, headers, client_ip, username, password).await
    }
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
async fn attempt(
    auth: &Auth,
    users: Arc<Users>,
    headers: &HeaderMap,
    client_ip: IpAddr,
    username: String,
    password: String,
) -> Result<User, SignInError> {
    let keys = keys(auth, headers, client_ip, &username);
    let now = Instant::now();
    for (taken, key) in keys.iter().enumerate() {
        let reserved = auth.store.reserve(key, now).await.map_err(internal)?;
        if let Reservation::Refused { retry_after } = reserved {
            release(auth.store.as_ref(), &keys[..taken]).await;
            info!(user = %username, client = %client_ip, "login throttled");
            auth.metrics.login(LoginResult::Throttled);
            return Err(SignInError::Throttled { retry_after });
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
        Ok(user) => {
            auth.metrics.login(LoginResult::Success);
            Ok(user)
        }
        Err(e) if e.is_rejection() => {
            info!(user = %username, client = %client_ip, reason = %e, "login failed");
            auth.metrics.login(LoginResult::Failure);
            Err(SignInError::Rejected)
        }
        Err(CredentialsError::ClientQueueFull) => {
            info!(user = %username, client = %client_ip, "login throttled: checks of this client queued");
            auth.metrics.login(LoginResult::Throttled);
            let retry_after = PENDING_RETRY_AFTER;
            Err(SignInError::Throttled { retry_after })
        }
        Err(CredentialsError::QueueFull) => {
            warn!(user = %username, client = %client_ip, "login refused: password checks queue full");
            auth.metrics.login(LoginResult::Busy);
            let retry_after = BUSY_RETRY_AFTER;
            Err(SignInError::Busy { retry_after })
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

pub(super) async fn release(store: &dyn StateStore, keys: &[ThrottleKey]) {
    for key in keys {
        if let Err(error) = store.release(key).await {
            warn!(%error, "cannot release a login reservation");
        }
    }
}

pub(super) fn internal<E: std::error::Error + Send + Sync + 'static>(error: E) -> SignInError {
    warn!(%error, "sign-in failed");
    SignInError::Failed(Box::new(error))
}
