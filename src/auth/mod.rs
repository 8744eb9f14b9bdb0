//! Authentication: which credential a request carries, whether it is valid, and the state
//! that decides it (keys, verified-token cache, users, revocations, throttling).
//!
//! | module | concept |
//! |---|---|
//! | `loading` | the token keys, the device-cookie key and the users file, read from config |
//! | [`jwt`] | keys built once from config; issue and verify with every check pinned |
//! | `token_cache` | verified tokens kept until their `exp`, so hot clients skip signature checks |
//! | [`users`] | the users file: names, groups, email, disabled; one-code-path login check |
//! | [`password`] | password hashes (argon2id, bcrypt): parsing, hashing, off-runtime checking |
//! | `credential` | which token a request carries: `Authorization` first, else our cookie |
//! | [`cookie`] | our cookie: find it, strip it before forwarding, build `Set-Cookie` |
//! | `device` | device cookies: signed "this browser signed in as this user", for throttling |
//! | [`redirect`] | `rd=` validation and the Origin/Referer (CSRF) check; pure |
//! | [`store`] | revocations and login throttling behind one interface |
//! | `login` | the endpoints under `auth.prefix` |
//! | `forward_auth` | `verify`: the answer to nginx/Traefik/Caddy forward-auth requests |
//! | `pages` | the login and logout pages |
//!
//! The order of checks for a token, in [`Auth::authenticate`]: signature and claims (or a
//! cache hit, which only exists for a token that passed them and has not expired), then
//! revocation (its session, its `jti`, its user's "signed out everywhere" cutoff), then —
//! with `require_known_user` — that its user still exists and is enabled. The last two are never cached, so a logout or a disabled user takes effect on
//! the very next request.

pub mod cookie;
mod credential;
mod device;
mod forward_auth;
pub mod jwt;
mod loading;
mod login;
mod pages;
pub mod password;
pub mod redirect;
pub mod store;
mod token_cache;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

pub(crate) use login::{EndpointContext, handle as handle_endpoint, same_site_request};
pub(crate) use pages::escape_html;

pub use credential::{Credential, CredentialSource, find_credential};
pub use forward_auth::OriginalUrlError;

use crate::config::{AuthSettings, KeySource, Location, UsersSettings};
use crate::error::{LoginHint, RequestError};
use jwt::{KeyError, Session, TokenError, TokenKeys, VerifiedToken};
use store::{Revocation, StateStore, StoreError, TokenRef};

use crate::metrics::Metrics;
use device::DeviceKey;
use loading::{load_keys, load_users};
use password::PasswordChecker;
use token_cache::TokenCache;
use users::{Users, UsersError};

/// How many verified tokens are kept.
const TOKEN_CACHE_CAPACITY: usize = 10_000;

/// Why the authentication state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A key or secret file could not be read.
    #[error("{at}: cannot read {}", path.display())]
    ReadFile {
        /// Where it is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `secret_env` names a variable that is not set.
    #[error("{at}: environment variable {name} is not set (secret_env)")]
    SecretEnvMissing {
        /// Where it is configured.
        at: Location,
        /// The variable.
        name: String,
    },
    /// `generate_secret` could not write the secret file.
    #[error("{at}: cannot create the JWT secret {}", path.display())]
    GenerateSecret {
        /// Where it is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key material is unusable (too short, wrong kind, malformed).
    #[error("{at}: unusable signing or verification key")]
    Key {
        /// Where the key is configured.
        at: Location,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The users file is invalid; the message carries `line:col`.
    #[error("{}:{error}", path.display())]
    Users {
        /// The users file.
        path: PathBuf,
        /// What is wrong, positioned.
        error: UsersError,
    },
}

/// Why a presented token was not accepted (401 `invalid_token`; the reason is only logged).
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// Signature or claims.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Its `jti` was revoked by a logout.
    #[error("token was revoked")]
    Revoked,
    /// Its user is not in the users file.
    #[error("token names an unknown user")]
    UnknownUser,
    /// Its user is disabled.
    #[error("token names a disabled user")]
    DisabledUser,
}

impl AuthFailure {
    /// A stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Token(e) => e.reason(),
            AuthFailure::Revoked => "revoked",
            AuthFailure::UnknownUser => "unknown_user",
            AuthFailure::DisabledUser => "disabled_user",
        }
    }
}

