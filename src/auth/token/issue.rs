//! Minting tokens: a new session at sign-in, or a renewal that continues one.

use std::time::{Duration, SystemTime};

use jsonwebtoken::Header;

use serde_json::Value;

use super::claims::{Audience, Claims, Session, new_id, unix_seconds};
use super::error::TokenError;
use super::keys::TokenKeys;

impl TokenKeys {
    /// Mints a token for `user` that starts a new session (a new random `sid`, `auth_time`
    /// = `now`), valid from `now` for `ttl`; see [`TokenKeys::issue_in`].
    ///
    /// # Errors
    /// [`TokenError::SigningFailed`] or [`TokenError::RandomFailed`]; neither happens with
    /// keys that passed construction, short of a broken system.
    pub fn issue(
        &self,
        user: &str,
        groups: &[String],
        email: Option<&str>,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        self.issue_in(&Session::begin(now)?, user, groups, email, ttl, now)
    }

    /// Mints a token for `user` in `session` (a renewal keeps the session's `sid` and
    /// `auth_time`), valid from `now` for `ttl`, with every claim set: `iss`, `sub` (and the
    /// user claim when it is not `sub`), `aud` when configured, `iat`, `nbf`, `exp`, a random
    /// 128-bit `jti`, `sid`, `auth_time`, `groups`, `email`, and the session's `amr` when it has one. Header: `typ: JWT`, `kid` when
    /// asymmetric.
    ///
    /// # Errors
    /// As [`TokenKeys::issue`].
    pub fn issue_in(
        &self,
        session: &Session,
        user: &str,
        groups: &[String],
        email: Option<&str>,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        let iat = unix_seconds(now);
        let aud = match self.settings.audience.as_slice() {
            [] => None,
            [one] => Some(Audience::One(one.clone())),
            many => Some(Audience::Many(many.to_vec())),
        };
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            sub: Some(user.to_owned()),
            aud,
            iat: Some(iat),
            nbf: Some(iat),
            exp: iat.saturating_add(ttl.as_secs()),
            jti: Some(new_id()?),
            sid: Some(session.id.clone()),
            auth_time: Some(unix_seconds(session.signed_in)),
            groups: groups.to_vec(),
            email: email.map(str::to_owned),
            amr: session.amr.clone(),
            idp: session.idp.clone(),
        };
        let mut payload =
            serde_json::to_value(&claims).map_err(|e| TokenError::SigningFailed(e.into()))?;
        if let Value::Object(map) = &mut payload {
            map.insert(
                self.settings.user_claim.clone(),
                Value::String(user.to_owned()),
            );
        }
        let mut header = Header::new(self.settings.algorithm);
        header.kid.clone_from(&self.current.0);
        jsonwebtoken::encode(&header, &payload, &self.signing).map_err(TokenError::SigningFailed)
    }
}
