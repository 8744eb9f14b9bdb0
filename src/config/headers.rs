//! The identity headers: the names under which the gateway tells an upstream who the user
//! is (`[auth.headers]`). A name HTTP itself gives a meaning (`Host`, `Cookie`, …) is
//! refused. Stripping and injecting them is `crate::upstream`'s business.

use http::HeaderName;
use serde::Deserialize;
use toml::Spanned;

use super::location::Problems;

/// The identity header names.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// User name header.
    pub user: HeaderName,
    /// Comma-joined groups header.
    pub groups: HeaderName,
    /// Email header.
    pub email: HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            user: HeaderName::from_static("x-forwarded-user"),
            groups: HeaderName::from_static("x-forwarded-groups"),
            email: HeaderName::from_static("x-forwarded-email"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeaders {
    user: Option<Spanned<String>>,
    groups: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
}

pub(super) fn validate_headers(raw: RawHeaders, problems: &mut Problems<'_>) -> IdentityHeaders {
    let defaults = IdentityHeaders::default();
    let mut name = |value: Option<Spanned<String>>, default: HeaderName| match value {
        None => default,
        Some(v) => match HeaderName::from_bytes(v.get_ref().as_bytes()) {
            Ok(n) if !is_reserved_header(&n) => n,
            _ => {
                problems.add(
                    v.span().start,
                    format!("invalid identity header name {:?}", v.get_ref()),
                );
                default
            }
        },
    };
    IdentityHeaders {
        user: name(raw.user, defaults.user),
        groups: name(raw.groups, defaults.groups),
        email: name(raw.email, defaults.email),
    }
}

/// Header names that mean something to HTTP itself and cannot carry an identity.
fn is_reserved_header(name: &HeaderName) -> bool {
    use http::header::{
        AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, HOST, TE, TRAILER, TRANSFER_ENCODING,
        UPGRADE,
    };
    [
        AUTHORIZATION,
        CONNECTION,
        CONTENT_LENGTH,
        COOKIE,
        HOST,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ]
    .contains(name)
}
