//! JWT keys, issue and verification: the keys and the `Validation` are built once from
//! configuration, then [`TokenKeys::issue`] mints tokens and [`TokenKeys::verify`] checks them.
//!
//! # Design
//!
//! - One algorithm, pinned by the config ([`TokenSettings::algorithm`]). The header's `alg`
//!   must name exactly that algorithm; the `Validation` lists only it. `none`, a sibling of the
//!   same family (HS512 for HS256) and the HS/RS confusion (an HS256 token whose HMAC key is
//!   the RSA public key's PEM) are all rejected before any signature is computed.
//! - Keys: HS* take the secret bytes the caller read (at least [`MIN_SECRET_BYTES`], no
//!   decoding); RS/PS/ES/EdDSA take the private key PEM (PKCS#8, or PKCS#1 for RSA). The
//!   public verification key is derived from it with jsonwebtoken's own
//!   `Jwk::from_encoding_key`, so the config needs no separate public key. Its `kid` is the
//!   RFC 7638 JWK thumbprint (SHA-256), stable across restarts and instances. Verify-only
//!   public keys `(kid, PEM)` allow rotation. Asymmetric tokens carry `kid`; HS tokens none.
//! - `kid` selects among configured keys only: no `kid` means the current signing key, an
//!   unknown one is rejected. `jku`, `x5u`, `x5c` and `jwk` headers are *ignored*: never read,
//!   never fetched, never a source of keys (a token signed by the key in its own `jwk`
//!   header fails as a bad signature).
//! - Sessions: every issued token carries `sid` and `auth_time` (OpenID Connect's names), a
//!   random id and the time of sign-in. [`TokenKeys::issue`] starts a session;
//!   [`TokenKeys::issue_in`] continues one (a renewal), so revoking a `sid` ends every token
//!   renewed from one sign-in. How long a session may be renewed is the caller's rule.
//! - This module only says *why* a token failed ([`TokenError::reason`]); the caller logs it
//!   at debug and answers a generic 401. Revocation (`jti`) and the known-user rule are the
//!   caller's, after [`TokenCache`](super::token_cache::TokenCache).
//!
//! # jsonwebtoken 12 traps closed here
//!
//! - Its `exp`/`nbf` checks read the system clock (`get_current_timestamp`); there is no way
//!   to pass a time. So `validate_exp`/`validate_nbf` are off and `exp`, `nbf`, `iat` are
//!   checked here against the caller's `now`, with the configured leeway. The typed
//!   [`Claims`] reject string-typed dates (`"exp": "9999999999"`), which jsonwebtoken only
//!   rejects while its own time checks are on.
//! - It only checks the claims it finds: `required_spec_claims` must list `exp`, `iss` (and
//!   `aud` when configured), and the user claim is checked here (it may not be `sub`).
//! - With `validate_aud` on and no audience set, it rejects every token that *has* an `aud`;
//!   with no audience configured we turn it off (audience neither checked nor set).
//! - It accepts `iss` as an array if any element matches; [`Claims::iss`] is a string.
//! - A payload may repeat a member name: its own validation refuses a repeated `exp`,
//!   `nbf`, `sub`, `iss` or `aud`, but the claims map keeps the last of any other
//!   (`groups`, `email`, a custom user claim). Two readers of one token must never disagree
//!   on what it says, so a repeated member anywhere in the payload is refused.
//! - It accepts `crit: ["b64"]` with `b64: true`. We reject any `crit`. The header is
//!   decoded here from the first segment into a minimal struct, because jsonwebtoken's
//!   `Header` reads `crit: null` as absent and cannot hold `alg: none` at all (so `none`
//!   could only be reported as "malformed", not as a wrong algorithm).
//! - `EncodingKey::from_*_pem` only unwraps PEM; a wrong key would surface at the first
//!   signature. Construction derives the JWK, which makes aws-lc parse the key (refusing
//!   e.g. RSA under 2048 bits or an EC key on the wrong curve), so a bad key fails at startup.
//! - Per call it builds a fresh signer/verifier (re-parsing the RSA private key on sign,
//!   cloning the key on verify); that is why hot paths go through the token cache.
//!
//! # Invariants
//!
//! No panics and no `unwrap` on token input; a token longer than [`MAX_TOKEN_BYTES`] or not
//! made of exactly three non-empty base64url segments is rejected before any decoding
//! (the token's syntax is checked in the `syntax` submodule).
//! The identity of an accepted token can always be sent as headers without changing its
//! meaning: the user and email hold no control character, and every group is non-empty
//! without `,` (the separator of the groups header) or control characters.
//! Key material never appears in `Debug` output or errors.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use claims::{Audience, Claims, Session, VerifiedToken};
use syntax::{RawHeader, header_segment, unique_members};

