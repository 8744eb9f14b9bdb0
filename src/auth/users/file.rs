//! Reading a users file's text: the TOML shape, every entry validated (fail closed, each
//! error positioned at the offending value), duplicates found after NFC normalization, and
//! the dummy hash for unknown users chosen from the file's costs.

use std::collections::HashMap;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Position, UsersError};
use super::names::normalized_name;
use super::password::{HashProblem, StoredHash, dummy_hash};
use super::{SecondFactor, User, Users};
use crate::auth::second_factor::TotpSecret;
use crate::text_position::LineIndex;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<RawUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    password: Spanned<String>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
    #[serde(default)]
    email: Option<Spanned<String>>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    totp: Option<Spanned<String>>,
    #[serde(default)]
    recovery_codes: Vec<Spanned<String>>,
}

impl Users {
    /// Parses and validates a users file's text.
    ///
    /// Also picks the dummy hash used for unknown users: one with the cost most of the
    /// file's hashes have, made once per process and cost (one hash on a first load).
    ///
    /// # Errors
    ///
    /// A [`UsersError`] with the position of the first problem found.
    pub fn from_toml_str(text: &str) -> Result<Self, UsersError> {
        // One index for the whole file: each value's position is then a binary search.
        let lines = LineIndex::new(text);
        let file: UsersFile = toml::from_str(text).map_err(|e| UsersError::Syntax {
            position: e.span().map(|span| Position::of_span(&lines, span)),
            message: e.message().to_owned(),
        })?;
        let mut by_name: HashMap<String, User> = HashMap::with_capacity(file.user.len());
        let mut first_seen: HashMap<String, Position> = HashMap::with_capacity(file.user.len());
        // In file order, so that the dummy's cost does not depend on hash-map order.
        let mut costs = Vec::with_capacity(file.user.len());
        for raw in file.user {
            let (user, position) = validate_user(&lines, raw)?;
            if let Some(first) = first_seen.insert(user.name.clone(), position) {
                let name = user.name;
                return Err(UsersError::DuplicateUser {
                    position,
                    name,
                    first,
                });
            }
            costs.push(user.hash.cost().clone());
            by_name.insert(user.name.clone(), user);
        }
        let dummy = dummy_hash(&costs)?;
        Ok(Self { by_name, dummy })
    }
}

/// Refuses control characters in a value that ends up in a header.
fn printable(
    lines: &LineIndex<'_>,
    value: &Spanned<String>,
    field: &'static str,
) -> Result<(), UsersError> {
    if value.get_ref().chars().any(char::is_control) {
        return Err(UsersError::ControlCharacter {
            position: Position::of_span(lines, value.span()),
            field,
        });
    }
    Ok(())
}

/// Validates one entry; returns it with the position of its name (for duplicate reports).
fn validate_user(lines: &LineIndex<'_>, raw: RawUser) -> Result<(User, Position), UsersError> {
    let name_at = Position::of_span(lines, raw.name.span());
    if raw.name.get_ref().is_empty() {
        return Err(UsersError::EmptyUserName { position: name_at });
    }
    printable(lines, &raw.name, "name")?;
    let name = normalized_name(raw.name.get_ref()).into_owned();
    let mut groups = Vec::with_capacity(raw.groups.len());
    for group in raw.groups {
        let position = Position::of_span(lines, group.span());
        if group.get_ref().is_empty() {
            return Err(UsersError::EmptyGroup {
                position,
                user: name,
            });
        }
        if group.get_ref().contains(',') {
            let group = group.into_inner();
            return Err(UsersError::GroupHasComma { position, group });
        }
        printable(lines, &group, "group")?;
        groups.push(group.into_inner());
    }
    if let Some(email) = &raw.email {
        printable(lines, email, "email")?;
    }
    let position = Position::of_span(lines, raw.password.span());
    let hash = match StoredHash::parse(raw.password.get_ref()) {
        Ok(hash) => hash,
        Err(HashProblem::Unsupported) => {
            return Err(UsersError::UnsupportedHash {
                position,
                user: name,
            });
        }
        Err(HashProblem::Malformed(reason)) => {
            let user = name;
            return Err(UsersError::MalformedHash {
                position,
                user,
                reason,
            });
        }
    };
    let second_factor = second_factor(lines, &name, raw.totp, raw.recovery_codes)?;
    let email = raw.email.map(Spanned::into_inner);
    let user = User {
        name,
        groups,
        email,
        disabled: raw.disabled,
        hash,
        second_factor,
        name_at,
    };
    Ok((user, name_at))
}

/// A user's `totp` secret and `recovery_codes` hashes: recovery codes need a secret, the
/// secret must be base32 of 16 to 64 bytes, and each code's hash must be one we verify.
fn second_factor(
    lines: &LineIndex<'_>,
    user: &str,
    totp: Option<Spanned<String>>,
    recovery_codes: Vec<Spanned<String>>,
) -> Result<Option<SecondFactor>, UsersError> {
    let Some(totp) = totp else {
        return match recovery_codes.first() {
            None => Ok(None),
            Some(first) => Err(UsersError::RecoveryCodesWithoutTotp {
                position: Position::of_span(lines, first.span()),
                user: user.to_owned(),
            }),
        };
    };
    let secret = TotpSecret::from_base32(totp.get_ref()).map_err(|reason| {
        UsersError::InvalidTotpSecret {
            position: Position::of_span(lines, totp.span()),
            user: user.to_owned(),
            reason,
        }
    })?;
    let mut recovery = Vec::with_capacity(recovery_codes.len());
    for code in recovery_codes {
        match StoredHash::parse(code.get_ref()) {
            Ok(hash) => recovery.push((code.into_inner(), hash)),
            Err(_) => {
                return Err(UsersError::InvalidRecoveryCode {
                    position: Position::of_span(lines, code.span()),
                    user: user.to_owned(),
                });
            }
        }
    }
    Ok(Some(SecondFactor { secret, recovery }))
}
