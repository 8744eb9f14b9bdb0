//! The users file (`users.toml`) and password verification.
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
//! 1-based `line:column` that points at the offending value.
//!
//! # Accepted hashes
//!
//! - PHC `$argon2id$…` (what `gateway hash-password` writes) and `$argon2i$…`, versions 16 and
//!   19. `$argon2d$` is refused: its memory access depends on the password, a side channel
//!   that has no place in an online login. Memory cost is capped at
//!   [`MAX_ARGON2_MEMORY_KIB`] so one login cannot exhaust the machine's memory.
//! - bcrypt `$2b$`, `$2y$` (htpasswd) and `$2a$`, cost 4 to 17 (htpasswd's range). `$2x$`
//!   (the marker for the old crypt_blowfish sign-extension bug) is refused. bcrypt only looks
//!   at the first 72 bytes of a password: two passwords that share those bytes both match.
//!
//! Each hash is parsed once, at load, into a typed `StoredHash`; a login only runs the hash.
//!
//! # Verification invariants
//!
//! - [`Users::verify_password`] has one code path: it always verifies the password against
//!   *some* hash — the user's, or, for an unknown user, a dummy argon2id hash made at load with
//!   the default hasher's parameters — and only then decides. An unknown user, a disabled user
//!   and a wrong password therefore cost the same hashing work (exactly so for users whose
//!   hash has the default parameters; a bcrypt or differently tuned hash takes its own time).
//! - A password longer than [`MAX_PASSWORD_BYTES`] is refused before any hashing, so a huge
//!   password costs no CPU. That early answer depends only on the password's length, which the
//!   client already knows: it says nothing about whether the user exists.
//! - Hashing is CPU-heavy: the request path uses [`PasswordChecker`], which runs checks on
//!   tokio's blocking pool with bounded concurrency, so a login burst cannot stall proxying.
//!
//! Not here: throttling (`store.rs`), the login endpoints (`login.rs`), reading the file from
//! disk (the config loader does it, so relative paths and reload stay in one place).

use std::collections::HashMap;
use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::Error as Argon2Error;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};
use serde::Deserialize;
use thiserror::Error;
use tokio::sync::{AcquireError, Semaphore};
use tokio::task::JoinError;
use toml::Spanned;

/// Longest password, in bytes, that is ever hashed; longer ones are refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Largest argon2 memory cost (KiB) accepted in the users file: 256 MiB per login in flight.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// bcrypt costs accepted in the users file (`htpasswd -C` allows the same range).
const BCRYPT_COSTS: RangeInclusive<u32> = 4..=17;

/// bcrypt prefixes we accept; `$2x$` is deliberately absent.
const BCRYPT_PREFIXES: [&str; 3] = ["$2b$", "$2y$", "$2a$"];

/// A 1-based line and column (in characters) inside the users file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`; offsets past the end point at the end.
    fn at(text: &str, offset: usize) -> Self {
        let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        // Count characters, not bytes: skip UTF-8 continuation bytes.
        let column = 1 + before
            .get(line_start..)
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        Self { line, column }
    }

    fn of_span(text: &str, span: Range<usize>) -> Self {
        Self::at(text, span.start)
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
    /// Two `[[user]]` entries have the same name.
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
    /// `hash_password` was given an empty password.
    #[error("password is empty")]
    EmptyPassword,
    /// `hash_password` was given a password longer than [`MAX_PASSWORD_BYTES`].
    #[error("password is longer than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    /// argon2 failed to hash (e.g. the system RNG failed).
    #[error("argon2 hashing failed")]
    HashingFailed(#[source] Argon2Error),
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
            Self::EmptyPassword | Self::PasswordTooLong | Self::HashingFailed(_) => None,
        }
    }
}

