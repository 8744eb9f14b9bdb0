//! Tokens from other issuers on APIs: `[[auth.trusted_issuers]]`. A Bearer token whose
//! `iss` is a configured trusted issuer is verified against that issuer's published keys
//! and rules instead of the gateway's; the identity it yields reaches the route rule and
//! the identity headers like any other.
//!
//! | module | concept |
//! |---|---|
//! | `verify` | one issuer's checks: header, signature, `iss`, `aud`, times, user and groups |
//! | `keys` | the issuer's key set (or discovery, then the key set): cached, refreshed in the background and, rate-limited, on an unknown `kid` |
//!
//! Deliberate limits, each enforced where the token is used (`auth::access`, `auth`):
//! - only from the `Authorization` header, never from the gateway's cookie, and the
//!   gateway never sets its cookie for them (they have no session to renew);
//! - `require_known_user` is not applied (their users are not in the users file), nor
//!   revocation (the issuer owns their lifetime: keep them short);
//! - a route with `second_factor` refuses them (403): the gateway saw no second factor,
//!   and another issuer's `amr` is not taken as one.
//!
//! The issuer is picked by the token's unverified `iss` (exact match); everything it says
//! is then verified with that issuer's rules, including `iss` itself.

mod keys;
mod verify;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::auth::idp::BackChannel;
use crate::auth::token::{TokenError, VerifiedToken};
use crate::config::TrustedIssuerSettings;
use crate::tls::TlsError;
use crate::tls::client::TrustRoots;

use keys::IssuerKeys;
pub use keys::KeysError;
use verify::{TokenRules, claimed_issuer};

/// Why a trusted issuer's token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustedTokenError {
    /// The token broke one of its issuer's rules.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The issuer's keys could not be had.
    #[error("trusted issuer keys unavailable")]
    Keys(#[source] Box<KeysError>),
}

impl From<KeysError> for TrustedTokenError {
    /// Boxed: a request's error travels through every step, so it stays small.
    fn from(error: KeysError) -> Self {
        TrustedTokenError::Keys(Box::new(error))
    }
}

impl TrustedTokenError {
    /// A stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            TrustedTokenError::Token(error) => error.reason(),
            TrustedTokenError::Keys(_) => "issuer_keys_unavailable",
        }
    }
}

/// One trusted issuer: its rules and its keys.
#[derive(Debug)]
struct TrustedIssuer {
    issuer: String,
    rules: TokenRules,
    keys: IssuerKeys,
}

/// Every configured trusted issuer, for one config generation.
#[derive(Debug, Default)]
pub struct TrustedIssuers {
    issuers: Vec<Arc<TrustedIssuer>>,
}

impl TrustedIssuers {
    /// Builds the issuers of `settings` (nothing is fetched yet); `leeway` is `[auth]`'s.
    ///
    /// # Errors
    /// A [`TlsError`] when an issuer's `ca_file` cannot be read.
    pub fn load(
        settings: &[TrustedIssuerSettings],
        leeway: Duration,
    ) -> Result<TrustedIssuers, TlsError> {
        let issuers = settings
            .iter()
            .map(|issuer| {
                let roots = match &issuer.ca_file {
                    Some(file) => TrustRoots::File(file),
                    None => TrustRoots::System,
                };
                Ok(Arc::new(TrustedIssuer {
                    issuer: issuer.issuer.clone(),
                    rules: TokenRules::new(issuer, leeway),
                    keys: IssuerKeys::new(issuer, BackChannel::new(roots)?),
                }))
            })
            .collect::<Result<_, TlsError>>()?;
        Ok(TrustedIssuers { issuers })
    }

    /// Whether `token` claims to be from a trusted issuer (unverified: only to choose
    /// which rules verify it).
    pub fn claims(&self, token: &str) -> bool {
        self.issuer_of(token).is_some()
    }

    fn issuer_of(&self, token: &str) -> Option<&Arc<TrustedIssuer>> {
        if self.issuers.is_empty() {
            return None;
        }
        let iss = claimed_issuer(token)?;
        self.issuers.iter().find(|issuer| issuer.issuer == iss)
    }

    /// Verifies `token` with the rules and keys of the issuer it names; on an unknown
    /// `kid`, refreshes that issuer's key set once (rate-limited) and tries again.
    ///
    /// # Errors
    /// A [`TrustedTokenError`]; `Token(WrongIssuer)` when no trusted issuer is named.
    pub async fn verify(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedToken, TrustedTokenError> {
        let issuer = self.issuer_of(token).ok_or(TokenError::WrongIssuer)?;
        let set = issuer.keys.current().await?;
        match issuer.rules.verify(&set, token, now) {
            Err(TokenError::UnknownKid) => match issuer.keys.refresh_for_unknown_kid().await? {
                Some(fresh) => Ok(issuer.rules.verify(&fresh, token, now)?),
                None => Err(TokenError::UnknownKid.into()),
            },
            outcome => Ok(outcome?),
        }
    }
}