/// The authentication state, built once from config.
pub struct Auth {
    settings: AuthSettings,
    /// Domains an `Origin`/`Referer` may be on: cookie domains and redirect domains.
    csrf_domains: Vec<String>,
    keys: TokenKeys,
    cache: TokenCache,
    users: Option<Arc<Users>>,
    checker: PasswordChecker,
    /// Device cookies (OWASP), when the users file is configured and they are not off.
    devices: Option<DeviceCookies>,
    /// Revocations and throttling: shared by every config generation.
    store: Arc<dyn StateStore>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("algorithm", &self.settings.algorithm)
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Reads keys and the users file. `env` looks up environment variables (for
    /// `secret_env`); only `main.rs` passes the real environment.
    ///
    /// # Errors
    /// An [`AuthError`] naming the configured file or key that failed.
    pub fn load(
        settings: &AuthSettings,
        users: Option<&UsersSettings>,
        env: &dyn Fn(&str) -> Option<String>,
        store: Arc<dyn StateStore>,
        metrics: Arc<Metrics>,
    ) -> Result<Auth, AuthError> {
        let (keys, device_key) = load_keys(settings, env)?;
        let devices = users
            .filter(|u| !u.device_cookie_ttl.is_zero())
            .map(|u| DeviceCookies {
                key: device_key,
                ttl: u.device_cookie_ttl,
            });
        let users = match users {
            Some(u) => Some(Arc::new(load_users(&u.file)?)),
            None => None,
        };
        let mut csrf_domains = settings.cookie.domains.clone();
        csrf_domains.extend(settings.allowed_domains.iter().cloned());
        csrf_domains.sort();
        csrf_domains.dedup();
        Ok(Auth {
            csrf_domains,
            settings: settings.clone(),
            keys,
            cache: TokenCache::new(TOKEN_CACHE_CAPACITY),
            users,
            checker: PasswordChecker::with_available_parallelism(),
            devices,
            store,
            metrics,
        })
    }

    /// Validates keys and the users file like [`Auth::load`], without creating a missing
    /// generated secret (`gateway check` writes nothing); returns the users, for the
    /// warnings.
    ///
    /// # Errors
    /// As [`Auth::load`].
    pub fn check(
        settings: &AuthSettings,
        users: Option<&UsersSettings>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Users>, AuthError> {
        let pending_secret = matches!(&settings.key, KeySource::SecretFile { path, generate: true } if !path.value.exists());
        if !pending_secret {
            load_keys(settings, env)?;
        }
        users.map(|users| load_users(&users.file)).transpose()
    }

    /// Whether `name` is in the users file and enabled (or, without a users file, whether
    /// unknown users are trusted).
    pub fn is_enabled_user(&self, name: &str) -> bool {
        match &self.users {
            Some(users) => users.get(name).is_some_and(|u| !u.disabled),
            None => !self.settings.require_known_user,
        }
    }

    /// The settings this state was built from.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Finds the request's gateway credential: the `Authorization` header when it carries a
    /// JWT, else our cookie.
    ///
    /// # Errors
    /// As [`find_credential`].
    pub fn credential<'a>(
        &self,
        headers: &'a HeaderMap,
    ) -> Result<Option<Credential<'a>>, RequestError> {
        find_credential(
            headers,
            &self.settings.cookie.name,
            self.settings.accept_raw_authorization,
        )
    }

