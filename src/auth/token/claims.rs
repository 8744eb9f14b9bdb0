//! What a token says: the payload the gateway issues and reads ([`Claims`], dates as
//! NumericDate seconds, strings refused), what a verified token tells the rest of the
//! gateway ([`VerifiedToken`]), and the sign-in a token belongs to ([`Session`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize};

use super::error::TokenError;
use crate::identity::Identity;

/// The payload of a token. Dates are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer; a single string (jsonwebtoken alone would accept an array).
    pub iss: String,
    /// Subject: the user name in the gateway's own tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience: a string when one, an array when several, absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Issued at.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_date"
    )]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_date"
    )]
    pub nbf: Option<u64>,
    /// Expiry.
    #[serde(deserialize_with = "date")]
    pub exp: u64,
    /// Token id, used for revocation; tokens minted elsewhere may lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Session id (OpenID Connect's `sid`): the same in every token renewed from one
    /// sign-in, so that signing out revokes them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the user signed in (OpenID Connect's `auth_time`); renewal stops
    /// `session_lifetime` after it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_date"
    )]
    pub auth_time: Option<u64>,
    /// Group names, from the users file at issue.
    #[serde(default)]
    pub groups: Vec<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Authentication methods of the sign-in (RFC 8176 `amr`): `["pwd"]`, or
    /// `["pwd","otp"]` after a second factor; kept across renewal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The identity provider (`[[auth.oidc]]` name) the user signed in with; absent for
    /// the users file. Kept across renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
}

/// The `aud` claim, in either of its RFC 7519 shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "x"`
    One(String),
    /// `"aud": ["x", "y"]`
    Many(Vec<String>),
}

/// What a valid token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Who the token names: the user from [`TokenSettings::user_claim`](super::TokenSettings::user_claim), groups (empty when
    /// the token has none), e-mail if it has one.
    pub identity: Identity,
    /// Token id, if the token has one (revocation needs it).
    pub jti: Option<String>,
    /// The sign-in this token continues, when it has both `sid` and `auth_time` (the
    /// gateway's own tokens always do; tokens minted elsewhere may not).
    pub session: Option<Session>,
    /// Expiry, without leeway.
    pub exp: SystemTime,
    /// The `amr` claim (empty when the token has none).
    pub amr: Vec<String>,
    /// The `[[auth.trusted_issuers]]` issuer that vouched for this token; `None` for the
    /// gateway's own tokens.
    pub issuer: Option<String>,
}

impl VerifiedToken {
    /// Whether the sign-in behind this token passed a second factor (`amr` holds `otp`).
    pub fn has_second_factor(&self) -> bool {
        self.amr.iter().any(|method| method == AMR_OTP)
    }
}

/// `amr` value of a password (RFC 8176 §2).
pub const AMR_PASSWORD: &str = "pwd";
/// `amr` value of a one-time password: a TOTP or a recovery code (RFC 8176 §2).
pub const AMR_OTP: &str = "otp";

/// One sign-in: every token renewed from it carries the same id and sign-in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `sid`: 128 random bits as hex.
    pub id: String,
    /// `auth_time`: when the user signed in.
    pub signed_in: SystemTime,
    /// How the user signed in (`amr`), carried by every token of the session.
    pub amr: Vec<String>,
    /// The identity provider the user signed in with (`idp`); `None` for the users file.
    pub idp: Option<String>,
}

impl Session {
    /// A new session (a fresh random id) signed in at `signed_in`.
    ///
    /// # Errors
    /// [`TokenError::RandomFailed`] when the system random generator fails.
    pub fn begin(signed_in: SystemTime) -> Result<Session, TokenError> {
        Self::begin_with(signed_in, Vec::new())
    }

    /// A new session signed in at `signed_in` by the methods `amr`.
    ///
    /// # Errors
    /// As [`Session::begin`].
    pub fn begin_with(signed_in: SystemTime, amr: Vec<String>) -> Result<Session, TokenError> {
        Ok(Session {
            id: new_id()?,
            signed_in,
            amr,
            idp: None,
        })
    }

    /// A new session signed in at `signed_in` through the identity provider `idp`.
    ///
    /// # Errors
    /// As [`Session::begin`].
    pub fn begin_at_provider(signed_in: SystemTime, idp: &str) -> Result<Session, TokenError> {
        Ok(Session {
            idp: Some(idp.to_owned()),
            ..Self::begin(signed_in)?
        })
    }
}

/// A NumericDate: a non-negative JSON number (fractions dropped). Strings are refused.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    let float = || number.as_f64().filter(|f| f.is_finite() && *f >= 0.0);
    number
        .as_u64()
        .or_else(|| float().map(|f| f as u64))
        .ok_or_else(|| serde::de::Error::custom("NumericDate must be a non-negative number"))
}

fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Date(#[serde(deserialize_with = "date")] u64);
    Ok(Option::<Date>::deserialize(d)?.map(|Date(secs)| secs))
}

/// 128 random bits from aws-lc-rs's system RNG, as 32 hex digits: a `jti` or a `sid`.
pub(super) fn new_id() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TokenError::RandomFailed)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Seconds since the epoch; a clock before 1970 reads as 0 (tokens then look expired).
pub(super) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
