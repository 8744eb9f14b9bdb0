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
use crate::config::{Access, Allowlist, Cidr};
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

/// The outcome of a route's rule for one identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Forward it.
    Allow,
    /// No identity where one is required: 401 (or a redirect to the login page).
    Unauthenticated,
    /// An identity that the rule does not admit: 403.
    Forbidden,
    /// An admitted identity whose sign-in lacks the second factor the rule asks for, and
    /// could add it: 401 `insufficient_user_authentication` (or the login page).
    StepUp,
}

/// Where a token's sign-in stands on the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// Its `amr` holds `otp`.
    Passed,
    /// Password only, and its user has a second factor enrolled: a step-up can add it.
    Enrolled,
    /// Password only, and its user has none (or is not in the users file): nothing to add.
    None,
}

/// Which part of a rule admitted an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match<'a> {
    /// `"authenticated"`: any signed-in user.
    SignedIn,
    /// Named in `users`.
    User(&'a str),
    /// A member of this group of `groups`.
    Group(&'a str),
    /// An email at this domain of `email_domains`.
    EmailDomain(&'a str),
}

/// Why a rule decided as it did: what [`evaluate`] found, for `gateway explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// The route is public.
    Public,
    /// The route needs a signed-in user and there is none.
    NoIdentity,
    /// Admitted by this part of the rule (and its second factor, if the rule asks for one).
    Admitted(Match<'a>),
    /// No user, group or email domain of the rule matches.
    NotListed,
    /// Admitted by this part of the rule, but the sign-in lacks the second factor the rule
    /// asks for.
    SecondFactorMissing(Match<'a>),
}

/// A rule's [`Decision`] with its [`Reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'a> {
    /// What happens to the request.
    pub decision: Decision,
    /// Why.
    pub reason: Reason<'a>,
}

impl std::fmt::Display for Match<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Match::SignedIn => f.write_str("any signed-in user"),
            Match::User(user) => write!(f, "user {user:?} is listed in users"),
            Match::Group(group) => write!(f, "group {group:?} is listed in groups"),
            Match::EmailDomain(domain) => write!(f, "email domain {domain:?} is listed"),
        }
    }
}

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Public => f.write_str("the route is public"),
            Reason::NoIdentity => f.write_str("the route needs a signed-in user"),
            Reason::Admitted(matched) => write!(f, "{matched}"),
            Reason::NotListed => f.write_str("no listed user, group or email domain matches"),
            Reason::SecondFactorMissing(matched) => {
                write!(
                    f,
                    "{matched}, but the sign-in lacks the second factor the route requires"
                )
            }
        }
    }
}

/// Whether `client` may reach a route limited to `networks` (`None`: any address).
pub fn within_networks(networks: Option<&[Cidr]>, client: IpAddr) -> bool {
    networks.is_none_or(|networks| networks.iter().any(|cidr| cidr.contains(client)))
}

/// The part of `allowed` that admits `identity`, if any: users first, then groups, then
/// email domains (the first listed entry that matches, for the explanation).
fn listed<'a>(allowed: &'a Allowlist, identity: &Identity) -> Option<Match<'a>> {
    let user = allowed.users.iter().find(|u| **u == identity.user);
    let group = || allowed.groups.iter().find(|g| identity.groups.contains(g));
    let domain = || {
        let (_, at) = identity.email.as_deref()?.rsplit_once('@')?;
        allowed
            .email_domains
            .iter()
            .find(|d| d.eq_ignore_ascii_case(at))
    };
    user.map(|u| Match::User(u))
        .or_else(|| group().map(|g| Match::Group(g)))
        .or_else(|| domain().map(|d| Match::EmailDomain(d)))
}