    /// Verifies `credential` (see [`Auth::authenticate`]). A cookie credential stands for
    /// every copy of our cookie the request carries: the first copy that verifies wins, so a
    /// stale or tossed copy cannot lock its user out — unless copies for *different* users
    /// verify, which only cookie tossing produces (a sibling subdomain planting its own
    /// account's token for the parent domain, to make the victim act as the attacker): that
    /// is refused as ambiguous.
    ///
    /// # Errors
    /// [`RequestError::InvalidToken`] (with `hint`) when nothing verifies;
    /// [`RequestError::DuplicateCredentials`] for copies naming different users.
    pub fn verify_credential(
        &self,
        credential: &Credential<'_>,
        headers: &HeaderMap,
        now: SystemTime,
        hint: impl FnOnce() -> LoginHint,
    ) -> Result<Arc<VerifiedToken>, RequestError> {
        let mut chosen = self.authenticate(credential.token, now);
        if credential.source == CredentialSource::Header || !credential.more_copies {
            return chosen.map_err(|failure| invalid(failure, hint));
        }
        let others = cookie::values(headers, &self.settings.cookie.name)
            .filter_map(|value| std::str::from_utf8(value).ok())
            .filter(|token| *token != credential.token);
        for other in others {
            let Ok(verified) = self.check_token(other, now) else {
                continue;
            };
            match &chosen {
                Ok(winner) if winner.user != verified.user => {
                    return Err(RequestError::DuplicateCredentials);
                }
                Ok(_) => {}
                Err(_) => chosen = Ok(verified),
            }
        }
        chosen.map_err(|failure| invalid(failure, hint))
    }

