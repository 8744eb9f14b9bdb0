//! From a provider's claims to the gateway's [`Identity`]: the user from `user_claim`, the
//! groups from `groups_claim`, the e-mail, and the provider's allow-lists. Pure.
//!
//! The claims are the verified ID token's, with the userinfo endpoint's filling in what
//! the ID token lacks (never overriding it). Values that would make an unsafe header
//! (control characters, commas in a group) are refused rather than cleaned, as the token
//! verifier refuses them in the gateway's own tokens.
//!
//! - `allowed_email_domains` set: the user needs an `email` whose domain (after the last
//!   `@`, compared case-insensitively) is listed **and** `email_verified: true` — an
//!   unverified address proves nothing about who the user is.
//! - `allowed_groups` set: at least one of the user's groups is listed.
//!
//! The provider's `amr` is deliberately not carried over: the gateway's `amr` says which
//! of *its* checks the user passed, and routes that require a second factor require ours.

use serde_json::{Map, Value};

use crate::config::OidcSettings;
use crate::identity::Identity;

/// Longest user name, group or e-mail taken from a provider.
const MAX_VALUE_LEN: usize = 256;
/// Most groups taken from a provider.
const MAX_GROUPS: usize = 256;

/// Why a provider's user is not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The user claim is absent or not a string.
    #[error("the provider's token has no usable {0:?} claim")]
    NoUser(String),
    /// A value is too long or holds characters no header may carry.
    #[error("the provider's {0:?} claim has an unusable value")]
    BadValue(String),
    /// `allowed_email_domains` is set and the e-mail is missing, unverified or elsewhere.
    #[error("e-mail not verified or not in allowed_email_domains")]
    EmailNotAllowed,
    /// `allowed_groups` is set and the user is in none of them.
    #[error("not in any of allowed_groups")]
    GroupNotAllowed,
}

/// The identity `claims` describe under `settings`, when the allow-lists let it in.
///
/// # Errors
/// The [`ClaimsError`] that keeps the user out.
pub fn identity(
    settings: &OidcSettings,
    claims: &Map<String, Value>,
) -> Result<Identity, ClaimsError> {
    let user = match claims.get(&settings.user_claim) {
        Some(Value::String(user)) if !user.is_empty() => user.clone(),
        _ => return Err(ClaimsError::NoUser(settings.user_claim.clone())),
    };
    if !usable(&user) {
        return Err(ClaimsError::BadValue(settings.user_claim.clone()));
    }
    let groups = match &settings.groups_claim {
        None => Vec::new(),
        Some(claim) => groups(claims.get(claim), claim)?,
    };
    let email = match claims.get("email") {
        Some(Value::String(email)) if usable(email) => Some(email.clone()),
        Some(Value::String(_)) => return Err(ClaimsError::BadValue("email".to_owned())),
        _ => None,
    };
    if !settings.allowed_email_domains.is_empty() {
        let verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)));
        let domain = email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase());
        let listed = domain.is_some_and(|d| settings.allowed_email_domains.contains(&d));
        if !(verified && listed) {
            return Err(ClaimsError::EmailNotAllowed);
        }
    }
    if !settings.allowed_groups.is_empty()
        && !groups.iter().any(|g| settings.allowed_groups.contains(g))
    {
        return Err(ClaimsError::GroupNotAllowed);
    }
    Ok(Identity {
        user,
        groups,
        email,
    })
}

/// The claims that `identity` reads and `claims` lacks: the reason to ask userinfo.
pub fn missing(settings: &OidcSettings, claims: &Map<String, Value>) -> bool {
    let absent = |name: &str| !claims.contains_key(name);
    absent(&settings.user_claim)
        || settings.groups_claim.as_deref().is_some_and(absent)
        || (!settings.allowed_email_domains.is_empty()
            && (absent("email") || absent("email_verified")))
        || absent("email")
}

/// Fills `into` with the members of `extra` it does not have.
pub fn fill_in(into: &mut Map<String, Value>, extra: Map<String, Value>) {
    for (name, value) in extra {
        into.entry(name).or_insert(value);
    }
}

/// A groups claim: an array of strings, or one string (some providers send one group so).
fn groups(value: Option<&Value>, claim: &str) -> Result<Vec<String>, ClaimsError> {
    let bad = || ClaimsError::BadValue(claim.to_owned());
    let list: Vec<&str> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad()),
    };
    if list.len() > MAX_GROUPS
        || list
            .iter()
            .any(|g| g.is_empty() || g.contains(',') || !usable(g))
    {
        return Err(bad());
    }
    Ok(list.into_iter().map(str::to_owned).collect())
}

