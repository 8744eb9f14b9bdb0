//! The users file (`users.toml`): who may log in, and the groups and email their tokens
//! carry.
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! password = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! groups = ["admins"]
//! email = "alice@example.com"   # optional
//! disabled = false              # optional
//! ```
//!
//! [`Users::from_toml_str`] parses and validates the whole file up front (fail closed):
//! unknown keys, duplicate or empty names, group names that are empty or contain `,` (groups
//! are joined with `,` into `X-Forwarded-Groups`), control characters in any value that ends
//! up in a header, and passwords that are not a hash we can verify are all errors carrying a
//! 1-based `line:column` that points at the offending value. Which hashes are accepted, and
//! why, is the business of the [`password`] module, which parses each one
//! once, at load; this module only positions its verdict.
//!
//! # Names
//!
//! A name is Unicode text, and the same text can be written with different code points:
//! `é` is one (U+00E9) or `e` and a combining accent (U+0065 U+0301), depending on the
//! keyboard, the OS or the editor that wrote the file. Names are therefore NFC-normalized
//! ([`normalized_name`]) when the file is loaded and in every lookup, so a user signs in
//! however their system writes the name, and two entries equal after NFC are duplicates.
//! Tokens carry the NFC form. Names that differ only in case or by compatibility forms
//! (`Admin`/`admin`, fullwidth `ａｄｍｉｎ`, the ligature `ﬁ`) stay distinct users, but look
//! alike to a person: [`Users::lookalikes`] lists them for `gateway check`.
//!
//! # Verification invariants
//!
//! - [`Users::verify_password`] has one code path: it always verifies the password against
//!   *some* hash — the user's, or, for an unknown user, a dummy hash with the algorithm and
//!   parameters most of the file's hashes have (argon2id for `gateway hash-password` users,
//!   bcrypt for an `htpasswd -B` import) — and only then decides. An unknown user, a disabled
//!   user and a wrong password therefore cost the same hashing work (exactly so for users
//!   whose hash has the file's most common cost; a file mixing costs gives the minority a
//!   timing of their own).
//! - A password longer than [`MAX_PASSWORD_BYTES`] is refused before any hashing, so a huge
//!   password costs no CPU. That early answer depends only on the password's length, which the
//!   client already knows: it says nothing about whether the user exists.
//! - A password longer than bcrypt's 72 bytes, for a user with a bcrypt hash, is refused
//!   after the hash has run (a warning is logged, naming the user, never the password).
//! - [`Users::verify_password`] is CPU-heavy and blocking: the request path calls it through
//!   [`PasswordChecker`], which runs it on a hash worker
//!   thread with bounded concurrency.
//!
//! Not here: hash formats and hashing (`password/`), the hash workers (`pool/`), throttling
//! (`auth/state/`), the login endpoints (`request/portal/login.rs`), reading the file from disk (the config
//! loader does it, so relative paths and reload stay in one place).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::text_position::LineIndex;
use password::memory::HashMemory;
use password::{
    CredentialsError, HashError, HashProblem, MAX_PASSWORD_BYTES, StoredHash, dummy_hash,
};

pub mod password;
mod pool;

pub use pool::PasswordChecker;

