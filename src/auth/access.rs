//! The access decision, made once for every caller: the proxied request pipeline,
//! forward-auth's `verify`, and the `me` endpoint all ask [`decide`], so a fix here reaches
//! them all.
//!
//! In order: the client address against the route's `networks` ([`within_networks`],
//! before any token work, so a client outside them costs no signature check), the credential ([`Auth::credential`]: `Authorization` first, else our cookie;
//! ambiguous or empty ones refused), its verification ([`Auth::verify_credential`]:
//! signature and claims, revocation, the known-user rule; of several copies of our cookie
//! the first that verifies), the route's [`Access`] rule applied to the identity
//! ([`evaluate`]: one exhaustive match with a test per cell, which also says which part of
//! the rule decided, for `gateway explain`), and last the CSRF rule: a
//! cookie-authenticated request that can change state — an unsafe method, or a WebSocket
//! handshake, which opens a channel a cross-site page could read and write with the user's
//! cookie — needs an `Origin`/`Referer` on one of our sites.
//!
//! A public route checks nothing, but still notes whether the request carries the
//! gateway's own bearer token, so the pipeline can keep it from a public upstream.
//!
//! The decision knows nothing of HTTP answers: it returns [`Granted`] or an [`AccessError`],
//! and the edge chooses the status and where a browser should go to sign in.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, Method};

use super::session::{Credential, CredentialError, CredentialSource, cookie};
use super::token::VerifiedToken;
use super::{Auth, AuthFailure};
use crate::config::{Access, Cidr};
use crate::http::is_websocket_upgrade;
use crate::identity::Identity;

mod rule;

pub use rule::{Decision, Factor, evaluate, within_networks};

/// What the decision reads of a request. For forward-auth these are the *original*
/// request's method and host, and the headers the proxy passed on.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'r> {
    /// The request's headers (credential, `Origin`/`Referer`, `Upgrade`).
    pub headers: &'r HeaderMap,
    /// The method: only safe ones skip the CSRF rule.
    pub method: &'r Method,
    /// The normalized host, which is always an allowed origin for itself.
    pub host: &'r str,
    /// The client's address, `trusted_proxies` applied (for forward-auth: the address the
    /// proxy reports, when the proxy is trusted; else the proxy's own).
    pub client: IpAddr,
}

/// What a route says about who may pass: its access rule, and the client networks it is
/// limited to (`None`: any address).
#[derive(Debug, Clone, Copy)]
pub struct RouteRule<'r> {
    /// The `access` rule.
    pub access: &'r Access,
    /// The `networks` the client address must be in.
    pub networks: Option<&'r [Cidr]>,
}

impl<'r> From<&'r Access> for RouteRule<'r> {
    /// A rule open to every address.
    fn from(access: &'r Access) -> RouteRule<'r> {
        RouteRule {
            access,
            networks: None,
        }
    }
}

/// A request that may pass.
#[derive(Debug)]
pub struct Granted {
    /// The verified token, when the route checked one.
    pub token: Option<Arc<VerifiedToken>>,
    /// Where the credential came from (for a public route: `Header` when it carries the
    /// gateway's own bearer token, which must not reach the upstream).
    pub source: Option<CredentialSource>,
}

impl Granted {
    /// Who the request is, when the route checked.
    pub fn identity(&self) -> Option<&Identity> {
        self.token.as_ref().map(|token| &token.identity)
    }
}

/// Why a request may not pass.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A client address outside the route's `networks`; decided before any credential is
    /// read.
    #[error("client address outside the route's networks")]
    OutsideNetworks,
    /// The credential cannot be read (two `Authorization` headers, an empty `Bearer`, a
    /// cookie that is not text).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// A credential that failed verification; the reason is only logged.
    #[error("invalid token")]
    InvalidToken(#[source] AuthFailure),
    /// Copies of our cookie that verify for different users (cookie tossing).
    #[error("cookie copies name different users")]
    ConflictingCookies,
    /// No credential where the route needs one.
    #[error("no credentials")]
    Unauthenticated,
    /// An identity the route's rule does not admit.
    #[error("forbidden")]
    Forbidden,
    /// A route that needs a second factor, and a token whose sign-in passed none while its
    /// user has one enrolled: sign in again with it (step-up, RFC 9470).
    #[error("second factor required")]
    SecondFactorRequired,
    /// A cookie-authenticated request that can change state, from another site.
    #[error("cross-site request rejected")]
    CrossSite,
}

