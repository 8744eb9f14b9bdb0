//! The compact JWS syntax, checked before any signature or claim: exactly three non-empty
//! base64url segments, the header fields the verifier acts on, and a payload without
//! repeated member names (see the parent module's docs for why each matters).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::TokenError;

/// The header fields we act on; `jku`, `x5u`, `x5c`, `jwk` are deliberately not read.
#[derive(Deserialize)]
pub(crate) struct RawHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    /// Present at all (even `null` or `[]`) → true.
    #[serde(default, deserialize_with = "present")]
    pub(crate) crit: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// Refuses a payload that repeats a member name (the parent module's docs say why);
/// `Malformed`.
pub(crate) fn unique_members(token: &str) -> Result<(), TokenError> {
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice::<UniqueMembers>(&json)
        .map(|_| ())
        .map_err(|_| TokenError::Malformed)
}

/// A JSON object whose member names are all distinct (values are not looked at).
struct UniqueMembers;

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(UniqueMembers)
    }
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = UniqueMembers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object without repeated member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            if !seen.insert(name) {
                return Err(A::Error::custom("repeated member name"));
            }
        }
        Ok(UniqueMembers)
    }
}

/// Returns the header segment of a compact JWS: exactly three non-empty base64url segments.
pub(crate) fn header_segment(token: &str) -> Result<&str, TokenError> {
    let base64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if base64url(h) && base64url(p) && base64url(s) => Ok(h),
        _ => Err(TokenError::Malformed),
    }
}
