//! A route's access rule as the config states it: `public`, `authenticated`, or a list of
//! who may pass — `{ users = […], groups = […], email_domains = […] }`, any one matching is
//! enough — either of the last two optionally with `second_factor = true` (the token's
//! sign-in must have passed a second factor). Applying it to a request is `auth::access`'s
//! business.
//!
//! The rule is parsed in `Deserialize`, so every misuse (an unknown key, an empty list, an
//! empty name, a group with `,`, an email domain written with `@`) is a config error at the
//! value's position.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

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
    /// A valid token whose identity is on the allowlist.
    Listed {
        /// Who is admitted.
        allowed: Allowlist,
        /// The token's `amr` must hold `otp` (step-up otherwise).
        second_factor: bool,
    },
}

/// Who a [`Access::Listed`] rule admits: a user named in `users`, a member of one of
/// `groups`, or a user whose email is at one of `email_domains`. Empty lists stand for a
/// key that was not written; at least one list has entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// User names, exactly as the token names them.
    pub users: Vec<String>,
    /// Group names (case-sensitive).
    pub groups: Vec<String>,
    /// Email domains, lower-cased; `example.com` admits `bob@example.com` (any case), not
    /// `bob@dev.example.com`.
    pub email_domains: Vec<String>,
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
            Access::Authenticated { second_factor } | Access::Listed { second_factor, .. } => {
                *second_factor
            }
        }
    }
}

impl fmt::Display for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("users", &self.users),
            ("groups", &self.groups),
            ("email domains", &self.email_domains),
        ];
        let written: Vec<String> = parts
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(name, list)| format!("{name} {}", list.join(", ")))
            .collect();
        f.write_str(&written.join("; "))
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::Authenticated { .. } => f.write_str("authenticated"),
            Access::Listed { allowed, .. } => write!(f, "{allowed}"),
        }?;
        if self.requires_second_factor() {
            f.write_str(" + second factor")?;
        }
        Ok(())
    }
}

/// The keys of the table form.
const KEYS: &[&str] = &["users", "groups", "email_domains", "second_factor"];

/// `list`, checked to be a non-empty list of non-empty names that pass `valid` (which says
/// what is wrong otherwise).
fn names<E: de::Error>(
    key: &str,
    list: Vec<String>,
    valid: impl Fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, E> {
    if list.is_empty() {
        return Err(E::custom(format!(
            "access {key} is empty; list at least one or leave the key out"
        )));
    }
    for name in &list {
        if name.trim().is_empty() || name.trim() != name {
            return Err(E::custom(format!(
                "access {key} has {name:?}: names are non-empty, without surrounding spaces"
            )));
        }
        valid(name).map_err(E::custom)?;
    }
    Ok(list)
}

/// An email domain as written (`example.com`), lower-cased, or what is wrong with it.
fn email_domain(text: &str) -> Result<(), String> {
    if text.contains('@') {
        return Err(format!(
            "access email_domains has {text:?}: write the domain alone, without '@' (\"{}\")",
            text.rsplit('@').next().unwrap_or_default()
        ));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !text.split('.').all(label_ok) {
        return Err(format!(
            "access email_domains has {text:?}: not a domain name (e.g. \"example.com\")"
        ));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Access {
    /// `"public" | "authenticated" | { users, groups, email_domains, second_factor }` (any
    /// of the keys may be alone; `second_factor` alone means any signed-in user).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AccessVisitor;
        impl<'de> Visitor<'de> for AccessVisitor {
            type Value = Access;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"public\", \"authenticated\", or { users, groups, email_domains, second_factor }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Access, E> {
                match v {
                    "public" => Ok(Access::Public),
                    "authenticated" => Ok(Access::AUTHENTICATED),
                    other => Err(E::custom(format!(
                        "invalid access {other:?}: expected \"public\", \"authenticated\" or {{ groups = [\"…\"] }} (also users, email_domains)"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Access, A::Error> {
                let mut allowed = Allowlist::default();
                let mut listed = false;
                let mut second_factor = false;
                let mut seen: Vec<String> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if seen.contains(&key) {
                        return Err(de::Error::duplicate_field(
                            KEYS.iter().find(|k| **k == key).copied().unwrap_or("key"),
                        ));
                    }
                    match key.as_str() {
                        "users" => allowed.users = names("users", map.next_value()?, |_| Ok(()))?,
                        "groups" => {
                            allowed.groups = names("groups", map.next_value()?, |g| {
                                if g.contains(',') {
                                    Err(format!(
                                        "access groups has {g:?}: group names cannot contain ','"
                                    ))
                                } else {
                                    Ok(())
                                }
                            })?;
                        }
                        "email_domains" => {
                            let domains: Vec<String> = map.next_value()?;
                            allowed.email_domains = names("email_domains", domains, email_domain)?
                                .into_iter()
                                .map(|d| d.to_ascii_lowercase())
                                .collect();
                        }
                        "second_factor" => second_factor = map.next_value()?,
                        other => return Err(de::Error::unknown_field(other, KEYS)),
                    }
                    listed |= key != "second_factor";
                    seen.push(key);
                }
                match (listed, seen.is_empty()) {
                    (true, _) => Ok(Access::Listed {
                        allowed,
                        second_factor,
                    }),
                    (false, false) => Ok(Access::Authenticated { second_factor }),
                    (false, true) => Err(de::Error::custom(
                        "access = {} admits nobody: list users, groups or email_domains, or write \"authenticated\"",
                    )),
                }
            }
        }
        deserializer.deserialize_any(AccessVisitor)
    }
}

#[cfg(test)]
mod tests;