    /// Verifies `token` and applies revocation and the known-user rule.
    ///
    /// # Errors
    /// The [`AuthFailure`] that rejected it.
    pub fn authenticate(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Arc<VerifiedToken>, AuthFailure> {
        let outcome = self.check_token(token, now);
        self.metrics.auth_outcome(match &outcome {
            Ok(_) => "valid",
            Err(failure) => failure.reason(),
        });
        outcome
    }

    fn check_token(&self, token: &str, now: SystemTime) -> Result<Arc<VerifiedToken>, AuthFailure> {
        let cached = self.cache.get(token, now);
        self.metrics.token_cache(cached.is_some());
        let verified = match cached {
            Some(verified) => verified,
            None => {
                let verified = Arc::new(self.keys.verify(token, now)?);
                self.cache.insert(token, verified.clone(), now);
                verified
            }
        };
        if self.store.is_revoked(revocation_ref(&verified), now) {
            return Err(AuthFailure::Revoked);
        }
        if self.settings.require_known_user {
            match self.users.as_ref().and_then(|u| u.get(&verified.user)) {
                None => return Err(AuthFailure::UnknownUser),
                Some(user) if user.disabled => return Err(AuthFailure::DisabledUser),
                Some(_) => {}
            }
        }
        Ok(verified)
    }

    /// Whether `token` was signed with the gateway's keys and is unexpired (revocation and
    /// users aside): such a token is a gateway credential wherever it is sent.
    pub fn is_own_token(&self, token: &str) -> bool {
        self.cache
            .verify(&self.keys, token, SystemTime::now())
            .is_ok()
    }

    /// Mints a token for `user`, valid for `ttl`, taking groups and email from the users
    /// file when the user is in it (so renewals pick up changes), else from `renewing`.
    /// Renewing a token of a session keeps its `sid` and `auth_time`, and no token outlives
    /// the session (`auth_time + session_lifetime`); otherwise a new session starts.
    ///
    /// # Errors
    /// A [`TokenError`] from signing.
    pub fn issue_for(
        &self,
        user: &str,
        renewing: Option<&VerifiedToken>,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        let known = self.users.as_ref().and_then(|u| u.get(user));
        let groups = match known {
            Some(known) => known.groups.as_slice(),
            None => renewing.map(|f| f.groups.as_slice()).unwrap_or_default(),
        };
        let email = match known {
            Some(known) => known.email.as_deref(),
            None => renewing.and_then(|f| f.email.as_deref()),
        };
        match renewing.and_then(|token| token.session.as_ref()) {
            Some(session) => {
                let ttl = ttl.min(self.session_left(session, now));
                self.keys.issue_in(session, user, groups, email, ttl, now)
            }
            None => {
                // After "signed out everywhere", a new session starts at the cutoff at the
                // earliest (a fraction of a second ahead), so the cutoff does not cover it.
                let signed_in = self
                    .store
                    .signed_out_before(user, now)
                    .map_or(now, |cutoff| cutoff.max(now));
                let ttl = ttl.min(self.settings.session_lifetime);
                self.keys
                    .issue_in(&Session::begin(signed_in)?, user, groups, email, ttl, now)
            }
        }
    }

    /// Signs `token` out: its session (every token renewed from the same sign-in) until the
    /// session ends; a token without a session by its `jti` until it expires; one with
    /// neither by signing its user out everywhere. Each lasts `leeway` longer, as the tokens
    /// it covers do.
    ///
    /// # Errors
    /// A [`StoreError`] from a shared store.
    pub async fn revoke(&self, token: &VerifiedToken, now: SystemTime) -> Result<(), StoreError> {
        let leeway = self.settings.leeway;
        let user = token.user.as_str();
        let revocation = match (&token.session, &token.jti) {
            (Some(session), _) => Revocation::Session {
                user,
                sid: &session.id,
                until: (session.signed_in + self.settings.session_lifetime).max(token.exp) + leeway,
            },
            (None, Some(jti)) => Revocation::Token {
                user,
                jti,
                until: token.exp + leeway,
            },
            (None, None) => Revocation::User {
                user,
                before: now,
                until: token.exp + leeway,
            },
        };
        self.store.revoke(revocation, now).await
    }

    /// Whether a new session may start now (the revocation list has room).
    pub fn accepts_new_sessions(&self, now: SystemTime) -> bool {
        self.store.accepts_new_sessions(now)
    }

    /// How long `session` may still be renewed at `now` (zero once it is over), rounded up
    /// to whole seconds: tokens count whole seconds from a truncated `iat`, so a token issued
    /// for this long ends exactly when the session does.
    fn session_left(&self, session: &Session, now: SystemTime) -> Duration {
        let left = (session.signed_in + self.settings.session_lifetime)
            .duration_since(now)
            .unwrap_or_default();
        Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Whether a cookie-authenticated token is close enough to expiry to renew: it must
    /// belong to a session (tokens minted elsewhere, or before sessions existed, are not
    /// renewed) that ends after the token does, so that renewal gains something (and a
    /// token renewed up to the session's end is not renewed on every request).
    pub fn needs_renewal(&self, token: &VerifiedToken, now: SystemTime) -> bool {
        let Some(session) = &token.session else {
            return false;
        };
        let expiring = token
            .exp
            .duration_since(now)
            .is_ok_and(|left| left < self.settings.renew_before);
        expiring && session.signed_in + self.settings.session_lifetime > token.exp
    }
}

/// The device-cookie key and lifetime.
#[derive(Debug)]
struct DeviceCookies {
    key: DeviceKey,
    ttl: Duration,
}

/// A rejected credential, with where a browser should go to sign in.
fn invalid(failure: AuthFailure, hint: impl FnOnce() -> LoginHint) -> RequestError {
    tracing::debug!(reason = failure.reason(), "token rejected");
    RequestError::InvalidToken {
        failure,
        hint: hint(),
    }
}

/// What the revocation check needs of a verified token.
fn revocation_ref(token: &VerifiedToken) -> TokenRef<'_> {
    TokenRef {
        user: &token.user,
        jti: token.jti.as_deref(),
        sid: token.session.as_ref().map(|s| s.id.as_str()),
        signed_in: token.session.as_ref().map(|s| s.signed_in),
    }
}
