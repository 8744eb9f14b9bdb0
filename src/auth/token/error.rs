//! Why a token was not issued or accepted ([`TokenError`]), and why keys could not be built
//! ([`KeyError`]).

use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::Error as JwtError;

use super::{MAX_TOKEN_BYTES, MIN_SECRET_BYTES};

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

/// Why [`TokenKeys`](super::TokenKeys) could not be built from the settings and key material.
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
