//! Verifying a token: its size and syntax, the header (algorithm, type, `crit`, `kid`) read
//! by us, the signature, and every claim against the caller's clock (see the module docs of
//! `auth::token` for the jsonwebtoken traps this closes).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{Claims, Session, VerifiedToken, unix_seconds};
use super::error::TokenError;
use super::keys::TokenKeys;
use super::syntax::{RawHeader, header_segment, unique_members};
use super::{MAX_ID_BYTES, MAX_TOKEN_BYTES};
use crate::identity::Identity;

/// Most `amr` values a token may carry (RFC 8176 registers about twenty).
const MAX_AMR_VALUES: usize = 16;

impl TokenKeys {
    /// Verifies `token` at time `now` (see the module docs for every rule).
    ///
    /// # Errors
    /// A [`TokenError`] naming the first rule the token broke.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let key = self.check_header(header_segment(token)?)?;
        let payload = jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation)
            .map_err(rejection)?
            .claims;
        unique_members(token)?;
        let user_claim = self.settings.user_claim.as_str();
        let user = match payload.get(user_claim) {
            Some(Value::String(user)) if !user.is_empty() && header_safe(user) => user.clone(),
            Some(_) => return Err(TokenError::InvalidClaim(user_claim.to_owned())),
            None => return Err(TokenError::MissingClaim(user_claim.to_owned())),
        };
        let claims =
            Claims::deserialize(Value::Object(payload)).map_err(|_| TokenError::Malformed)?;
        let (now, leeway) = (unix_seconds(now), self.settings.leeway.as_secs());
        let latest = now.saturating_add(leeway); // the latest acceptable nbf or iat
        if claims.exp.saturating_add(leeway) < now {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > latest) {
            return Err(TokenError::NotYetValid);
        }
        if claims.iat.is_some_and(|iat| iat > latest) {
            return Err(TokenError::IssuedInFuture);
        }
        if claims
            .groups
            .iter()
            .any(|group| group.is_empty() || group.contains(',') || !header_safe(group))
        {
            return Err(TokenError::InvalidClaim("groups".to_owned()));
        }
        if claims
            .email
            .as_deref()
            .is_some_and(|email| !header_safe(email))
        {
            return Err(TokenError::InvalidClaim("email".to_owned()));
        }
        let exp = UNIX_EPOCH
            .checked_add(Duration::from_secs(claims.exp))
            .ok_or_else(|| TokenError::InvalidClaim("exp".to_owned()))?;
        if claims.auth_time.is_some_and(|auth_time| auth_time > latest) {
            return Err(TokenError::InvalidClaim("auth_time".to_owned()));
        }
        if claims
            .sid
            .as_deref()
            .is_some_and(|sid| sid.is_empty() || sid.len() > MAX_ID_BYTES)
        {
            return Err(TokenError::InvalidClaim("sid".to_owned()));
        }
        if claims.amr.len() > MAX_AMR_VALUES
            || claims
                .amr
                .iter()
                .any(|m| m.is_empty() || m.len() > MAX_ID_BYTES || !header_safe(m))
        {
            return Err(TokenError::InvalidClaim("amr".to_owned()));
        }
        if claims
            .idp
            .as_deref()
            .is_some_and(|idp| idp.is_empty() || idp.len() > MAX_ID_BYTES || !header_safe(idp))
        {
            return Err(TokenError::InvalidClaim("idp".to_owned()));
        }
        let Claims {
            groups,
            email,
            jti,
            sid,
            auth_time,
            amr,
            idp,
            ..
        } = claims;
        let session = match (sid, auth_time) {
            (Some(id), Some(auth_time)) => Some(Session {
                id,
                signed_in: UNIX_EPOCH + Duration::from_secs(auth_time),
                amr: amr.clone(),
                idp,
            }),
            _ => None,
        };
        Ok(VerifiedToken {
            identity: Identity {
                user,
                groups,
                email,
            },
            jti,
            session,
            exp,
            amr,
            issuer: None,
        })
    }

    /// Checks the header ourselves (jsonwebtoken's own header parse accepts `crit: ["b64"]`
    /// and cannot say "alg none") and picks the key its `kid` names.
    fn check_header(&self, segment: &str) -> Result<&DecodingKey, TokenError> {
        let json = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| TokenError::Malformed)?;
        let header: RawHeader = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if header.alg.parse::<Algorithm>().ok() != Some(self.settings.algorithm) {
            return Err(TokenError::WrongAlgorithm);
        }
        if header
            .typ
            .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
        {
            return Err(TokenError::WrongType);
        }
        if header.crit {
            return Err(TokenError::CriticalHeader);
        }
        match header.kid {
            None => Ok(&self.current.1),
            Some(kid) if self.current.0.as_ref() == Some(&kid) => Ok(&self.current.1),
            Some(kid) => {
                let found = self.verify_only.iter().find(|(k, _)| *k == kid);
                found.map(|(_, key)| key).ok_or(TokenError::UnknownKid)
            }
        }
    }
}

/// Whether `text` can be an identity header value as it is: no control characters.
pub(crate) fn header_safe(text: &str) -> bool {
    !text.chars().any(char::is_control)
}
pub(crate) fn rejection(error: JwtError) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => TokenError::Malformed,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => TokenError::WrongAlgorithm,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => TokenError::InvalidClaim(claim.clone()),
        _ => TokenError::Unverifiable(error),
    }
}
