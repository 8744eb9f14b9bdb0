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
    algorithms: Vec<Algorithm>,
    user_claim: String,
    groups_claim: Option<String>,
    leeway: Duration,
    /// `iss`, `aud`, the required claims; time checks are ours (jsonwebtoken reads the
    /// system clock).
    validation: Validation,
}

impl TokenRules {
    pub(super) fn new(settings: &TrustedIssuerSettings, leeway: Duration) -> TokenRules {
        let mut validation = Validation::new(settings.algorithms[0]);
        validation.algorithms = settings.algorithms.clone();
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&settings.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        TokenRules {
            issuer: settings.issuer.clone(),
            algorithms: settings.algorithms.clone(),
            user_claim: settings.user_claim.clone(),
            groups_claim: settings.groups_claim.clone(),
            leeway,
            validation,
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
        let key = self.key(set, header_segment(token)?)?;
        let payload = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
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

    /// The header, read by us, and the key of `set` it names.
    fn key(&self, set: &JwkSet, segment: &str) -> Result<DecodingKey, TokenError> {
        let json = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| TokenError::Malformed)?;
        let header: RawHeader = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        let alg = header.alg.parse::<Algorithm>().ok();
        if !alg.is_some_and(|alg| self.algorithms.contains(&alg)) {
            return Err(TokenError::WrongAlgorithm);
        }
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
        DecodingKey::from_jwk(jwk).map_err(|_| TokenError::UnknownKid)
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
mod tests {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;
    use crate::config::IssuerKeysAt;

    const ISSUER: &str = "https://idp.test";

    struct Signer {
        key: EncodingKey,
        set: JwkSet,
    }

    fn signer(alg: Algorithm, kid: &str) -> Signer {
        let pem = match alg {
            Algorithm::ES256 => {
                let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
                key.serialize_pem()
            }
            _ => include_str!("../../../tests/fixtures/keys/rsa-private.pem").to_owned(),
        };
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .expect("key");
        let mut jwk = Jwk::from_encoding_key(&key, alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        Signer {
            key,
            set: JwkSet { keys: vec![jwk] },
        }
    }

    fn rules(algorithms: Vec<Algorithm>) -> TokenRules {
        TokenRules::new(
            &TrustedIssuerSettings {
                issuer: ISSUER.to_owned(),
                keys_at: IssuerKeysAt::Discovery,
                audience: vec!["api".to_owned()],
                user_claim: "sub".to_owned(),
                groups_claim: Some("groups".to_owned()),
                algorithms,
                ca_file: None,
                key_refresh_min_interval: Duration::from_secs(30),
                at: crate::config::Location {
                    file: "t".into(),
                    line: 1,
                    col: 1,
                },
            },
            Duration::from_secs(30),
        )
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": "api", "sub": "deployer", "exp": NOW + 60, "iat": NOW,
               "groups": ["ci", "deploy"], "email": "d@example.com", "sid": "s", "amr": ["otp"]})
    }

    fn sign(signer: &Signer, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &signer.key).expect("sign")
    }

    #[test]
    fn a_token_of_the_issuer_yields_its_identity_without_session_or_amr() {
        let s = signer(Algorithm::RS256, "k1");
        let token = sign(&s, Algorithm::RS256, Some("k1"), &claims());
        let verified = rules(vec![Algorithm::RS256])
            .verify(&s.set, &token, now())
            .expect("valid");
        assert_eq!(verified.identity.user, "deployer");
        assert_eq!(verified.identity.groups, ["ci", "deploy"]);
        assert_eq!(verified.identity.email.as_deref(), Some("d@example.com"));
        assert_eq!(verified.issuer.as_deref(), Some(ISSUER));
        assert!(verified.session.is_none() && verified.amr.is_empty());
        assert_eq!(claimed_issuer(&token).as_deref(), Some(ISSUER));
    }

    #[test]
    fn each_broken_rule_is_refused() {
        let s = signer(Algorithm::RS256, "k1");
        let r = rules(vec![Algorithm::RS256]);
        let with = |change: &dyn Fn(&mut Value)| {
            let mut c = claims();
            change(&mut c);
            sign(&s, Algorithm::RS256, Some("k1"), &c)
        };
        let cases: Vec<(String, &str)> = vec![
            (with(&|c| c["aud"] = json!("other")), "wrong_audience"),
            (
                with(&|c| c["iss"] = json!("https://evil.test")),
                "wrong_issuer",
            ),
            (with(&|c| c["exp"] = json!(NOW - 31)), "expired"),
            (with(&|c| c["nbf"] = json!(NOW + 31)), "not_yet_valid"),
            (with(&|c| c["iat"] = json!(NOW + 31)), "issued_in_future"),
            (
                with(&|c| {
                    c.as_object_mut().expect("obj").remove("exp");
                }),
                "missing_claim",
            ),
            (
                with(&|c| {
                    c.as_object_mut().expect("obj").remove("sub");
                }),
                "missing_claim",
            ),
            (with(&|c| c["groups"] = json!(["a,b"])), "invalid_claim"),
            (with(&|c| c["groups"] = json!("ci")), "invalid_claim"),
            (with(&|c| c["sub"] = json!("x\ny")), "invalid_claim"),
            (
                sign(&s, Algorithm::RS256, Some("k2"), &claims()),
                "unknown_kid",
            ),
        ];
        for (token, reason) in cases {
            let error = r.verify(&s.set, &token, now()).expect_err(reason);
            assert_eq!(error.reason(), reason, "{error}");
        }
        // Leeway: 30 s past exp still passes.
        let late = with(&|c| c["exp"] = json!(NOW - 29));
        assert!(r.verify(&s.set, &late, now()).is_ok());
    }

    #[test]
    fn algorithms_outside_the_allow_list_are_refused() {
        let es = signer(Algorithm::ES256, "e1");
        let token = sign(&es, Algorithm::ES256, Some("e1"), &claims());
        assert!(
            rules(vec![Algorithm::ES256])
                .verify(&es.set, &token, now())
                .is_ok()
        );
        let error = rules(vec![Algorithm::RS256])
            .verify(&es.set, &token, now())
            .expect_err("ES256 not allowed");
        assert_eq!(error.reason(), "wrong_algorithm");
        // HS256 keyed with anything: never in an allow-list (config refuses HS*).
        let hs = encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"public key bytes as a secret!!!!").expect("hmac key"),
        )
        .expect("sign");
        let error = rules(vec![Algorithm::RS256])
            .verify(&es.set, &hs, now())
            .expect_err("hs");
        assert_eq!(error.reason(), "wrong_algorithm");
    }

    #[test]
    fn an_unverified_email_is_not_passed_on_and_absent_groups_are_none() {
        let s = signer(Algorithm::RS256, "k1");
        let mut c = claims();
        c["email_verified"] = json!(false);
        c.as_object_mut().expect("obj").remove("groups");
        let token = sign(&s, Algorithm::RS256, None, &c);
        let verified = rules(vec![Algorithm::RS256])
            .verify(&s.set, &token, now())
            .expect("valid");
        assert_eq!(verified.identity.email, None);
        assert!(verified.identity.groups.is_empty());
    }

    #[test]
    fn claimed_issuer_needs_a_jwt_with_a_string_iss() {
        assert_eq!(claimed_issuer("not a token"), None);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":1}"#);
        assert_eq!(claimed_issuer(&format!("e30.{payload}.c2ln")), None);
    }
}
