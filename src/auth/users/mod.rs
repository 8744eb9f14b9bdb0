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
//! totp = "JBSWY3DPEHPK3PXP…"     # optional: base32 TOTP secret (`gateway totp enroll`)
//! recovery_codes = ["$argon2id$…"] # optional, with totp: hashes of single-use codes
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
//! | module | concept |
//! |---|---|
//! | `file` | [`Users::from_toml_str`]: the file's shape, each entry validated and positioned |
//! | `htpasswd` | [`Users::from_htpasswd_str`]: an Apache htpasswd file's users (bcrypt, argon2) |
//! | [`edit`] | one user's entry edited in place (comments kept), the result validated |
//! | `names` | the NFC form of names, and when two names look alike |
//! | `error` | [`UsersError`] and its position |
//! | [`password`] | hash formats: parsing, verifying, making new ones |
//! | `pool` | [`PasswordChecker`]: the bounded, fair pool of hash workers |
//!
//! Not here: hash formats and hashing (`password/`), the hash workers (`pool/`), throttling
//! (`auth/state/`), the login endpoints (`request/portal/login.rs`), reading the file from
//! disk (the config loader does it, so relative paths and reload stay in one place).

use std::collections::HashMap;
use std::fmt;

use error::Position;
use names::lookalike_key;
use password::memory::HashMemory;
use password::{CredentialsError, MAX_PASSWORD_BYTES, StoredHash};

use crate::auth::second_factor::{TotpSecret, normalized_recovery_code};

pub mod edit;
mod error;
mod file;
mod htpasswd;
mod names;
pub mod password;
mod pool;

pub use error::UsersError;
pub use names::normalized_name;
pub use pool::PasswordChecker;

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
    /// The TOTP secret and recovery code hashes, when the user is enrolled.
    second_factor: Option<SecondFactor>,
    /// Where the name is written in the file.
    name_at: Position,
}

/// A user's second factor: the TOTP secret and the hashes of their recovery codes (each
/// with its text as written, which names it in the store of spent codes).
#[derive(Clone)]
pub(crate) struct SecondFactor {
    pub(crate) secret: TotpSecret,
    recovery: Vec<(String, StoredHash)>,
}

impl User {
    /// Whether the user has a second factor enrolled.
    pub fn has_second_factor(&self) -> bool {
        self.second_factor.is_some()
    }

    /// The user's TOTP secret, when enrolled.
    pub fn totp_secret(&self) -> Option<&TotpSecret> {
        self.second_factor.as_ref().map(|f| &f.secret)
    }
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
            .field(
                "second_factor",
                &self.second_factor.as_ref().map(|_| "<redacted>"),
            )
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

impl Users {
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

    /// Whether some user has a second factor (the file then holds TOTP secrets).
    pub fn any_second_factor(&self) -> bool {
        self.by_name.values().any(User::has_second_factor)
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

impl Users {
    /// Checks a recovery code of `name`: returns the stored hash text of the code it
    /// matches (the name under which the state store marks it spent), or `None`. Every one
    /// of the user's hashes runs, whichever matches, so the time says nothing about which.
    ///
    /// CPU-heavy (a password hash per code): call it through [`PasswordChecker`].
    ///
    /// # Errors
    /// A [`CredentialsError`] when a hash could not run.
    pub(crate) fn verify_recovery_code_in(
        &self,
        memory: &mut HashMemory,
        name: &str,
        code: &str,
    ) -> Result<Option<String>, CredentialsError> {
        let Some(code) = normalized_recovery_code(code) else {
            return Ok(None);
        };
        let Some(factor) = self.get(name).and_then(|u| u.second_factor.as_ref()) else {
            return Ok(None);
        };
        let mut found = None;
        for (text, hash) in &factor.recovery {
            if hash.verify(&code, memory)? && found.is_none() {
                found = Some(text.clone());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