/// Tokens longer than this are rejected before any decoding (our own tokens are < 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Shortest accepted HMAC secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest `sid` accepted: revocations keep it in memory, so a token minted elsewhere must
/// not make one large.
pub const MAX_ID_BYTES: usize = 128;
/// The claim that names the user unless configured otherwise.
pub const DEFAULT_USER_CLAIM: &str = "sub";
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
    /// Claim naming the user ([`DEFAULT_USER_CLAIM`] or e.g. `username`).
    pub user_claim: String,
}

/// Why a token was not issued or not accepted. The caller logs [`TokenError::reason`];
/// clients never see it.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("token is not three base64url segments of JSON")]
    Malformed,
    #[error("token algorithm is not the configured one")]
    WrongAlgorithm,
    #[error("token typ header is not JWT")]
    WrongType,
    #[error("token has a crit header")]
    CriticalHeader,
    #[error("token kid names no configured key")]
    UnknownKid,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("token issuer is not the configured one")]
    WrongIssuer,
    #[error("token audience is not a configured one")]
    WrongAudience,
    #[error("token lacks the {0} claim")]
    MissingClaim(String),
    #[error("token claim {0} has the wrong type or value")]
    InvalidClaim(String),
    #[error("token could not be verified")]
    Unverifiable(#[source] JwtError),
    #[error("token could not be signed")]
    SigningFailed(#[source] JwtError),
    #[error("the system random generator failed")]
    RandomFailed,
}

impl TokenError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::WrongType => "wrong_type",
            Self::CriticalHeader => "critical_header",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Unverifiable(_) => "unverifiable",
            Self::SigningFailed(_) => "signing_failed",
            Self::RandomFailed => "random_failed",
        }
    }
}

/// Why [`TokenKeys`] could not be built from the settings and key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the HMAC secret is {len} bytes; at least {MIN_SECRET_BYTES} are required")]
    SecretTooShort { len: usize },
    #[error("{0:?} takes {1}")]
    WrongKeyKind(Algorithm, &'static str),
    #[error("the private key is not a valid {0:?} key (PKCS#8 PEM; RSA also PKCS#1)")]
    InvalidPrivateKey(Algorithm, #[source] JwtError),
    #[error("verify key {0:?} is not a valid {1:?} public key (SPKI PEM)")]
    InvalidPublicKey(String, Algorithm, #[source] JwtError),
    #[error("verify key id {0:?} is empty or already used")]
    DuplicateKid(String),
    #[error("user_claim {0:?} is a reserved claim")]
    ReservedUserClaim(String),
}

/// Keys and validation rules, built once; issues and verifies tokens. Cheap to share
/// (`Arc`); nothing is parsed or allocated per call except what jsonwebtoken itself does.
pub struct TokenKeys {
    settings: TokenSettings,
    validation: Validation,
    signing: EncodingKey,
    /// `kid` of the signing key (asymmetric only) and its derived public key.
    current: (Option<String>, DecodingKey),
    /// Verify-only public keys, for rotation.
    verify_only: Vec<(String, DecodingKey)>,
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
    /// 128-bit `jti`, `sid`, `auth_time`, `groups`, `email`. Header: `typ: JWT`, `kid` when
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
        let Claims {
            groups,
            email,
            jti,
            sid,
            auth_time,
            ..
        } = claims;
        let session = match (sid, auth_time) {
            (Some(id), Some(auth_time)) => Some(Session {
                id,
                signed_in: UNIX_EPOCH + Duration::from_secs(auth_time),
            }),
            _ => None,
        };
        Ok(VerifiedToken {
            user,
            groups,
            email,
            jti,
            session,
            exp,
        })
    }

    /// The public keys (current first, then verify-only) as an RFC 7517 JWK Set, for
    /// `/.auth/jwks.json`; `None` for HS algorithms, whose secret is never published.
    pub fn jwks(&self) -> Option<Value> {
        self.jwks
            .as_ref()
            .and_then(|set| serde_json::to_value(set).ok())
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
fn header_safe(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// One algorithm, issuer and audience pinned; time checks are ours (see the module docs).
fn validation(settings: &TokenSettings) -> Validation {
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

fn rejection(error: JwtError) -> TokenError {
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

/// 128 random bits from aws-lc-rs's system RNG, as 32 hex digits: a `jti` or a `sid`.
fn new_id() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TokenError::RandomFailed)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Seconds since the epoch; a clock before 1970 reads as 0 (tokens then look expired).
fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

mod claims;
mod syntax;
#[cfg(test)]
mod tests;
