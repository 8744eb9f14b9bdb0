//! Why a users file was refused ([`UsersError`]), and where ([`Position`]): every error
//! about a value carries the 1-based line and column of that value.

use std::fmt;
use std::ops::Range;

use thiserror::Error;

use super::password::HashError;
use crate::auth::second_factor::TotpSecretError;
use crate::text_position::LineIndex;

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
    pub(super) fn of_span(lines: &LineIndex<'_>, span: Range<usize>) -> Self {
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
    /// A `totp` value that is not a usable secret.
    #[error("{position}: totp secret of user {user:?} {reason}")]
    InvalidTotpSecret {
        /// The totp value.
        position: Position,
        /// The user it belongs to.
        user: String,
        /// What is wrong with it.
        reason: TotpSecretError,
    },
    /// `recovery_codes` for a user without a `totp` secret.
    #[error("{position}: recovery_codes of user {user:?} need a totp secret")]
    RecoveryCodesWithoutTotp {
        /// The first recovery code.
        position: Position,
        /// The user they belong to.
        user: String,
    },
    /// A recovery code entry that is not an accepted hash.
    #[error(
        "{position}: recovery code of user {user:?} is not an accepted hash \
         (make codes with `gateway totp enroll`)"
    )]
    InvalidRecoveryCode {
        /// The entry.
        position: Position,
        /// The user it belongs to.
        user: String,
    },
    /// An htpasswd line that is not `name:hash`.
    #[error("{position}: expected name:hash (an htpasswd line)")]
    HtpasswdLine {
        /// The line.
        position: Position,
    },
    /// An htpasswd hash that is not bcrypt or argon2.
    #[error(
        "{position}: password of user {user:?} is not a bcrypt or argon2 hash; MD5 ($apr1$), \
         SHA-1 ({{SHA}}), crypt and plain text are refused: set it again with `htpasswd -B`"
    )]
    UnsupportedHtpasswdHash {
        /// The hash.
        position: Position,
        /// The user it belongs to.
        user: String,
    },
    /// A user of the htpasswd file who is also in the users file.
    #[error(
        "{position}: user {name:?} is also in the users file (at {first}); a name may be in \
         only one of the two"
    )]
    AlsoInUsersFile {
        /// The name in the htpasswd file.
        position: Position,
        /// The name.
        name: String,
        /// Where the users file has it.
        first: Position,
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
            | Self::MalformedHash { position, .. }
            | Self::InvalidTotpSecret { position, .. }
            | Self::RecoveryCodesWithoutTotp { position, .. }
            | Self::InvalidRecoveryCode { position, .. }
            | Self::HtpasswdLine { position }
            | Self::UnsupportedHtpasswdHash { position, .. }
            | Self::AlsoInUsersFile { position, .. } => Some(*position),
            Self::Hash(_) => None,
        }
    }
}
