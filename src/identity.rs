//! Who a request is: the user, their groups and e-mail, as a verified token (or, later, an
//! identity provider) vouches for them.
//!
//! A leaf on purpose: the access rules, the identity headers for the upstream, the `me`
//! endpoint and the access log all need *who*, and none of them needs to know how the
//! identity was proven. Verification lives in `auth::token`.

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name.
    pub user: String,
    /// Groups (empty when there are none).
    pub groups: Vec<String>,
    /// E-mail, if known.
    pub email: Option<String>,
}
