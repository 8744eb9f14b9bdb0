//! A session's life, as `Auth` runs it: minting its tokens (a new session at sign-in, or a
//! renewal that keeps `sid` and `auth_time` and never outlives `session_lifetime`),
//! deciding when a cookie is renewed, and ending it — one session, one token, or every
//! session of a user ("signed out everywhere").

use std::time::{Duration, SystemTime};

use super::Auth;
use super::state::{Revocation, StoreError};
use super::token::{Session, TokenError, VerifiedToken};
use crate::config::AuthSettings;

impl Auth {
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
        self.issue_with(user, renewing, Vec::new(), ttl, now)
    }

    pub(super) fn issue_with(
        &self,
        user: &str,
        renewing: Option<&VerifiedToken>,
        amr: Vec<String>,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        // A session from an identity provider keeps the provider's groups and e-mail: a
        // local user of the same name lends it nothing.
        let from_provider = renewing
            .and_then(|token| token.session.as_ref())
            .is_some_and(|session| session.idp.is_some());
        let known = self
            .users
            .as_ref()
            .filter(|_| !from_provider)
            .and_then(|u| u.get(user));
        let groups = match known {
            Some(known) => known.groups.as_slice(),
            None => renewing
                .map(|f| f.identity.groups.as_slice())
                .unwrap_or_default(),
        };
        let email = match known {
            Some(known) => known.email.as_deref(),
            None => renewing.and_then(|f| f.identity.email.as_deref()),
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
                let session = Session::begin_with(signed_in, amr)?;
                self.keys.issue_in(&session, user, groups, email, ttl, now)
            }
        }
    }

    /// Mints the first token of a session signed in at the identity provider `idp`, for
    /// `user` with the provider's `groups` and `email` (the users file plays no part; the
    /// token carries `idp`, and renewals keep all three).
    ///
    /// # Errors
    /// A [`TokenError`] from signing.
    pub fn issue_at_provider(
        &self,
        idp: &str,
        identity: &crate::identity::Identity,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        let user = identity.user.as_str();
        let signed_in = self
            .store
            .signed_out_before(user, now)
            .map_or(now, |cutoff| cutoff.max(now));
        let ttl = ttl.min(self.settings.session_lifetime);
        let session = Session::begin_at_provider(signed_in, idp)?;
        let email = identity.email.as_deref();
        self.keys
            .issue_in(&session, user, &identity.groups, email, ttl, now)
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
        let user = token.identity.user.as_str();
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

    /// Signs `user` out everywhere (`gateway revoke --user`, admin `POST /revoke`): every
    /// token of theirs signed in before `now` is refused, on every instance sharing the store.
    ///
    /// # Errors
    /// A [`StoreError`] from a shared store.
    pub async fn sign_out_everywhere(&self, user: &str, now: SystemTime) -> Result<(), StoreError> {
        let until = sign_out_everywhere_until(&self.settings, now);
        let revocation = Revocation::User {
            user,
            before: now,
            until,
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

/// How long a "signed out everywhere" cutoff made at `now` is kept: until no token signed
/// in before it can be valid — a session ends `session_lifetime` after sign-in, a token
/// without one `token_ttl` after it was minted (a `gateway token --ttl` longer than both
/// outlives the cutoff), plus `leeway`.
pub fn sign_out_everywhere_until(settings: &AuthSettings, now: SystemTime) -> SystemTime {
    now + settings.session_lifetime.max(settings.token_ttl) + settings.leeway
}
