//! The access decision, made once for every caller: the proxied request pipeline,
//! forward-auth's `verify`, and the `me` endpoint all ask [`decide`], so a fix here reaches
//! them all.
//!
//! In order: the credential ([`Auth::credential`]: `Authorization` first, else our cookie;
//! ambiguous or empty ones refused), its verification ([`Auth::verify_credential`]:
//! signature and claims, revocation, the known-user rule; of several copies of our cookie
//! the first that verifies), the route's [`Access`] rule applied to the identity
//! ([`admits`]: one exhaustive match with a test per cell), and last the CSRF rule: a
//! cookie-authenticated request that can change state — an unsafe method, or a WebSocket
//! handshake, which opens a channel a cross-site page could read and write with the user's
//! cookie — needs an `Origin`/`Referer` on one of our sites.
//!
//! A public route checks nothing, but still notes whether the request carries the
//! gateway's own bearer token, so the pipeline can keep it from a public upstream.
//!
//! The decision knows nothing of HTTP answers: it returns [`Granted`] or an [`AccessError`],
//! and the edge chooses the status and where a browser should go to sign in.

use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, Method};

use super::session::{Credential, CredentialError, CredentialSource, cookie};
use super::token::VerifiedToken;
use super::{Auth, AuthFailure};
use crate::config::Access;
use crate::http::is_websocket_upgrade;
use crate::identity::Identity;

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
    /// A cookie-authenticated request that can change state, from another site.
    #[error("cross-site request rejected")]
    CrossSite,
}

/// Decides whether `request` may pass a route whose rule is `access`. Without `auth`
/// (config validation refuses protected routes then) only public routes pass: fail closed.
///
/// # Errors
/// The [`AccessError`] that refuses the request.
pub fn decide(
    auth: Option<&Auth>,
    access: &Access,
    request: AccessRequest<'_>,
) -> Result<Granted, AccessError> {
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
        Some(credential) => {
            Some(auth.verify_credential(credential, request.headers, SystemTime::now())?)
        }
    };
    match admits(access, token.as_ref().map(|t| &t.identity)) {
        Decision::Allow => {}
        Decision::Unauthenticated => return Err(AccessError::Unauthenticated),
        Decision::Forbidden => return Err(AccessError::Forbidden),
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
    /// Verifies `credential` (see [`Auth::authenticate`]). A cookie credential stands for
    /// every copy of our cookie the request carries: the first copy that verifies wins, so a
    /// stale or tossed copy cannot lock its user out — unless copies for *different* users
    /// verify, which only cookie tossing produces (a sibling subdomain planting its own
    /// account's token for the parent domain, to make the victim act as the attacker): that
    /// is refused as ambiguous.
    ///
    /// # Errors
    /// [`AccessError::InvalidToken`] when nothing verifies;
    /// [`AccessError::ConflictingCookies`] for copies naming different users.
    pub fn verify_credential(
        &self,
        credential: &Credential<'_>,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Arc<VerifiedToken>, AccessError> {
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

/// The outcome of a route's rule for one identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Forward it.
    Allow,
    /// No identity where one is required: 401 (or a redirect to the login page).
    Unauthenticated,
    /// An identity that the rule does not admit: 403.
    Forbidden,
}

/// Applies `access` to `identity`.
fn admits(access: &Access, identity: Option<&Identity>) -> Decision {
    match (access, identity) {
        (Access::Public, _) => Decision::Allow,
        (Access::Authenticated | Access::Groups(_), None) => Decision::Unauthenticated,
        (Access::Authenticated, Some(_)) => Decision::Allow,
        (Access::Groups(allowed), Some(identity)) => {
            if identity.groups.iter().any(|g| allowed.contains(g)) {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::{Access, Decision, admits, is_safe};
    use crate::identity::Identity;

    fn user(groups: &[&str]) -> Identity {
        Identity {
            user: "alice".to_owned(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            email: None,
        }
    }

    #[test]
    fn public_routes_admit_everyone() {
        assert_eq!(admits(&Access::Public, None), Decision::Allow);
        assert_eq!(admits(&Access::Public, Some(&user(&[]))), Decision::Allow);
    }

    #[test]
    fn authenticated_routes_need_an_identity() {
        assert_eq!(
            admits(&Access::Authenticated, None),
            Decision::Unauthenticated
        );
        assert_eq!(
            admits(&Access::Authenticated, Some(&user(&[]))),
            Decision::Allow
        );
    }

    #[test]
    fn group_routes_need_one_of_the_groups() {
        let admins = Access::Groups(vec!["admins".to_owned(), "ops".to_owned()]);
        assert_eq!(admits(&admins, None), Decision::Unauthenticated);
        assert_eq!(admits(&admins, Some(&user(&["dev"]))), Decision::Forbidden);
        assert_eq!(admits(&admins, Some(&user(&[]))), Decision::Forbidden);
        assert_eq!(
            admits(&admins, Some(&user(&["dev", "ops"]))),
            Decision::Allow
        );
        assert_eq!(
            admits(&admins, Some(&user(&["Admins"]))),
            Decision::Forbidden,
            "group names are case-sensitive"
        );
    }

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