/// A 1-based line and column (in characters) inside the users file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Position {
    /// The position of the value at `span` in the indexed text.
    fn of_span(lines: &LineIndex<'_>, span: Range<usize>) -> Self {
        let (line, column) = lines.line_column(span.start);
        Self { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why the users file was refused, or why a password could not be hashed.
///
/// Messages never include a password hash.
#[derive(Debug, Error)]
pub enum UsersError {
    /// The file is not valid TOML, or does not have the users file's shape (unknown key,
    /// wrong type, missing field). `message` is toml's one-line description; its multi-line
    /// rendering with a source excerpt is not kept, since `gateway check` prints
    /// `file:line:col: message`.
    #[error("{}: {message}", position.map_or_else(|| "?:?".to_owned(), |p| p.to_string()))]
    Syntax {
        /// Where toml found the problem, when it knows.
        position: Option<Position>,
        /// toml's message.
        message: String,
    },
    /// Two `[[user]]` entries have the same name (after NFC normalization).
    #[error("{position}: duplicate user {name:?} (first defined at {first})")]
    DuplicateUser {
        /// The second definition's name value.
        position: Position,
        /// The repeated name.
        name: String,
        /// The first definition's name value.
        first: Position,
    },
    /// A user's `name` is empty.
    #[error("{position}: user name is empty")]
    EmptyUserName {
        /// The name value.
        position: Position,
    },
    /// A group name is empty.
    #[error("{position}: empty group name for user {user:?}")]
    EmptyGroup {
        /// The group value.
        position: Position,
        /// The user it belongs to.
        user: String,
    },
    /// A group name contains `,`, the separator of `X-Forwarded-Groups`.
    #[error("{position}: group {group:?} contains ','")]
    GroupHasComma {
        /// The group value.
        position: Position,
        /// The group name.
        group: String,
    },
    /// A name, group or email contains a control character (it would end up in a header).
    #[error("{position}: {field} contains a control character")]
    ControlCharacter {
        /// The offending value.
        position: Position,
        /// `"name"`, `"group"` or `"email"`.
        field: &'static str,
    },
    /// The password is neither a PHC argon2id/argon2i string nor a bcrypt `$2b$`/`$2y$`/`$2a$`
    /// hash (a plain-text password lands here too).
    #[error(
        "{position}: password of user {user:?} is not an accepted hash \
         ($argon2id$, $argon2i$, $2b$, $2y$ or $2a$; make one with `gateway hash-password`)"
    )]
    UnsupportedHash {
        /// The password value.
        position: Position,
        /// The user it belongs to.
        user: String,
    },
    /// The password looks like an accepted hash but is malformed or out of bounds.
    #[error("{position}: password hash of user {user:?} is invalid: {reason}")]
    MalformedHash {
        /// The password value.
        position: Position,
        /// The user it belongs to.
        user: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The dummy hash for unknown users could not be made.
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl UsersError {
    /// Where in the users file the problem is, for `file:line:col` messages.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Syntax { position, .. } => *position,
            Self::DuplicateUser { position, .. }
            | Self::EmptyUserName { position }
            | Self::EmptyGroup { position, .. }
            | Self::GroupHasComma { position, .. }
            | Self::ControlCharacter { position, .. }
            | Self::UnsupportedHash { position, .. }
            | Self::MalformedHash { position, .. } => Some(*position),
            Self::Hash(_) => None,
        }
    }
}

/// One user of the users file. The password hash is private and redacted from `Debug`.
#[derive(Clone)]
pub struct User {
    /// Login name, NFC-normalized; unique, non-empty.
    pub name: String,
    /// Group names; none empty, none containing `,`.
    pub groups: Vec<String>,
    /// Optional email address.
    pub email: Option<String>,
    /// A disabled user cannot log in, and (with `require_known_user`) its tokens are refused.
    pub disabled: bool,
    hash: StoredHash,
    /// Where the name is written in the file.
    name_at: Position,
}

/// Two users whose names differ only in case or Unicode compatibility forms (see
/// [`Users::lookalikes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookalike {
    /// The name written first in the file, and where.
    pub first: (String, Position),
    /// The name written later, and where.
    pub second: (String, Position),
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field("hash", &self.hash)
            .field("name_at", &self.name_at)
            .finish()
    }
}