/// Why a login was refused, or why the check could not run.
///
/// The reason is for the log (at debug); clients get one generic answer.
/// [`CredentialsError::is_rejection`] tells a 401 from a 500.
#[derive(Debug, Error)]
pub enum CredentialsError {
    /// The password is longer than [`MAX_PASSWORD_BYTES`]; nothing was hashed.
    #[error("password is longer than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    /// No such user (the dummy hash was verified all the same).
    #[error("unknown user")]
    UnknownUser,
    /// The user is disabled (its hash was verified all the same).
    #[error("user is disabled")]
    UserDisabled,
    /// The password does not match.
    #[error("wrong password")]
    WrongPassword,
    /// argon2 could not run the check (e.g. out of memory).
    #[error("argon2 verification failed")]
    Argon2Failed(#[source] Argon2Error),
    /// bcrypt could not run the check.
    #[error("bcrypt verification failed")]
    BcryptFailed(#[source] bcrypt::BcryptError),
    /// The blocking task running the check panicked or was cancelled.
    #[error("password check task failed")]
    CheckTaskFailed(#[source] JoinError),
    /// The checker's semaphore was closed.
    #[error("password checker is closed")]
    CheckerClosed(#[source] AcquireError),
}

impl CredentialsError {
    /// True when the client's credentials were refused (401); false for internal failures (500).
    pub fn is_rejection(&self) -> bool {
        match self {
            Self::PasswordTooLong
            | Self::UnknownUser
            | Self::UserDisabled
            | Self::WrongPassword => true,
            Self::Argon2Failed(_)
            | Self::BcryptFailed(_)
            | Self::CheckTaskFailed(_)
            | Self::CheckerClosed(_) => false,
        }
    }
}

/// A password hash, parsed and validated once at load.
#[derive(Clone)]
enum StoredHash {
    /// A PHC argon2id or argon2i hash; verification uses the parameters it carries.
    Argon2(Box<PasswordHash>),
    /// A bcrypt hash string, already checked by `bcrypt::HashParts` and for its cost.
    Bcrypt(String),
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Argon2(_) => f.write_str("Argon2(<redacted>)"),
            Self::Bcrypt(_) => f.write_str("Bcrypt(<redacted>)"),
        }
    }
}

/// Why a password value is not a usable hash (mapped to a positioned [`UsersError`]).
enum HashProblem {
    Unsupported,
    Malformed(&'static str),
}

impl StoredHash {
    fn parse(value: &str) -> Result<Self, HashProblem> {
        if value.starts_with("$argon2") {
            Self::parse_argon2(value)
        } else if BCRYPT_PREFIXES.iter().any(|p| value.starts_with(p)) {
            Self::parse_bcrypt(value)
        } else {
            Err(HashProblem::Unsupported)
        }
    }

    fn parse_argon2(value: &str) -> Result<Self, HashProblem> {
        let hash = PasswordHash::new(value)
            .map_err(|_| HashProblem::Malformed("not a valid PHC string"))?;
        match Algorithm::try_from(hash.algorithm.as_str()) {
            Ok(Algorithm::Argon2id | Algorithm::Argon2i) => {}
            Ok(Algorithm::Argon2d) | Err(_) => return Err(HashProblem::Unsupported),
        }
        if let Some(version) = hash.version {
            argon2::Version::try_from(version)
                .map_err(|_| HashProblem::Malformed("unknown argon2 version"))?;
        }
        let params = Params::try_from(&hash)
            .map_err(|_| HashProblem::Malformed("invalid argon2 parameters"))?;
        if params.m_cost() > MAX_ARGON2_MEMORY_KIB {
            return Err(HashProblem::Malformed("argon2 memory cost above 256 MiB"));
        }
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(HashProblem::Malformed("missing salt or hash"));
        }
        Ok(Self::Argon2(Box::new(hash)))
    }

    fn parse_bcrypt(value: &str) -> Result<Self, HashProblem> {
        let parts = bcrypt::HashParts::from_str(value)
            .map_err(|_| HashProblem::Malformed("not a valid bcrypt hash"))?;
        if !BCRYPT_COSTS.contains(&parts.get_cost()) {
            return Err(HashProblem::Malformed("bcrypt cost outside 4..=17"));
        }
        Ok(Self::Bcrypt(value.to_owned()))
    }

    /// Runs the hash; `Ok(false)` is a wrong password.
    fn verify(&self, password: &str) -> Result<bool, CredentialsError> {
        #[cfg(test)]
        tests::VERIFICATIONS.with(|count| count.set(count.get() + 1));
        match self {
            // The algorithm, version and parameters come from the stored hash, not from
            // `Argon2::default()`.
            Self::Argon2(hash) => {
                match Argon2::default().verify_password(password.as_bytes(), hash.as_ref()) {
                    Ok(()) => Ok(true),
                    Err(Argon2Error::PasswordInvalid) => Ok(false),
                    Err(e) => Err(CredentialsError::Argon2Failed(e)),
                }
            }
            Self::Bcrypt(hash) => {
                bcrypt::verify(password, hash).map_err(CredentialsError::BcryptFailed)
            }
        }
    }
}

/// One user of the users file. The password hash is private and redacted from `Debug`.
#[derive(Clone)]
pub struct User {
    /// Login name; unique, non-empty.
    pub name: String,
    /// Group names; none empty, none containing `,`.
    pub groups: Vec<String>,
    /// Optional email address.
    pub email: Option<String>,
    /// A disabled user cannot log in, and (with `require_known_user`) its tokens are refused.
    pub disabled: bool,
    hash: StoredHash,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field("hash", &self.hash)
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
    /// Also makes (once per process) the dummy argon2id hash used for unknown users, which
    /// costs one hash with the default parameters.
    ///
    /// # Errors
    ///
    /// A [`UsersError`] with the position of the first problem found.
    pub fn from_toml_str(text: &str) -> Result<Self, UsersError> {
        let file: UsersFile = toml::from_str(text).map_err(|e| UsersError::Syntax {
            position: e.span().map(|span| Position::of_span(text, span)),
            message: e.message().to_owned(),
        })?;
        let mut by_name: HashMap<String, User> = HashMap::with_capacity(file.user.len());
        let mut first_seen: HashMap<String, Position> = HashMap::with_capacity(file.user.len());
        for raw in file.user {
            let (user, position) = validate_user(text, raw)?;
            if let Some(first) = first_seen.insert(user.name.clone(), position) {
                let name = user.name;
                return Err(UsersError::DuplicateUser {
                    position,
                    name,
                    first,
                });
            }
            by_name.insert(user.name.clone(), user);
        }
        Ok(Self {
            by_name,
            dummy: dummy_hash()?,
        })
    }

    /// The user named `name`, disabled or not.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.by_name.get(name)
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
    /// CPU-heavy (one password hash): call it through [`PasswordChecker`] on the request path.
    ///
    /// # Errors
    ///
    /// A [`CredentialsError`]: a rejection (see [`CredentialsError::is_rejection`]) or a
    /// failure to run the hash.
    pub fn verify_password(&self, name: &str, password: &str) -> Result<&User, CredentialsError> {
        // Length only: answered before the user is even looked up.
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CredentialsError::PasswordTooLong);
        }
        let user = self.by_name.get(name);
        // The one code path: always verify against some hash, then decide.
        let hash = user.map_or(&self.dummy, |u| &u.hash);
        let matches = hash.verify(password)?;
        match user {
            None => Err(CredentialsError::UnknownUser),
            Some(u) if u.disabled => Err(CredentialsError::UserDisabled),
            Some(_) if !matches => Err(CredentialsError::WrongPassword),
            Some(u) => Ok(u),
        }
    }
}

