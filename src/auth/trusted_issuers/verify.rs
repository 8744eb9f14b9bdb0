//! Verifying one trusted issuer's token against a key set: the header read by us (an
//! allowed asymmetric `alg`, `typ` `JWT` or `at+jwt`, no `crit`, a `kid` the set has),
//! the signature and `iss`/`aud` by jsonwebtoken, then `exp`/`nbf`/`iat` against the
//! caller's clock with the leeway, and the user and groups from the configured claims.
//!
//! What such a token does *not* carry into the gateway: its `sid`/`auth_time` (it has no
//! session here: never renewed, never a cookie), its `amr` (a second factor another issuer
//! claims is not one the gateway saw).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::auth::token::syntax::{RawHeader, header_segment, unique_members};
use crate::auth::token::verify::{header_safe, rejection};
use crate::auth::token::{MAX_TOKEN_BYTES, TokenError, VerifiedToken};
use crate::config::TrustedIssuerSettings;
use crate::identity::Identity;

/// The checks of one issuer, built once.
#[derive(Debug)]
pub(super) struct TokenRules {
    issuer: String,
    user_claim: String,
    groups_claim: Option<String>,
    leeway: Duration,
    /// Per allowed algorithm: `iss`, `aud`, the required claims (time checks are ours:
    /// jsonwebtoken reads the system clock). One per algorithm because jsonwebtoken
    /// refuses a `Validation` listing algorithms of another family than the key's.
    validations: Vec<(Algorithm, Validation)>,
}

impl TokenRules {
    pub(super) fn new(settings: &TrustedIssuerSettings, leeway: Duration) -> TokenRules {
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&settings.issuer]);
            validation.set_audience(&settings.audience);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            validation.validate_exp = false;
            validation.validate_nbf = false;
            (algorithm, validation)
        };
        TokenRules {
            issuer: settings.issuer.clone(),
            validations: settings
                .algorithms
                .iter()
                .copied()
                .map(validation)
                .collect(),
            user_claim: settings.user_claim.clone(),
            groups_claim: settings.groups_claim.clone(),
            leeway,
        }
    }

    /// Verifies `token` with the keys of `set` at `now`.
    ///
    /// # Errors
    /// The first rule it broke; [`TokenError::UnknownKid`] when `set` lacks its key (the
    /// caller may refresh the set once and try again).
    pub(super) fn verify(
        &self,
        set: &JwkSet,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let (key, validation) = self.key(set, header_segment(token)?)?;
        let payload = jsonwebtoken::decode::<Map<String, Value>>(token, &key, validation)
            .map_err(rejection)?
            .claims;
        unique_members(token)?;
        let exp = self.check_times(&payload, now)?;
        let user = match payload.get(&self.user_claim) {
            Some(Value::String(user)) if !user.is_empty() && header_safe(user) => user.clone(),
            Some(_) => return Err(TokenError::InvalidClaim(self.user_claim.clone())),
            None => return Err(TokenError::MissingClaim(self.user_claim.clone())),
        };
        let groups = match self.groups_claim.as_ref().map(|c| (c, payload.get(c))) {
            None | Some((_, None)) => Vec::new(),
            Some((claim, Some(value))) => {
                groups(value).ok_or_else(|| TokenError::InvalidClaim(claim.clone()))?
            }
        };
        // An address the issuer says it has not verified is not passed on as the user's.
        let verified_email = payload.get("email_verified") != Some(&Value::Bool(false));
        let email = match payload.get("email") {
            Some(Value::String(email)) if header_safe(email) => {
                verified_email.then(|| email.clone())
            }
            None => None,
            Some(_) => return Err(TokenError::InvalidClaim("email".to_owned())),
        };
        let jti = match payload.get("jti") {
            Some(Value::String(jti)) => Some(jti.clone()),
            _ => None,
        };
        Ok(VerifiedToken {
            identity: Identity {
                user,
                groups,
                email,
            },
            jti,
            session: None,
            exp,
            amr: Vec::new(),
            issuer: Some(self.issuer.clone()),
        })
    }

    /// The header, read by us: the key of `set` it names, and the validation of its `alg`.
    fn key(&self, set: &JwkSet, segment: &str) -> Result<(DecodingKey, &Validation), TokenError> {
        let json = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| TokenError::Malformed)?;
        let header: RawHeader = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        let alg = header.alg.parse::<Algorithm>().ok();
        let validation = self
            .validations
            .iter()
            .find(|(allowed, _)| Some(*allowed) == alg)
            .map(|(_, validation)| validation)
            .ok_or(TokenError::WrongAlgorithm)?;
        let typ_ok = header.typ.as_deref().is_none_or(|typ| {
            ["JWT", "at+jwt", "application/at+jwt"]
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t))
        });
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        if header.crit {
            return Err(TokenError::CriticalHeader);
        }
        let jwk = match &header.kid {
            Some(kid) => set.find(kid),
            // Without a kid, only a set of one key says which key it is.
            None if set.keys.len() == 1 => set.keys.first(),
            None => None,
        }
        .ok_or(TokenError::UnknownKid)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| TokenError::UnknownKid)?;
        Ok((key, validation))
    }

    /// `exp` (required), `nbf` and `iat` against `now`, each with the leeway; the expiry.
    fn check_times(
        &self,
        payload: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<SystemTime, TokenError> {
        let date = |name: &str| match payload.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .map(Some)
                .ok_or_else(|| TokenError::InvalidClaim(name.to_owned())),
            Some(_) => Err(TokenError::InvalidClaim(name.to_owned())),
        };
        let exp = date("exp")?.ok_or_else(|| TokenError::MissingClaim("exp".to_owned()))?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let leeway = self.leeway.as_secs();
        if exp.saturating_add(leeway) < now {
            return Err(TokenError::Expired);
        }
        if date("nbf")?.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(TokenError::NotYetValid);
        }
        if date("iat")?.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(TokenError::IssuedInFuture);
        }
        UNIX_EPOCH
            .checked_add(Duration::from_secs(exp))
            .ok_or_else(|| TokenError::InvalidClaim("exp".to_owned()))
    }
}

/// An array of group names fit for the groups header (non-empty, no `,`, no control
/// characters); `None` otherwise.
fn groups(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|group| match group {
            Value::String(g) if !g.is_empty() && !g.contains(',') && header_safe(g) => {
                Some(g.clone())
            }
            _ => None,
        })
        .collect()
}

/// The `iss` a token claims, read without verifying anything (to pick the issuer whose
/// rules then verify it); `None` when the token is not a JWT with a string `iss`.
pub(super) fn claimed_issuer(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    header_segment(token).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: String,
    }
    serde_json::from_slice::<Iss>(&payload).ok().map(|i| i.iss)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
