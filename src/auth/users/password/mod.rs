//! Password hashes: which formats are accepted, parsing them, verifying a password against
//! one, making new ones (`gateway hash-password`), and running checks off the async runtime.
//!
//! # Accepted hashes
//!
//! - PHC `$argon2id$…` (what `gateway hash-password` writes) and `$argon2i$…`, versions 16 and
//!   19. `$argon2d$` is refused: its memory access depends on the password, a side channel
//!   that has no place in an online login. Memory cost is capped at
//!   [`MAX_ARGON2_MEMORY_KIB`] so one login cannot exhaust the machine's memory.
//! - bcrypt `$2b$`, `$2y$` (htpasswd) and `$2a$`, cost 4 to 17 (htpasswd's range). `$2x$`
//!   (the marker for the old crypt_blowfish sign-extension bug) is refused. bcrypt only looks
//!   at the first [`BCRYPT_MAX_PASSWORD_BYTES`] (72) bytes of a password, so a longer one is
//!   refused as wrong (after the hash has run, so it costs what any check costs), as Go's
//!   `bcrypt` does: otherwise every password sharing those 72 bytes would match.
//!
//! Each hash is parsed once, at load, into a typed `StoredHash`; a login only runs the hash.
//!
//! # Invariants
//!
//! - New hashes ([`hash_password`]) come from one hasher, argon2id with the default
//!   parameters.
//! - The dummy hash that [`Users::verify_password`](super::Users::verify_password) checks for an unknown user has the
//!   `HashCost` (algorithm and parameters) most of the file's hashes have — argon2id with
//!   the default parameters for a file of `gateway hash-password` hashes, bcrypt at cost 5
//!   for one imported from `htpasswd -B` — so an unknown user costs what a typical known user
//!   costs. An empty file gets the default hasher's cost. Each cost's dummy is made once per
//!   process, so a reload does not hash again.
//! - No password longer than [`MAX_PASSWORD_BYTES`] is ever hashed: [`hash_password`] refuses
//!   it, and [`PasswordChecker`](super::pool::PasswordChecker) refuses it before it waits for a permit.
//! - Hashing is CPU-heavy: the request path uses [`PasswordChecker`](super::pool::PasswordChecker), which runs checks on
//!   a fixed set of hash worker threads (`users/pool/workers.rs`, one per CPU) with bounded
//!   concurrency, under `SCHED_IDLE`, below the async workers, so a login burst cannot stall
//!   proxying: the kernel runs the async workers first and hashing takes what CPU is left
//!   (under a full proxy load logins slow down, proxied requests do not).
//! - argon2's working memory (`m_cost` KiB per hash) is owned by the hash worker and reused
//!   from one check to the next while logins keep coming; it goes back to the kernel when the
//!   worker is idle (`memory.rs` says how, with glibc's malloc). A flood holds at
//!   most `workers × m_cost` of it.
//! - A stored hash never appears in `Debug` output or in an error message.
//!
//! Not here: the users file and the decision of who may log in (`users/mod.rs`, whose
//! [`Users::verify_password`](super::Users::verify_password) is the one code path of a login check), throttling
//! (`auth/state/`), the login endpoints (`request/portal/login.rs`).

use argon2::password_hash::Error as Argon2Error;
use thiserror::Error;

mod dummy;
mod hashing;
pub(crate) mod memory;
pub(crate) mod stored;

pub(super) use dummy::dummy_hash;
pub use hashing::hash_password;
pub(super) use stored::{HashProblem, StoredHash};

/// Longest password, in bytes, that is ever hashed; longer ones are refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Largest argon2 memory cost (KiB) accepted in the users file: 256 MiB per login in flight.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// The longest password bcrypt hashes in full; it ignores every byte after these.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

#[cfg(test)]
thread_local! {
    /// Hash verifications run on this thread (see `StoredHash::verify`), so that tests can
    /// check that a login costs exactly one hash, or none.
    pub(super) static VERIFICATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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
    /// The user's hash is bcrypt, which would compare only the password's first
    /// [`BCRYPT_MAX_PASSWORD_BYTES`] bytes; the password is longer, so it is refused (the
    /// hash was verified all the same).
    #[error("password is longer than bcrypt's {BCRYPT_MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLongForBcrypt,
    /// argon2 could not run the check (e.g. out of memory).
    #[error("argon2 verification failed")]
    Argon2Failed(#[source] Argon2Error),
    /// bcrypt could not run the check.
    #[error("bcrypt verification failed")]
    BcryptFailed(#[source] bcrypt::BcryptError),
    /// The hash worker running the check panicked in it.
    #[error("password check task failed")]
    CheckTaskFailed,
    /// No hash worker thread could be started.
    #[error("no password-hashing thread could be started")]
    NoHashWorkers,
    /// This client already has as many checks waiting as one client may; nothing was hashed.
    #[error("too many password checks of this client are waiting")]
    ClientQueueFull,
    /// The checker's queue is full; nothing was hashed.
    #[error("too many password checks are waiting")]
    QueueFull,
}

impl CredentialsError {
    /// True when the client's credentials were refused (401); false for internal failures (500).
    pub fn is_rejection(&self) -> bool {
        match self {
            Self::PasswordTooLong
            | Self::UnknownUser
            | Self::UserDisabled
            | Self::WrongPassword
            | Self::PasswordTooLongForBcrypt => true,
            Self::Argon2Failed(_)
            | Self::BcryptFailed(_)
            | Self::CheckTaskFailed
            | Self::NoHashWorkers
            | Self::ClientQueueFull
            | Self::QueueFull => false,
        }
    }
}

/// Why a password could not be hashed.
#[derive(Debug, Error)]
pub enum HashError {
    /// [`hash_password`] was given an empty password.
    #[error("password is empty")]
    EmptyPassword,
    /// [`hash_password`] was given a password longer than [`MAX_PASSWORD_BYTES`].
    #[error("password is longer than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    /// argon2 failed to hash (e.g. the system RNG failed).
    #[error("argon2 hashing failed")]
    HashingFailed(#[source] Argon2Error),
    /// bcrypt failed to make the dummy hash for a file of bcrypt users.
    #[error("bcrypt hashing failed")]
    BcryptHashingFailed(#[source] bcrypt::BcryptError),
}

#[cfg(test)]
pub(crate) mod tests;
