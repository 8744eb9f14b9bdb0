//! A route's access rule as the config states it: `public`, `authenticated`, or a list of
//! groups, either of the last two optionally with `second_factor = true` (the token's sign-in
//! must have passed a second factor). Applying it to a request is `auth::access`'s business.

/// A route's access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no credentials are checked.
    Public,
    /// Any valid token of a known, enabled user.
    Authenticated {
        /// The token's `amr` must hold `otp` (step-up otherwise).
        second_factor: bool,
    },
    /// A valid token whose user is in at least one of these groups.
    Groups {
        /// The groups admitted.
        groups: Vec<String>,
        /// The token's `amr` must hold `otp` (step-up otherwise).
        second_factor: bool,
    },
}

impl Access {
    /// `"authenticated"`: any signed-in user, no second factor required.
    pub const AUTHENTICATED: Access = Access::Authenticated {
        second_factor: false,
    };

    /// Whether the rule asks for a second factor.
    pub fn requires_second_factor(&self) -> bool {
        match self {
            Access::Public => false,
            Access::Authenticated { second_factor } | Access::Groups { second_factor, .. } => {
                *second_factor
            }
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::Authenticated { .. } => f.write_str("authenticated"),
            Access::Groups { groups, .. } => write!(f, "groups {}", groups.join(", ")),
        }?;
        if self.requires_second_factor() {
            f.write_str(" + second factor")?;
        }
        Ok(())
    }
}
