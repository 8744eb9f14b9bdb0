//! Authentication, the domain: who a request's credential says it is, whether that holds,
//! and the state that decides it. Nothing here builds a response or names an HTTP status:
//! every function returns a typed error, and the edge (`request/`) chooses the answer.
//!
//! | module | concept |
//! |---|---|
//! | [`access`] | the access decision, once: credential → token → route rule → CSRF |
//! | [`token`] | keys built once from config; issue and verify with every check pinned; the cache |
//! | [`users`] | the users file, password hash formats, the bounded pool that checks passwords |
//! | [`session`] | the request's credential, our cookies, `rd=` validation, the CSRF origin check |
//! | [`state`] | revocations, login throttling and second-factor state behind one interface |
//! | [`second_factor`] | TOTP (RFC 6238), recovery codes, the challenge between the two steps |
//! | `sign_in` | one throttled sign-in attempt: reserve keys, check the password, settle |
//! | `two_step` | after the password: the challenge, then the throttled code step |
//! | `loading` | the token keys, the device-cookie key and the users file, read from config |
//! | `failure` | [`AuthFailure`]: why a presented token was refused (only logged) |
//! | `sessions` | a session's tokens: issue, renew, revoke, sign out everywhere |
//! | [`idp`] | the back channel to identity providers: HTTPS client, cached remote documents |
//! | [`oidc`] | signing in with an OpenID Connect provider: the code flow, its state cookie, claims |
//! | [`trusted_issuers`] | Bearer tokens of other issuers (`[[auth.trusted_issuers]]`): their keys and rules |
//!
//! [`Auth`] (this file) ties them together for one config generation. The order of checks
//! for a token, in [`Auth::authenticate`]: signature and claims (or a cache hit, which only
//! exists for a token that passed them and has not expired), then revocation (its session,
//! its `jti`, its user's "signed out everywhere" cutoff), then — with `require_known_user` —
//! that its user still exists and is enabled. The last two are never cached, so a logout or
//! a disabled user takes effect on the very next request.

pub mod access;
mod failure;
pub mod idp;
mod loading;
pub mod oidc;
pub mod second_factor;
pub mod session;
mod sessions;
mod sign_in;
pub mod state;
pub mod token;
pub mod trusted_issuers;
mod two_step;
pub mod users;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

pub use failure::AuthFailure;
pub use loading::AuthError;
pub use sessions::sign_out_everywhere_until;
pub use sign_in::SignInError;
pub use two_step::{PasswordStep, SecondFactorCode};

use crate::config::{AuthSettings, KeySource, UsersSettings};
use crate::metrics::Metrics;
use loading::{load_keys, load_users};
use oidc::OidcProviders;
use oidc::login_state::LoginStateKey;
use session::device::DeviceKey;
use session::redirect::origin_allowed;
use session::{Credential, CredentialError, find_credential};
use state::{StateStore, TokenRef};
use token::{TokenCache, TokenKeys, VerifiedToken};
use trusted_issuers::TrustedIssuers;
use users::{PasswordChecker, Users};

/// How many verified tokens are kept.
const TOKEN_CACHE_CAPACITY: usize = 10_000;

