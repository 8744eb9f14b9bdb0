//! [`AuthFailure`]: why a presented token was not accepted — its signature or claims, a
//! revocation, or its user. Answered as a generic 401 `invalid_token`; the reason is only
//! logged and counted.

use super::token::TokenError;
use super::trusted_issuers::TrustedTokenError;

/// Why a presented token was not accepted (401 `invalid_token`; the reason is only logged).
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// Signature or claims.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Its `jti` was revoked by a logout.
    #[error("token was revoked")]
    Revoked,
    /// Its user is not in the users file.
    #[error("token names an unknown user")]
    UnknownUser,
    /// Its user is disabled.
    #[error("token names a disabled user")]
    DisabledUser,
    /// A token of a `[[auth.trusted_issuers]]` issuer that its rules refused.
    #[error(transparent)]
    TrustedIssuer(#[from] TrustedTokenError),
}

impl AuthFailure {
    /// A stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Token(e) => e.reason(),
            AuthFailure::Revoked => "revoked",
            AuthFailure::UnknownUser => "unknown_user",
            AuthFailure::DisabledUser => "disabled_user",
            AuthFailure::TrustedIssuer(e) => e.reason(),
        }
    }
}