/// Refuses control characters in a value that ends up in a header.
fn printable(text: &str, value: &Spanned<String>, field: &'static str) -> Result<(), UsersError> {
    if value.get_ref().chars().any(char::is_control) {
        return Err(UsersError::ControlCharacter {
            position: Position::of_span(text, value.span()),
            field,
        });
    }
    Ok(())
}

/// Validates one entry; returns it with the position of its name (for duplicate reports).
fn validate_user(text: &str, raw: RawUser) -> Result<(User, Position), UsersError> {
    let name_at = Position::of_span(text, raw.name.span());
    if raw.name.get_ref().is_empty() {
        return Err(UsersError::EmptyUserName { position: name_at });
    }
    printable(text, &raw.name, "name")?;
    let name = raw.name.into_inner();
    let mut groups = Vec::with_capacity(raw.groups.len());
    for group in raw.groups {
        let position = Position::of_span(text, group.span());
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
        printable(text, &group, "group")?;
        groups.push(group.into_inner());
    }
    if let Some(email) = &raw.email {
        printable(text, email, "email")?;
    }
    let position = Position::of_span(text, raw.password.span());
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
    };
    Ok((user, name_at))
}

/// The dummy hash, made once per process with the same hasher as [`hash_password`].
fn dummy_hash() -> Result<StoredHash, UsersError> {
    static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(StoredHash::Argon2(Box::new(hash.clone())));
    }
    let made = default_hasher()
        .hash_password(b"gateway dummy password for unknown users")
        .map_err(UsersError::HashingFailed)?;
    // A concurrent first load may have won the race; either hash does the job.
    Ok(StoredHash::Argon2(Box::new(
        DUMMY.get_or_init(|| made).clone(),
    )))
}

/// argon2id v19 with the crate's default parameters (m=19456 KiB, t=2, p=1: OWASP's
/// recommendation).
fn default_hasher() -> Argon2<'static> {
    Argon2::default()
}

/// Hashes `password` into an argon2id PHC string with the default parameters and a random
/// salt (`gateway hash-password`).
///
/// # Errors
///
/// [`UsersError::EmptyPassword`], [`UsersError::PasswordTooLong`] (it could never be used to
/// log in), or [`UsersError::HashingFailed`].
pub fn hash_password(password: &str) -> Result<String, UsersError> {
    if password.is_empty() {
        return Err(UsersError::EmptyPassword);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UsersError::PasswordTooLong);
    }
    default_hasher()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(UsersError::HashingFailed)
}

/// Runs password checks on tokio's blocking pool, at most `max_concurrent` at a time.
///
/// A login burst then queues here instead of occupying the async workers that proxy traffic.
/// It takes the users per call (rather than holding them) so that a reload (SIGHUP) can swap
/// the users file while the one semaphore keeps bounding all checks, old and new.
#[derive(Clone, Debug)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
}

impl PasswordChecker {
    /// A checker running at most `max_concurrent` checks at once (at least 1).
    pub fn new(max_concurrent: usize) -> Self {
        let permits = max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
        }
    }

    /// A checker bounded by the number of CPUs available to the process.
    pub fn with_available_parallelism() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
    }

    /// [`Users::verify_password`] on the blocking pool; returns a copy of the user.
    ///
    /// # Errors
    ///
    /// As [`Users::verify_password`], plus [`CredentialsError::CheckTaskFailed`] and
    /// [`CredentialsError::CheckerClosed`].
    pub async fn verify(
        &self,
        users: Arc<Users>,
        name: String,
        password: String,
    ) -> Result<User, CredentialsError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CredentialsError::PasswordTooLong);
        }
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(CredentialsError::CheckerClosed)?;
        // The permit moves into the task: if the caller goes away (client disconnect), the
        // permit is still held until the hash has actually finished.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            users.verify_password(&name, &password).cloned()
        })
        .await
        .map_err(CredentialsError::CheckTaskFailed)?
    }
}

#[cfg(test)]
mod tests;