/// The authentication state, built once from config.
pub struct Auth {
    settings: AuthSettings,
    /// Domains an `Origin`/`Referer` may be on: cookie domains and redirect domains.
    csrf_domains: Vec<String>,
    keys: TokenKeys,
    cache: TokenCache,
    users: Option<Arc<Users>>,
    /// Where the users file is, to strike spent recovery codes from it.
    users_file: Option<std::path::PathBuf>,
    checker: PasswordChecker,
    /// Device cookies (OWASP), when the users file is configured and they are not off.
    devices: Option<DeviceCookies>,
    /// Revocations and throttling: shared by every config generation.
    store: Arc<dyn StateStore>,
    metrics: Arc<Metrics>,
    /// `[[auth.oidc]]` providers (none when not configured).
    oidc: OidcProviders,
    /// Signs the login-attempt cookies of the OIDC flow.
    login_state: LoginStateKey,
    /// Other issuers whose Bearer tokens are accepted.
    trusted: TrustedIssuers,
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
        let (keys, device_key, login_state) = load_keys(settings, env)?;
        let oidc = OidcProviders::load(&settings.oidc, env)?;
        let devices = users
            .filter(|u| !u.device_cookie_ttl.is_zero())
            .map(|u| DeviceCookies {
                key: device_key,
                ttl: u.device_cookie_ttl,
            });
        let users_file = users.and_then(|u| u.file.as_ref()).map(|f| f.value.clone());
        let users = match users {
            Some(u) => Some(Arc::new(load_users(u)?)),
            None => None,
        };
        let trusted = TrustedIssuers::load(&settings.trusted_issuers, settings.leeway)
            .map_err(|e| AuthError::TrustedIssuer(Box::new(e)))?;
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
            users_file,
            checker: PasswordChecker::with_available_parallelism(),
            devices,
            store,
            metrics,
            oidc,
            login_state,
            trusted,
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
        OidcProviders::load(&settings.oidc, env)?;
        users.map(load_users).transpose()
    }

    /// Whether `name` is in the users file and enabled (or, without a users file, whether
    /// unknown users are trusted).
    pub fn is_enabled_user(&self, name: &str) -> bool {
        match &self.users {
            Some(users) => users.get(name).is_some_and(|u| !u.disabled),
            None => !self.settings.require_known_user,
        }
    }

    /// CSRF: whether the request's `Origin` (else `Referer`) is on one of our sites — a
    /// cookie domain, an allowed redirect domain, or `host` itself.
    pub fn is_same_site(&self, headers: &HeaderMap, host: &str) -> bool {
        origin_allowed(headers, &self.csrf_domains) || origin_allowed(headers, &[host.to_owned()])
    }

    /// The settings this state was built from.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The OpenID Connect providers.
    pub fn oidc(&self) -> &OidcProviders {
        &self.oidc
    }

    /// The key of the OIDC login-attempt cookies.
    pub fn login_state_key(&self) -> &LoginStateKey {
        &self.login_state
    }

    /// Counts a finished OIDC login at `provider` (`gateway_oidc_logins_total`).
    pub fn oidc_login_outcome(&self, provider: &str, success: bool) {
        self.metrics.oidc_login(provider, success);
    }

    /// Whether the users file is configured (the login page shows its form).
    pub fn has_users(&self) -> bool {
        self.users.is_some()
    }

    /// Finds the request's gateway credential: the `Authorization` header when it carries a
    /// JWT, else our cookie.
    ///
    /// # Errors
    /// As [`find_credential`].
    pub fn credential<'a>(
        &self,
        headers: &'a HeaderMap,
    ) -> Result<Option<Credential<'a>>, CredentialError> {
        find_credential(
            headers,
            &self.settings.cookie.name,
            self.settings.accept_raw_authorization,
        )
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

    /// Verifies a token of a `[[auth.trusted_issuers]]` issuer: its issuer's rules only —
    /// neither revocation nor the known-user rule applies (see `trusted_issuers`).
    ///
    /// # Errors
    /// The [`AuthFailure`] that rejected it.
    pub(crate) async fn authenticate_trusted(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Arc<VerifiedToken>, AuthFailure> {
        let outcome = self
            .trusted
            .verify(token, now)
            .await
            .map(Arc::new)
            .map_err(AuthFailure::from);
        self.metrics.auth_outcome(match &outcome {
            Ok(_) => "valid",
            Err(failure) => failure.reason(),
        });
        outcome
    }

    pub(crate) fn check_token(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Arc<VerifiedToken>, AuthFailure> {
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
        // `require_known_user` is about the users file: a provider's users are not in it.
        let local = verified.session.as_ref().is_none_or(|s| s.idp.is_none());
        if self.settings.require_known_user && local {
            match self
                .users
                .as_ref()
                .and_then(|u| u.get(&verified.identity.user))
            {
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
}

impl Auth {
    /// The public keys as a JWK Set, for `jwks.json`; `None` for HS algorithms.
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.keys.jwks()
    }

    /// A fresh device cookie for `user` (a new device id on every sign-in), when device
    /// cookies are on. Failing to make one is logged and the sign-in goes on without it.
    pub fn new_device_cookie(&self, user: &str) -> Option<http::HeaderValue> {
        let devices = self.devices.as_ref()?;
        let made = devices
            .key
            .issue(user, SystemTime::now())
            .map_err(|error| tracing::warn!(%error, "no device cookie"))
            .ok()?;
        session::cookie::set_device_cookie(
            &self.settings.cookie,
            &self.settings.prefix,
            &made,
            devices.ttl,
        )
        .map_err(|error| tracing::warn!(%error, "no device cookie"))
        .ok()
    }
}

/// The device-cookie key and lifetime.
#[derive(Debug)]
struct DeviceCookies {
    key: DeviceKey,
    ttl: Duration,
}

/// What the revocation check needs of a verified token.
fn revocation_ref(token: &VerifiedToken) -> TokenRef<'_> {
    TokenRef {
        user: &token.identity.user,
        jti: token.jti.as_deref(),
        sid: token.session.as_ref().map(|s| s.id.as_str()),
        signed_in: token.session.as_ref().map(|s| s.signed_in),
    }
}
