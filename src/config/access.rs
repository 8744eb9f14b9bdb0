//! A route's access rule as the config states it: `public`, `authenticated`, or a list of
//! groups. Applying it to a request is `auth::access`'s business.

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
