//! A route's rule applied to one identity, pure: [`within_networks`] for the client
//! address, and [`evaluate`] for the access rule — one exhaustive match with a test per
//! cell, whose [`Verdict`] also says which part of the rule decided ([`Reason`]), for
//! `gateway explain`. [`decide`](super::decide) calls both for every request.

use std::net::IpAddr;

use crate::config::{Access, Allowlist, Cidr};
use crate::identity::Identity;

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
    use std::net::IpAddr;

    use super::{Decision, Factor, Match, Reason, Verdict, evaluate, within_networks};
    use crate::config::{Access, Allowlist, Cidr};
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
            Verdict {
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
}
