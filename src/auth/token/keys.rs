//! Keys built once from configuration: the signing key, its derived public key and `kid`
//! (RFC 7638 thumbprint), verify-only keys for rotation, the JWK Set, and the `Validation`
//! that pins the algorithm, issuer and audience. A bad key fails here, at startup.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Validation};
use serde_json::Value;

use super::MIN_SECRET_BYTES;
use super::error::KeyError;

/// Claims the user claim may not be: they mean something else to the verifier.
const RESERVED_CLAIMS: [&str; 9] = [
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "auth_time",
    "groups",
];

/// What the `[auth]` config says about tokens; plain data, filled by the config layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// The one algorithm tokens are signed and verified with.
    pub algorithm: Algorithm,
    /// `iss` set on issue and required on verify.
    pub issuer: String,
    /// Accepted `aud` values; empty means `aud` is neither set nor checked.
    pub audience: Vec<String>,
    /// Clock skew allowed for `exp`, `nbf` and `iat` (whole seconds count).
    pub leeway: Duration,
    /// Lifetime of issued tokens, unless the caller asks for another.
    pub token_ttl: Duration,
    /// Claim naming the user ([`DEFAULT_USER_CLAIM`](crate::config::DEFAULT_USER_CLAIM) or e.g. `username`).
    pub user_claim: String,
}

/// Keys and validation rules, built once; issues and verifies tokens. Cheap to share
/// (`Arc`); nothing is parsed or allocated per call except what jsonwebtoken itself does.
pub struct TokenKeys {
    pub(super) settings: TokenSettings,
    pub(super) validation: Validation,
    pub(super) signing: EncodingKey,
    /// `kid` of the signing key (asymmetric only) and its derived public key.
    pub(super) current: (Option<String>, DecodingKey),
    /// Verify-only public keys, for rotation.
    pub(super) verify_only: Vec<(String, DecodingKey)>,
    jwks: Option<JwkSet>,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&String> = self.verify_only.iter().map(|(kid, _)| kid).collect();
        f.debug_struct("TokenKeys")
            .field("settings", &self.settings)
            .field("kid", &self.current.0)
            .field("verify_kids", &kids)
            .field("keys", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Builds HS* keys from the secret bytes (already trimmed by the caller, not decoded).
    ///
    /// # Errors
    /// [`KeyError`] when the algorithm is not HS*, the secret is shorter than
    /// [`MIN_SECRET_BYTES`], or the user claim is reserved.
    pub fn from_secret(settings: TokenSettings, secret: &[u8]) -> Result<Self, KeyError> {
        let algorithm = settings.algorithm;
        if algorithm.family() != AlgorithmFamily::Hmac {
            return Err(KeyError::WrongKeyKind(algorithm, "a PEM private key"));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::SecretTooShort { len: secret.len() });
        }
        let bad = |source| KeyError::InvalidPrivateKey(algorithm, source);
        let signing = EncodingKey::from_secret(secret).map_err(bad)?;
        let current = DecodingKey::from_secret(secret).map_err(bad)?;
        Self::build(settings, signing, (None, current), Vec::new(), None)
    }