/// Applies `access` to `identity`, whose sign-in stands at `factor` on the second factor
/// (`None` exactly when there is no identity).
pub fn evaluate<'a>(
    access: &'a Access,
    identity: Option<&Identity>,
    factor: Option<Factor>,
) -> Verdict<'a> {
    let verdict = |decision, reason| Verdict { decision, reason };
    let matched = match (access, identity) {
        (Access::Public, _) => return verdict(Decision::Allow, Reason::Public),
        (Access::Authenticated { .. } | Access::Listed { .. }, None) => {
            return verdict(Decision::Unauthenticated, Reason::NoIdentity);
        }
        (Access::Authenticated { .. }, Some(_)) => Match::SignedIn,
        (Access::Listed { allowed, .. }, Some(identity)) => match listed(allowed, identity) {
            Some(matched) => matched,
            None => return verdict(Decision::Forbidden, Reason::NotListed),
        },
    };
    match (access.requires_second_factor(), factor) {
        (false, _) | (true, Some(Factor::Passed)) => {
            verdict(Decision::Allow, Reason::Admitted(matched))
        }
        (true, Some(Factor::Enrolled)) => {
            verdict(Decision::StepUp, Reason::SecondFactorMissing(matched))
        }
        (true, Some(Factor::None) | None) => {
            verdict(Decision::Forbidden, Reason::SecondFactorMissing(matched))
        }
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use std::net::IpAddr;

    use super::{Access, Decision, Factor, Match, Reason, evaluate, is_safe, within_networks};
    use crate::config::{Allowlist, Cidr};
    use crate::identity::Identity;

    fn admits(access: &Access, identity: Option<&Identity>, factor: Option<Factor>) -> Decision {
        evaluate(access, identity, factor).decision
    }

    fn groups(list: &[&str], second_factor: bool) -> Access {
        Access::Listed {
            allowed: Allowlist {
                groups: list.iter().map(|g| g.to_string()).collect(),
                ..Allowlist::default()
            },
            second_factor,
        }
    }

    fn user(groups: &[&str]) -> Identity {
        Identity {
            user: "alice".to_owned(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            email: None,
        }
    }

    #[test]
    fn public_routes_admit_everyone() {
        assert_eq!(admits(&Access::Public, None, None), Decision::Allow);
        assert_eq!(
            admits(&Access::Public, Some(&user(&[])), Some(Factor::None)),
            Decision::Allow
        );
    }

    #[test]
    fn authenticated_routes_need_an_identity() {
        assert_eq!(
            admits(&Access::AUTHENTICATED, None, None),
            Decision::Unauthenticated
        );
        assert_eq!(
            admits(&Access::AUTHENTICATED, Some(&user(&[])), Some(Factor::None)),
            Decision::Allow
        );
    }

    #[test]
    fn group_routes_need_one_of_the_groups() {
        let admins = groups(&["admins", "ops"], false);
        let pwd = Some(Factor::None);
        assert_eq!(admits(&admins, None, None), Decision::Unauthenticated);
        assert_eq!(
            admits(&admins, Some(&user(&["dev"])), pwd),
            Decision::Forbidden
        );
        assert_eq!(admits(&admins, Some(&user(&[])), pwd), Decision::Forbidden);
        assert_eq!(
            admits(&admins, Some(&user(&["dev", "ops"])), pwd),
            Decision::Allow
        );
        assert_eq!(
            admits(&admins, Some(&user(&["Admins"])), pwd),
            Decision::Forbidden,
            "group names are case-sensitive"
        );
    }

    #[test]
    fn second_factor_routes_need_otp_step_up_when_enrolled_and_refuse_otherwise() {
        let admins = groups(&["admins"], true);
        let any = Access::Authenticated {
            second_factor: true,
        };
        let admin = user(&["admins"]);
        for rule in [&admins, &any] {
            assert_eq!(admits(rule, None, None), Decision::Unauthenticated);
            assert_eq!(
                admits(rule, Some(&admin), Some(Factor::Passed)),
                Decision::Allow
            );
            assert_eq!(
                admits(rule, Some(&admin), Some(Factor::Enrolled)),
                Decision::StepUp
            );
            assert_eq!(
                admits(rule, Some(&admin), Some(Factor::None)),
                Decision::Forbidden
            );
        }
        // Group membership is decided first: a second factor does not open the route.
        let dev = user(&["dev"]);
        assert_eq!(
            admits(&admins, Some(&dev), Some(Factor::Passed)),
            Decision::Forbidden
        );
        assert_eq!(
            admits(&admins, Some(&dev), Some(Factor::Enrolled)),
            Decision::Forbidden
        );
        // Routes without the rule ignore the factor.
        assert_eq!(
            admits(&Access::AUTHENTICATED, Some(&dev), Some(Factor::Enrolled)),
            Decision::Allow
        );
    }

    fn with_email(email: Option<&str>) -> Identity {
        Identity {
            email: email.map(str::to_owned),
            ..user(&["dev"])
        }
    }

    #[test]
    fn listed_rules_admit_any_matching_user_group_or_email_domain_and_say_which() {
        let rule = Access::Listed {
            allowed: Allowlist {
                users: vec!["bob".to_owned(), "alice".to_owned()],
                groups: vec!["ops".to_owned()],
                email_domains: vec!["example.com".to_owned()],
            },
            second_factor: false,
        };
        let pwd = Some(Factor::None);
        let verdict = evaluate(&rule, Some(&user(&[])), pwd);
        assert_eq!(verdict.decision, Decision::Allow);
        assert_eq!(verdict.reason, Reason::Admitted(Match::User("alice")));
        let carol = Identity {
            user: "carol".to_owned(),
            ..user(&["ops"])
        };
        assert_eq!(
            evaluate(&rule, Some(&carol), pwd).reason,
            Reason::Admitted(Match::Group("ops"))
        );
        let dave = |email| Identity {
            user: "dave".to_owned(),
            ..with_email(email)
        };
        for email in ["dave@example.com", "DAVE@Example.COM"] {
            assert_eq!(
                evaluate(&rule, Some(&dave(Some(email))), pwd).reason,
                Reason::Admitted(Match::EmailDomain("example.com")),
                "{email}"
            );
        }
        // Neither a subdomain, nor a lookalike, nor a missing or malformed email.
        for email in [
            Some("dave@dev.example.com"),
            Some("dave@example.com.evil.net"),
            Some("dave@evilexample.com"),
            Some("example.com"),
            None,
        ] {
            let verdict = evaluate(&rule, Some(&dave(email)), pwd);
            assert_eq!(verdict.decision, Decision::Forbidden, "{email:?}");
            assert_eq!(verdict.reason, Reason::NotListed, "{email:?}");
        }
        // User names are exact.
        let alice_upper = Identity {
            user: "Alice".to_owned(),
            ..user(&[])
        };
        assert_eq!(admits(&rule, Some(&alice_upper), pwd), Decision::Forbidden);
        assert_eq!(admits(&rule, None, None), Decision::Unauthenticated);
    }

    #[test]
    fn a_second_factor_applies_to_every_listed_criterion() {
        let rule = Access::Listed {
            allowed: Allowlist {
                users: vec!["alice".to_owned()],
                ..Allowlist::default()
            },
            second_factor: true,
        };
        let alice = user(&[]);
        assert_eq!(
            evaluate(&rule, Some(&alice), Some(Factor::Enrolled)),
            super::Verdict {
                decision: Decision::StepUp,
                reason: Reason::SecondFactorMissing(Match::User("alice")),
            }
        );
        assert_eq!(
            admits(&rule, Some(&alice), Some(Factor::Passed)),
            Decision::Allow
        );
        assert_eq!(
            admits(&rule, Some(&alice), Some(Factor::None)),
            Decision::Forbidden
        );
    }

    #[test]
    fn networks_admit_only_addresses_inside_them() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        let cidrs: Vec<Cidr> = ["10.0.0.0/8", "::1"]
            .iter()
            .map(|c| c.parse().expect("cidr"))
            .collect();
        assert!(within_networks(None, ip("203.0.113.9")));
        assert!(within_networks(Some(&cidrs), ip("10.1.2.3")));
        assert!(within_networks(Some(&cidrs), ip("::1")));
        assert!(within_networks(Some(&cidrs), ip("::ffff:10.0.0.1")));
        assert!(!within_networks(Some(&cidrs), ip("11.0.0.1")));
        assert!(!within_networks(Some(&cidrs), ip("::2")));
        assert!(!within_networks(Some(&[]), ip("10.0.0.1")));
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