/// Short and printable: safe in a header and in our token.
fn usable(value: &str) -> bool {
    value.len() <= MAX_VALUE_LEN && !value.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::config::{ClientSecretSource, Located, Location};

    fn settings() -> OidcSettings {
        let at = Location {
            file: "gateway.toml".into(),
            line: 1,
            col: 1,
        };
        OidcSettings {
            name: "corp".into(),
            display_name: "Corp SSO".into(),
            issuer: Located {
                value: "https://idp.test".into(),
                at: at.clone(),
            },
            client_id: "gw".into(),
            client_secret: ClientSecretSource::File(Located {
                value: PathBuf::from("s"),
                at,
            }),
            scopes: vec!["openid".into()],
            user_claim: "preferred_username".into(),
            groups_claim: Some("groups".into()),
            allowed_email_domains: Vec::new(),
            allowed_groups: Vec::new(),
            ca_file: None,
            rp_initiated_logout: true,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("test claims are objects"),
        }
    }

    #[test]
    fn user_groups_and_email_are_mapped() {
        let identity = identity(
            &settings(),
            &claims(json!({"sub": "1", "preferred_username": "alice", "groups": ["staff", "ops"], "email": "a@example.com"})),
        )
        .expect("allowed");
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.groups, ["staff", "ops"]);
        assert_eq!(identity.email.as_deref(), Some("a@example.com"));
    }

    #[test]
    fn absent_groups_claim_is_no_groups_and_one_string_is_one_group() {
        let none = identity(&settings(), &claims(json!({"preferred_username": "a"}))).expect("ok");
        assert!(none.groups.is_empty());
        let one = identity(
            &settings(),
            &claims(json!({"preferred_username": "a", "groups": "staff"})),
        )
        .expect("ok");
        assert_eq!(one.groups, ["staff"]);
    }

    #[test]
    fn unusable_values_are_refused() {
        let cases = [
            json!({"sub": "x"}),
            json!({"preferred_username": 7}),
            json!({"preferred_username": ""}),
            json!({"preferred_username": "a\r\nX-Evil: 1"}),
            json!({"preferred_username": "a", "groups": ["a,b"]}),
            json!({"preferred_username": "a", "groups": [1]}),
            json!({"preferred_username": "a", "groups": {"x": 1}}),
            json!({"preferred_username": "a", "email": "a@b\n"}),
        ];
        for case in cases {
            assert!(
                identity(&settings(), &claims(case.clone())).is_err(),
                "{case}"
            );
        }
    }

    #[test]
    fn email_domain_needs_a_verified_address_in_the_list() {
        let mut s = settings();
        s.allowed_email_domains = vec!["example.com".into()];
        let ok =
            json!({"preferred_username": "a", "email": "a@Example.COM", "email_verified": true});
        assert!(identity(&s, &claims(ok)).is_ok());
        for refused in [
            json!({"preferred_username": "a", "email": "a@example.com", "email_verified": false}),
            json!({"preferred_username": "a", "email": "a@example.com"}),
            json!({"preferred_username": "a", "email": "a@example.com", "email_verified": "true"}),
            json!({"preferred_username": "a", "email": "a@evil.com", "email_verified": true}),
            json!({"preferred_username": "a", "email": "a@example.com.evil.com", "email_verified": true}),
            json!({"preferred_username": "a", "email_verified": true}),
        ] {
            assert_eq!(
                identity(&s, &claims(refused.clone())),
                Err(ClaimsError::EmailNotAllowed),
                "{refused}"
            );
        }
    }

    #[test]
    fn allowed_groups_need_one_listed_group() {
        let mut s = settings();
        s.allowed_groups = vec!["staff".into()];
        assert!(
            identity(
                &s,
                &claims(json!({"preferred_username": "a", "groups": ["x", "staff"]}))
            )
            .is_ok()
        );
        assert_eq!(
            identity(
                &s,
                &claims(json!({"preferred_username": "a", "groups": ["x"]}))
            ),
            Err(ClaimsError::GroupNotAllowed)
        );
        assert_eq!(
            identity(&s, &claims(json!({"preferred_username": "a"}))),
            Err(ClaimsError::GroupNotAllowed)
        );
    }

    #[test]
    fn userinfo_fills_in_without_overriding() {
        let mut from_token = claims(json!({"sub": "1", "email": "token@x"}));
        fill_in(
            &mut from_token,
            claims(json!({"sub": "2", "email": "info@x", "groups": ["g"]})),
        );
        assert_eq!(from_token["sub"], "1");
        assert_eq!(from_token["email"], "token@x");
        assert_eq!(from_token["groups"], json!(["g"]));
        assert!(!missing(
            &settings(),
            &claims(json!({"preferred_username": "a", "groups": [], "email": "e"}))
        ));
        assert!(missing(
            &settings(),
            &claims(json!({"preferred_username": "a", "email": "e"}))
        ));
    }
}