/// The loaded users file.
#[derive(Debug)]
pub struct Users {
    by_name: HashMap<String, User>,
    /// Verified instead of a user's hash when the user is unknown, so that an unknown user
    /// costs the same as a known one.
    dummy: StoredHash,
}

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

    /// The user named `name` (in any Unicode normalization form), disabled or not.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.by_name.get(normalized_name(name).as_ref())
    }

    /// Pairs of users whose names are equal after case folding and NFKC but are not the
    /// same name (e.g. `Admin` and `admin`, or `ａｄｍｉｎ` and `admin`): distinct users to the
    /// gateway, easy to mistake for each other to a person reading a log or a token. In
    /// file order, each later name paired with the first one it looks like.
    pub fn lookalikes(&self) -> Vec<Lookalike> {
        let mut users: Vec<&User> = self.by_name.values().collect();
        users.sort_by_key(|u| (u.name_at.line, u.name_at.column));
        let mut seen: HashMap<String, &User> = HashMap::with_capacity(users.len());
        let mut found = Vec::new();
        for user in users {
            match seen.get(&lookalike_key(&user.name)) {
                Some(first) => found.push(Lookalike {
                    first: (first.name.clone(), first.name_at),
                    second: (user.name.clone(), user.name_at),
                }),
                None => {
                    seen.insert(lookalike_key(&user.name), user);
                }
            }
        }
        found
    }

    /// Number of users in the file.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when the file has no users.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Checks a login: returns the user when it exists, is not disabled and `password`
    /// matches its hash.
    ///
    /// CPU-heavy (one password hash, with its own argon2 memory): call it through
    /// [`PasswordChecker`] on the request path.
    ///
    /// # Errors
    ///
    /// A [`CredentialsError`]: a rejection (see [`CredentialsError::is_rejection`]) or a
    /// failure to run the hash.
    pub fn verify_password(&self, name: &str, password: &str) -> Result<&User, CredentialsError> {
        self.verify_password_in(&mut HashMemory::new(), name, password)
    }

    /// [`Users::verify_password`] with argon2 working in `memory` (a hash worker's, reused
    /// from one check to the next).
    pub(crate) fn verify_password_in(
        &self,
        memory: &mut HashMemory,
        name: &str,
        password: &str,
    ) -> Result<&User, CredentialsError> {
        // Length only: answered before the user is even looked up.
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CredentialsError::PasswordTooLong);
        }
        let user = self.get(name);
        // The one code path: always verify against some hash, then decide.
        let hash = user.map_or(&self.dummy, |u| &u.hash);
        let matches = hash.verify(password, memory)?;
        match user {
            None => Err(CredentialsError::UnknownUser),
            Some(u) if u.disabled => Err(CredentialsError::UserDisabled),
            Some(u) if u.hash.truncates(password) => {
                tracing::warn!(
                    user = %u.name,
                    "login refused: the password is longer than the 72 bytes a bcrypt hash \
                     compares (rehash the user with gateway hash-password to allow it)"
                );
                Err(CredentialsError::PasswordTooLongForBcrypt)
            }
            Some(_) if !matches => Err(CredentialsError::WrongPassword),
            Some(u) => Ok(u),
        }
    }
}

/// `name` in Unicode Normalization Form C, the form names are stored and looked up in;
/// borrowed when it already is (the usual case, checked without allocating).
///
/// The login throttle keys a username by this form too, so that writing a name another way
/// does not buy a fresh budget of attempts.
pub fn normalized_name(name: &str) -> Cow<'_, str> {
    match is_nfc_quick(name.chars()) {
        IsNormalized::Yes => Cow::Borrowed(name),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(name.nfc().collect()),
    }
}

/// What two names that look alike have in common: full case folding (upper case, then
/// lower case: `ß` → `SS` → `ss`, which `to_lowercase` alone misses) between NFKC
/// normalizations (fullwidth letters, ligatures, superscripts → their plain forms).
fn lookalike_key(name: &str) -> String {
    let compatible: String = name.nfkc().collect();
    let folded = compatible.to_uppercase().to_lowercase();
    folded.nfkc().collect()
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
    let email = raw.email.map(Spanned::into_inner);
    let user = User {
        name,
        groups,
        email,
        disabled: raw.disabled,
        hash,
        name_at,
    };
    Ok((user, name_at))
}

#[cfg(test)]
mod tests;