    /// Builds asymmetric keys from the private key PEM (its public key is derived) and
    /// verify-only public keys `(kid, PEM)` for rotation.
    ///
    /// # Errors
    /// [`KeyError`] when the algorithm is HS*, a key does not parse or does not fit the
    /// algorithm (e.g. a P-384 key for ES256), a `kid` is empty or repeated, or the user
    /// claim is reserved.
    pub fn from_pem(
        settings: TokenSettings,
        private_pem: &[u8],
        verify_keys: &[(String, Vec<u8>)],
    ) -> Result<Self, KeyError> {
        let algorithm = settings.algorithm;
        let bad = |source| KeyError::InvalidPrivateKey(algorithm, source);
        let signing = match algorithm.family() {
            AlgorithmFamily::Hmac => {
                return Err(KeyError::WrongKeyKind(algorithm, "a secret"));
            }
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(private_pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(private_pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(private_pem),
        }
        .map_err(bad)?;
        // Parses the private key (aws-lc) and derives the public half: no extra config.
        let jwk = Jwk::from_encoding_key(&signing, algorithm).map_err(bad)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(bad)?;
        let current = DecodingKey::from_jwk(&jwk).map_err(bad)?;
        let mut jwks = vec![published(jwk, &kid, algorithm)];
        let mut verify_only = Vec::with_capacity(verify_keys.len());
        for (vkid, pem) in verify_keys {
            if vkid.is_empty() || *vkid == kid || verify_only.iter().any(|(k, _)| k == vkid) {
                return Err(KeyError::DuplicateKid(vkid.clone()));
            }
            let (key, jwk) = public_key(algorithm, pem)
                .map_err(|e| KeyError::InvalidPublicKey(vkid.clone(), algorithm, e))?;
            jwks.push(published(jwk, vkid, algorithm));
            verify_only.push((vkid.clone(), key));
        }
        let jwks = Some(JwkSet { keys: jwks });
        Self::build(settings, signing, (Some(kid), current), verify_only, jwks)
    }

    fn build(
        settings: TokenSettings,
        signing: EncodingKey,
        current: (Option<String>, DecodingKey),
        verify_only: Vec<(String, DecodingKey)>,
        jwks: Option<JwkSet>,
    ) -> Result<Self, KeyError> {
        if RESERVED_CLAIMS.contains(&settings.user_claim.as_str()) {
            return Err(KeyError::ReservedUserClaim(settings.user_claim));
        }
        let validation = validation(&settings);
        Ok(Self {
            settings,
            validation,
            signing,
            current,
            verify_only,
            jwks,
        })
    }

    /// The public keys (current first, then verify-only) as an RFC 7517 JWK Set, for
    /// `/.auth/jwks.json`; `None` for HS algorithms, whose secret is never published.
    pub fn jwks(&self) -> Option<Value> {
        self.jwks
            .as_ref()
            .and_then(|set| serde_json::to_value(set).ok())
    }
}

/// One algorithm, issuer and audience pinned; time checks are ours (see the module docs).
pub(super) fn validation(settings: &TokenSettings) -> Validation {
    let mut validation = Validation::new(settings.algorithm);
    validation.leeway = settings.leeway.as_secs();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[settings.issuer.as_str()]);
    let mut required = vec!["exp", "iss"];
    if settings.audience.is_empty() {
        validation.validate_aud = false;
    } else {
        validation.set_audience(&settings.audience);
        required.push("aud");
    }
    validation.set_required_spec_claims(&required);
    validation
}
/// Parses a verify-only public key PEM and checks it fits `algorithm` (EC curve included).
fn public_key(algorithm: Algorithm, pem: &[u8]) -> Result<(DecodingKey, Jwk), JwtError> {
    let key = match algorithm.family() {
        AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem)?,
        AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem)?,
        AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem)?,
        AlgorithmFamily::Hmac => return Err(ErrorKind::InvalidKeyFormat.into()),
    };
    // Building the JWK parses the key (RSA via aws-lc, EC/Ed by length).
    let jwk = Jwk::from_decoding_key(&key, Some(algorithm))?;
    if let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm {
        let expected = match algorithm {
            Algorithm::ES384 => EllipticCurve::P384,
            _ => EllipticCurve::P256,
        };
        if ec.curve != expected {
            return Err(ErrorKind::InvalidEcdsaKey.into());
        }
    }
    Ok((key, jwk))
}
/// A public JWK as published: `kid`, `alg`, `use: sig`.
fn published(mut jwk: Jwk, kid: &str, algorithm: Algorithm) -> Jwk {
    jwk.common = CommonParameters {
        public_key_use: Some(PublicKeyUse::Signature),
        key_algorithm: Some(algorithm.into()),
        key_id: Some(kid.to_owned()),
        ..CommonParameters::default()
    };
    jwk
}
