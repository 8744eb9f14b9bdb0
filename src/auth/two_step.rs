//! The second step of a sign-in: after a right password, a user with a second factor gets
//! a challenge instead of a token ([`Auth::after_password`]); the code step
//! ([`Auth::sign_in_second_factor`]) takes the challenge back once, with a TOTP code or a
//! recovery code, under the same throttle as passwords.
//!
//! Rules, each tested:
//! - A challenge is bound to its user (the store keeps the user; the client only holds
//!   the id), lasts [`CHALLENGE_LIFETIME`], and is taken from the store once: a second use
//!   finds nothing. A wrong code spends it too; while the sign-in has tries left
//!   (`CODE_TRIES`) a fresh challenge with the *same* expiry comes back for the next try.
//! - Each code attempt reserves the client-address and username keys before any check (a
//!   device cookie does not vouch for a code: it was earned with the password alone), and
//!   a wrong code is a failure on both, as a wrong password is; a success clears the
//!   username key. The check and the settling run in a task of their own, as in `sign_in`.
//! - A TOTP code is accepted for the current step or one either side, and only for a step
//!   later than the last one accepted for the user (replay). A recovery code is accepted
//!   when it matches one of the user's hashes that the store has not seen spent; once
//!   spent it is also struck from the users file, so a restart does not revive it.
//! - The user must still be in the users file, enabled, with a second factor, when the
//!   code arrives (a reload may have changed any of it).
//!
//! Not here: the TOTP arithmetic (`second_factor/`), the state (`state/`), the HTTP forms
//! (`request/portal/login.rs`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::{info, warn};

use super::Auth;
use super::second_factor::{CHALLENGE_LIFETIME, ChallengeId};
use super::sign_in::{SignInError, internal, release};
use super::state::{PendingChallenge, Reservation, StateStore, ThrottleKey};
use super::token::{AMR_OTP, AMR_PASSWORD, TokenError};
use super::users::User;
use super::users::edit::strike_recovery_code;
use crate::config::SecondFactorPolicy;
use crate::files::replace_file;
use crate::metrics::LoginResult;

/// Codes a sign-in may try (each on a fresh challenge) before the password is asked again.
const CODE_TRIES: u8 = 3;

/// What a right password leads to.
#[derive(Debug)]
pub enum PasswordStep {
    /// Signed in: issue a token with this `amr`.
    SignedIn {
        /// `["pwd"]`.
        amr: Vec<String>,
    },
    /// A code is due: send this challenge back with it.
    CodeDue(ChallengeId),
}

/// The second factor a client sent with its challenge.
#[derive(Clone)]
pub enum SecondFactorCode {
    /// A TOTP code from an authenticator app.
    Totp(String),
    /// One of the user's recovery codes.
    Recovery(String),
}

impl std::fmt::Debug for SecondFactorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecondFactorCode::Totp(_) => "Totp(<redacted>)",
            SecondFactorCode::Recovery(_) => "Recovery(<redacted>)",
        })
    }
}

impl Auth {
    /// Mints the first token of a sign-in by the methods `amr` (`["pwd"]`, or
    /// `["pwd","otp"]` after a second factor), as [`Auth::issue_for`] does for a new
    /// session.
    ///
    /// # Errors
    /// As [`Auth::issue_for`].
    pub fn issue_signed_in(
        &self,
        user: &str,
        amr: Vec<String>,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        self.issue_with(user, None, amr, ttl, now)
    }

    /// After `user`'s right password at `now`: a challenge when they have a second factor,
    /// a refusal under `second_factor = "required"` when they have none, else signed in.
    ///
    /// # Errors
    /// [`SignInError::EnrollmentRequired`]; [`SignInError::Busy`] when the store has no
    /// room for a challenge; [`SignInError::Failed`].
    pub async fn after_password(
        &self,
        user: &User,
        now: SystemTime,
    ) -> Result<PasswordStep, SignInError> {
        if user.has_second_factor() {
            let pending = PendingChallenge {
                user: user.name.clone(),
                expires: now + CHALLENGE_LIFETIME,
                attempts_left: CODE_TRIES,
            };
            return self
                .new_challenge(pending, now)
                .await
                .map(PasswordStep::CodeDue);
        }
        if self.settings.second_factor == SecondFactorPolicy::Required {
            info!(user = %user.name, "login refused: second factor required, none enrolled");
            self.metrics.login(LoginResult::Failure);
            return Err(SignInError::EnrollmentRequired);
        }
        Ok(PasswordStep::SignedIn {
            amr: vec![AMR_PASSWORD.to_owned()],
        })
    }

    async fn new_challenge(
        &self,
        pending: PendingChallenge,
        now: SystemTime,
    ) -> Result<ChallengeId, SignInError> {
        let id = ChallengeId::generate().map_err(internal)?;
        let stored = self
            .store
            .put_challenge(id.as_str(), pending, now)
            .await
            .map_err(internal)?;
        if !stored {
            warn!("login refused: the second-factor challenge store is full");
            self.metrics.login(LoginResult::Busy);
            return Err(SignInError::Busy {
                retry_after: super::state::PENDING_RETRY_AFTER,
            });
        }
        Ok(id)
    }

