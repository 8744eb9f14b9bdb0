//! Who may pass a route: the route's [`Access`] rule applied to the request's identity.
//!
//! Pure and tiny on purpose: the decision is the security boundary, so it is one exhaustive
//! match with a test per cell of the table. Authentication (is the token valid?) happens
//! before; this only answers "given this identity, or none, may the request pass?".

use crate::auth::jwt::VerifiedToken;

/// A route's access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no credentials are checked.
    Public,
    /// Any valid token of a known, enabled user.
    Authenticated,
    /// A valid token whose user is in at least one of these groups.
    Groups(Vec<String>),
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::Authenticated => f.write_str("authenticated"),
            Access::Groups(groups) => write!(f, "groups {}", groups.join(", ")),
        }
    }
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Forward it.
    Allow,
    /// No identity where one is required: 401 (or a redirect to the login page).
    Unauthenticated,
    /// An identity that the rule does not admit: 403.
    Forbidden,
}

/// Applies `access` to `identity`.
pub fn decide(access: &Access, identity: Option<&VerifiedToken>) -> Decision {
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
    use std::time::SystemTime;

    use super::{Access, Decision, decide};
    use crate::auth::jwt::VerifiedToken;

    fn user(groups: &[&str]) -> VerifiedToken {
        VerifiedToken {
            user: "alice".to_owned(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            email: None,
            jti: None,
            session: None,
            exp: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn public_routes_admit_everyone() {
        assert_eq!(decide(&Access::Public, None), Decision::Allow);
        assert_eq!(decide(&Access::Public, Some(&user(&[]))), Decision::Allow);
    }

    #[test]
    fn authenticated_routes_need_an_identity() {
        assert_eq!(
            decide(&Access::Authenticated, None),
            Decision::Unauthenticated
        );
        assert_eq!(
            decide(&Access::Authenticated, Some(&user(&[]))),
            Decision::Allow
        );
    }

    #[test]
    fn group_routes_need_one_of_the_groups() {
        let admins = Access::Groups(vec!["admins".to_owned(), "ops".to_owned()]);
        assert_eq!(decide(&admins, None), Decision::Unauthenticated);
        assert_eq!(decide(&admins, Some(&user(&["dev"]))), Decision::Forbidden);
        assert_eq!(decide(&admins, Some(&user(&[]))), Decision::Forbidden);
        assert_eq!(
            decide(&admins, Some(&user(&["dev", "ops"]))),
            Decision::Allow
        );
        assert_eq!(
            decide(&admins, Some(&user(&["Admins"]))),
            Decision::Forbidden,
            "group names are case-sensitive"
        );
    }
}