/// Decides whether `request` may pass a route whose rule is `rule`: first the client
/// address against its networks (no token work for a client outside them), then the
/// credential and the access rule. Without `auth` (config validation refuses protected
/// routes then) only public routes pass: fail closed.
///
/// # Errors
/// The [`AccessError`] that refuses the request.
pub async fn decide(
    auth: Option<&Auth>,
    rule: RouteRule<'_>,
    request: AccessRequest<'_>,
) -> Result<Granted, AccessError> {
    if !within_networks(rule.networks, request.client) {
        return Err(AccessError::OutsideNetworks);
    }
    let access = rule.access;
    if *access == Access::Public {
        let own_token = auth.is_some_and(|auth| {
            matches!(auth.credential(request.headers), Ok(Some(c))
                if c.source == CredentialSource::Header && auth.is_own_token(c.token))
        });
        return Ok(Granted {
            token: None,
            source: own_token.then_some(CredentialSource::Header),
        });
    }
    let auth = auth.ok_or(AccessError::Unauthenticated)?;
    let credential = auth.credential(request.headers)?;
    let token = match &credential {
        None => None,
        Some(credential) => Some(
            auth.verify_credential(credential, request.headers, SystemTime::now())
                .await?,
        ),
    };
    // Only a route that asks for the second factor pays for the users-file lookup.
    let factor = token
        .as_deref()
        .filter(|_| access.requires_second_factor())
        .map(|t| auth.second_factor_of(t));
    match evaluate(access, token.as_ref().map(|t| &t.identity), factor).decision {
        Decision::Allow => {}
        Decision::Unauthenticated => return Err(AccessError::Unauthenticated),
        Decision::Forbidden => return Err(AccessError::Forbidden),
        Decision::StepUp => return Err(AccessError::SecondFactorRequired),
    }
    let source = credential.map(|c| c.source);
    let changes_state = !is_safe(request.method) || is_websocket_upgrade(request.headers);
    if source == Some(CredentialSource::Cookie)
        && changes_state
        && !auth.is_same_site(request.headers, request.host)
    {
        return Err(AccessError::CrossSite);
    }
    Ok(Granted { token, source })
}

impl Auth {
    /// Where `token`'s sign-in stands on the second factor.
    fn second_factor_of(&self, token: &VerifiedToken) -> Factor {
        // Another issuer's token: the gateway saw no second factor (see `trusted_issuers`).
        if token.issuer.is_some() {
            Factor::None
        } else if token.has_second_factor() {
            Factor::Passed
        } else if self
            .users
            .as_ref()
            .and_then(|users| users.get(&token.identity.user))
            .is_some_and(|user| user.has_second_factor())
        {
            Factor::Enrolled
        } else {
            Factor::None
        }
    }

    /// Verifies `credential` (see [`Auth::authenticate`]). A cookie credential stands for
    /// every copy of our cookie the request carries: the first copy that verifies wins, so a
    /// stale or tossed copy cannot lock its user out (and a copy whose sign-in passed a second
    /// factor wins over a password-only one) — unless copies for *different* users
    /// verify, which only cookie tossing produces (a sibling subdomain planting its own
    /// account's token for the parent domain, to make the victim act as the attacker): that
    /// is refused as ambiguous. A Bearer token claiming a `[[auth.trusted_issuers]]`
    /// issuer is verified by that issuer's rules instead (never from the cookie).
    ///
    /// # Errors
    /// [`AccessError::InvalidToken`] when nothing verifies;
    /// [`AccessError::ConflictingCookies`] for copies naming different users.
    pub async fn verify_credential(
        &self,
        credential: &Credential<'_>,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Arc<VerifiedToken>, AccessError> {
        if credential.source == CredentialSource::Header && self.trusted.claims(credential.token) {
            return self
                .authenticate_trusted(credential.token, now)
                .await
                .map_err(|failure| {
                    tracing::debug!(reason = failure.reason(), "trusted issuer token rejected");
                    AccessError::InvalidToken(failure)
                });
        }
        let mut chosen = self.authenticate(credential.token, now);
        if credential.source == CredentialSource::Cookie && credential.more_copies {
            let others = cookie::values(headers, &self.settings.cookie.name)
                .filter_map(|value| std::str::from_utf8(value).ok())
                .filter(|token| *token != credential.token);
            for other in others {
                let Ok(verified) = self.check_token(other, now) else {
                    continue;
                };
                match &chosen {
                    Ok(winner) if winner.identity.user != verified.identity.user => {
                        return Err(AccessError::ConflictingCookies);
                    }
                    // A copy from a sign-in with a second factor outranks a password-only
                    // one of the same user (a stale cookie on another Domain must not
                    // shadow the step-up just made).
                    Ok(winner) if !winner.has_second_factor() && verified.has_second_factor() => {
                        chosen = Ok(verified);
                    }
                    Ok(_) => {}
                    Err(_) => chosen = Ok(verified),
                }
            }
        }
        chosen.map_err(|failure| {
            tracing::debug!(reason = failure.reason(), "token rejected");
            AccessError::InvalidToken(failure)
        })
    }
}

/// Whether `method` cannot change state (RFC 9110 §9.2.1), so needs no CSRF check.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::is_safe;

    #[test]
    fn only_get_head_and_options_skip_the_csrf_rule() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(is_safe(&method), "{method}");
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!is_safe(&method), "{method}");
        }
        assert!(!is_safe(&Method::from_bytes(b"PROPPATCH").expect("method")));
    }
}