    /// The code step: takes `challenge` (once), checks `code` for its user under the
    /// throttle, and returns the user and the `amr` of the sign-in (`["pwd","otp"]`).
    ///
    /// # Errors
    /// [`SignInError::ChallengeInvalid`], [`SignInError::WrongCode`],
    /// [`SignInError::Throttled`], [`SignInError::Busy`], [`SignInError::Failed`].
    pub async fn sign_in_second_factor(
        &self,
        client_ip: IpAddr,
        challenge: &str,
        code: SecondFactorCode,
        now: SystemTime,
    ) -> Result<(User, Vec<String>), SignInError> {
        let users = self.users.clone().ok_or(SignInError::NoUsers)?;
        let id = ChallengeId::parse(challenge).ok_or(SignInError::ChallengeInvalid)?;
        let pending = self
            .store
            .take_challenge(id.as_str(), now)
            .await
            .map_err(internal)?
            .ok_or(SignInError::ChallengeInvalid)?;
        let user = users
            .get(&pending.user)
            .filter(|u| !u.disabled && u.has_second_factor())
            .cloned()
            .ok_or(SignInError::ChallengeInvalid)?;
        let keys = [
            ThrottleKey::client_ip(client_ip),
            ThrottleKey::username(&user.name),
        ];
        let started = Instant::now();
        for (taken, key) in keys.iter().enumerate() {
            let reserved = self.store.reserve(key, started).await.map_err(internal)?;
            if let Reservation::Refused { retry_after } = reserved {
                release(self.store.as_ref(), &keys[..taken]).await;
                info!(user = %user.name, client = %client_ip, "second factor throttled");
                self.metrics.login(LoginResult::Throttled);
                return Err(SignInError::Throttled { retry_after });
            }
        }
        let store = Arc::clone(&self.store);
        let checker = self.checker.clone();
        let name = user.name.clone();
        let client = keys[0].clone();
        let users_file = self.users_file.clone();
        // Owned by the task until the code is checked and the keys settled (see `sign_in`).
        let task = tokio::spawn(async move {
            let accepted = match code {
                SecondFactorCode::Totp(code) => match user.totp_secret() {
                    Some(secret) => match secret.matching_step(&code, now) {
                        Some(step) => store.accept_totp_step(&name, step).await,
                        None => Ok(false),
                    },
                    None => Ok(false),
                },
                SecondFactorCode::Recovery(code) => {
                    match checker
                        .verify_recovery_code_from(client, users, name.clone(), code)
                        .await
                    {
                        Ok(Some(hash)) => {
                            let spent = store.spend_recovery_code(&name, &hash).await;
                            if matches!(spent, Ok(true))
                                && let Some(path) = users_file
                            {
                                let user = name.clone();
                                let strike = move || strike_from_file(&path, &user, &hash);
                                if let Err(error) = tokio::task::spawn_blocking(strike).await {
                                    warn!(%error, "cannot strike a spent recovery code");
                                }
                            }
                            spent
                        }
                        Ok(None) => Ok(false),
                        Err(error) => {
                            release(store.as_ref(), &keys).await;
                            return Err(internal(error));
                        }
                    }
                }
            };
            settle(store.as_ref(), &keys, accepted.as_ref().ok().copied()).await;
            accepted.map_err(internal).map(|ok| (ok, user))
        });
        let (accepted, user) = task.await.map_err(internal)??;
        if accepted {
            info!(user = %user.name, client = %client_ip, "second factor accepted");
            self.metrics.login(LoginResult::Success);
            return Ok((user, vec![AMR_PASSWORD.to_owned(), AMR_OTP.to_owned()]));
        }
        info!(user = %user.name, client = %client_ip, "second factor failed");
        self.metrics.login(LoginResult::Failure);
        let retry = match pending.attempts_left.saturating_sub(1) {
            0 => None,
            left => {
                let next = PendingChallenge {
                    attempts_left: left,
                    ..pending
                };
                self.new_challenge(next, now).await.ok()
            }
        };
        Err(SignInError::WrongCode { retry })
    }
}

/// Removes a spent recovery code (named by its stored hash) from `user`'s entry of the users
/// file, so it stays spent across restarts; the store already refuses it until then. A
/// file the gateway may not write (a read-only mount) is logged, and the code stays spent
/// in the store only.
fn strike_from_file(path: &Path, user: &str, hash: &str) {
    let outcome = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| strike_recovery_code(&text, user, hash).map_err(|e| e.to_string()))
        .and_then(|edited| replace_file(path, edited.as_bytes()).map_err(|e| e.to_string()));
    match outcome {
        Ok(()) => info!(user = %user, "spent recovery code removed from the users file"),
        Err(error) => warn!(
            user = %user,
            %error,
            "spent recovery code not removed from the users file (it stays refused until a restart)"
        ),
    }
}

/// Settles both keys: a wrong code is a failure on each; a right one gives them back and
/// clears the username's failures; a broken check gives them back.
async fn settle(store: &dyn StateStore, keys: &[ThrottleKey], accepted: Option<bool>) {
    match accepted {
        Some(false) => {
            let now = Instant::now();
            for key in keys {
                if let Err(error) = store.record_failure(key, now).await {
                    warn!(%error, "cannot count a failed second factor");
                }
            }
        }
        Some(true) => {
            release(store, keys).await;
            let cleared = keys
                .iter()
                .filter(|k| matches!(k, ThrottleKey::Username(_)));
            for key in cleared {
                if let Err(error) = store.clear_failures(key).await {
                    warn!(%error, "cannot clear failed logins");
                }
            }
        }
        None => release(store, keys).await,
    }
}

#[cfg(test)]
mod tests;
