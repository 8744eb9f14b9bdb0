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
//!   [`HashCost`] (algorithm and parameters) most of the file's hashes have — argon2id with
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

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use argon2::password_hash::Error as Argon2Error;
use argon2::password_hash::phc::{Output, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, Version};
use thiserror::Error;

use memory::HashMemory;

pub(crate) mod memory;

/// Longest password, in bytes, that is ever hashed; longer ones are refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Largest argon2 memory cost (KiB) accepted in the users file: 256 MiB per login in flight.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// The longest password bcrypt hashes in full; it ignores every byte after these.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// bcrypt costs accepted in the users file (`htpasswd -C` allows the same range).
const BCRYPT_COSTS: RangeInclusive<u32> = 4..=17;

/// bcrypt prefixes we accept; `$2x$` is deliberately absent.
const BCRYPT_PREFIXES: [&str; 3] = ["$2b$", "$2y$", "$2a$"];

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

/// A password hash, parsed and validated once at load.
#[derive(Clone)]
pub(super) struct StoredHash {
    digest: Digest,
    cost: HashCost,
}

/// The hash itself, in the form its verifier takes.
#[derive(Clone)]
enum Digest {
    /// A PHC argon2id or argon2i hash, taken apart at load.
    Argon2(Box<Argon2Digest>),
    /// A bcrypt hash string, already checked by `bcrypt::HashParts` and for its cost.
    Bcrypt(String),
}

/// An argon2 hash ready to verify: the hasher with the algorithm, version and parameters
/// the PHC string carries (never `Argon2::default()`'s), its salt and the expected output.
#[derive(Clone)]
struct Argon2Digest {
    hasher: Argon2<'static>,
    salt: Salt,
    expected: Output,
}

impl Argon2Digest {
    /// Takes a parsed PHC string apart; `None` without a salt or an output.
    fn new(
        algorithm: Algorithm,
        version: Version,
        params: Params,
        hash: &PasswordHash,
    ) -> Option<Self> {
        Some(Self {
            hasher: Argon2::new(algorithm, version, params),
            salt: hash.salt?,
            expected: hash.hash?,
        })
    }

    /// A new hash of `password` with a random salt, computed in a [`HashMemory`] of its own
    /// (the dummy hash): an allocation of argon2's own would be freed with glibc's `free`
    /// and, at startup, raise glibc's mmap and trim thresholds for the rest of the process,
    /// so that the heap would keep tens of MiB of freed connection memory (see
    /// `password/memory.rs`).
    fn make(
        algorithm: Algorithm,
        version: Version,
        params: Params,
        password: &[u8],
    ) -> Result<Self, Argon2Error> {
        let salt = argon2::password_hash::try_generate_salt().map_err(Argon2Error::from)?;
        let salt = Salt::new(&salt)?;
        let hasher = Argon2::new(algorithm, version, params);
        let mut memory = HashMemory::new();
        let blocks = memory
            .blocks(hasher.params().block_count())
            .ok_or(Argon2Error::OutOfMemory)?;
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(
                ..hasher
                    .params()
                    .output_len()
                    .unwrap_or(Params::DEFAULT_OUTPUT_LEN),
            )
            .ok_or(Argon2Error::OutputSize)?;
        hasher.hash_password_into_with_memory(password, salt.as_ref(), &mut *out, blocks)?;
        let expected = Output::new(out)?;
        Ok(Self {
            hasher,
            salt,
            expected,
        })
    }

    /// Hashes `password` in `memory` and compares the output with the expected one in
    /// constant time (`Output`'s `PartialEq`).
    fn verify(&self, password: &[u8], memory: &mut HashMemory) -> Result<bool, CredentialsError> {
        let failed = |e: argon2::Error| CredentialsError::Argon2Failed(e.into());
        let blocks = memory
            .blocks(self.hasher.params().block_count())
            .ok_or(failed(argon2::Error::OutOfMemory))?;
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(..self.expected.len())
            .ok_or(failed(argon2::Error::OutputTooLong))?;
        self.hasher
            .hash_password_into_with_memory(password, self.salt.as_ref(), &mut *out, blocks)
            .map_err(failed)?;
        let computed = Output::new(out).map_err(|e| CredentialsError::Argon2Failed(e.into()))?;
        Ok(computed == self.expected)
    }
}

/// What verifying a hash costs: its algorithm and parameters, without salt or digest.
/// Verifying two hashes of equal cost takes the same time, whatever the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum HashCost {
    /// argon2 with its variant, version and parameters.
    Argon2 {
        algorithm: Algorithm,
        version: Version,
        /// Memory in KiB.
        m_cost: u32,
        /// Passes.
        t_cost: u32,
        /// Lanes.
        p_cost: u32,
        /// Output (digest) length in bytes.
        output_len: usize,
    },
    /// bcrypt with its cost (log2 of the rounds).
    Bcrypt { cost: u32 },
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cost is public knowledge (it is in every hash of its kind); the digest is not.
        f.debug_struct("StoredHash")
            .field("cost", &self.cost)
            .field("digest", &format_args!("<redacted>"))
            .finish()
    }
}

/// Why a password value is not a usable hash (the users file maps it to a positioned
/// [`HashError`]).
pub(super) enum HashProblem {
    /// Not one of the accepted formats (a plain-text password lands here too).
    Unsupported,
    /// An accepted format, but malformed or out of bounds; the reason is safe to print.
    Malformed(&'static str),
}

impl StoredHash {
    /// Parses a password value from the users file.
    pub(super) fn parse(value: &str) -> Result<Self, HashProblem> {
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
        let algorithm = match Algorithm::try_from(hash.algorithm.as_str()) {
            Ok(algorithm @ (Algorithm::Argon2id | Algorithm::Argon2i)) => algorithm,
            Ok(Algorithm::Argon2d) | Err(_) => return Err(HashProblem::Unsupported),
        };
        // A PHC string without `v=` is version 16 (the PHC format's rule; argon2 agrees).
        let version = match hash.version {
            Some(version) => Version::try_from(version)
                .map_err(|_| HashProblem::Malformed("unknown argon2 version"))?,
            None => Version::V0x10,
        };
        let params = Params::try_from(&hash)
            .map_err(|_| HashProblem::Malformed("invalid argon2 parameters"))?;
        if params.m_cost() > MAX_ARGON2_MEMORY_KIB {
            return Err(HashProblem::Malformed("argon2 memory cost above 256 MiB"));
        }
        let cost = HashCost::Argon2 {
            algorithm,
            version,
            m_cost: params.m_cost(),
            t_cost: params.t_cost(),
            p_cost: params.p_cost(),
            output_len: params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
        };
        let digest = Argon2Digest::new(algorithm, version, params, &hash)
            .ok_or(HashProblem::Malformed("missing salt or hash"))?;
        Ok(Self {
            digest: Digest::Argon2(Box::new(digest)),
            cost,
        })
    }

    fn parse_bcrypt(value: &str) -> Result<Self, HashProblem> {
        let parts = bcrypt::HashParts::from_str(value)
            .map_err(|_| HashProblem::Malformed("not a valid bcrypt hash"))?;
        let cost = parts.get_cost();
        if !BCRYPT_COSTS.contains(&cost) {
            return Err(HashProblem::Malformed("bcrypt cost outside 4..=17"));
        }
        Ok(Self {
            digest: Digest::Bcrypt(value.to_owned()),
            cost: HashCost::Bcrypt { cost },
        })
    }

    /// What verifying this hash costs.
    pub(super) fn cost(&self) -> &HashCost {
        &self.cost
    }

    /// Runs the hash, argon2 in `memory`; `Ok(false)` is a wrong password, and so is one
    /// that [`StoredHash::truncates`].
    pub(super) fn verify(
        &self,
        password: &str,
        memory: &mut HashMemory,
    ) -> Result<bool, CredentialsError> {
        #[cfg(test)]
        VERIFICATIONS.with(|count| count.set(count.get() + 1));
        match &self.digest {
            Digest::Argon2(digest) => digest.verify(password.as_bytes(), memory),
            Digest::Bcrypt(hash) => {
                // The hash runs whatever the length (bcrypt itself only reads 72 bytes), so
                // the refusal costs what any check costs.
                let matches =
                    bcrypt::verify(password, hash).map_err(CredentialsError::BcryptFailed)?;
                Ok(matches && !self.truncates(password))
            }
        }
    }

    /// True when this hash would compare only a prefix of `password`: a bcrypt hash and a
    /// password longer than [`BCRYPT_MAX_PASSWORD_BYTES`]. Such a password never matches.
    pub(super) fn truncates(&self, password: &str) -> bool {
        matches!(self.digest, Digest::Bcrypt(_)) && password.len() > BCRYPT_MAX_PASSWORD_BYTES
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

/// The hash that stands in for an unknown user: one with the most common of `costs` (the
/// first seen wins a tie), or the default hasher's cost when there are none.
///
/// Each cost's dummy is made once per process: a file's first load (and a reload that
/// brings a new cost) pays one hash, later loads none.
pub(super) fn dummy_hash(costs: &[HashCost]) -> Result<StoredHash, HashError> {
    static DUMMIES: Mutex<Vec<StoredHash>> = Mutex::new(Vec::new());
    let cost = most_common_cost(costs).unwrap_or_else(default_cost);
    let cached = |dummies: &[StoredHash]| dummies.iter().find(|d| d.cost == cost).cloned();
    if let Some(dummy) = cached(&DUMMIES.lock().unwrap_or_else(PoisonError::into_inner)) {
        return Ok(dummy);
    }
    // Hashed without the lock held: a bcrypt cost of 17 takes seconds.
    let made = make_dummy(cost.clone())?;
    let mut dummies = DUMMIES.lock().unwrap_or_else(PoisonError::into_inner);
    // A concurrent load may have made the same one; either does the job.
    Ok(cached(&dummies).unwrap_or_else(|| {
        dummies.push(made.clone());
        made
    }))
}

/// The cost most of `costs` share (a file holds few distinct costs, so a linear tally is
/// enough; argon2's `Algorithm` is not `Hash`).
fn most_common_cost(costs: &[HashCost]) -> Option<HashCost> {
    let mut tally: Vec<(&HashCost, usize)> = Vec::new();
    for cost in costs {
        match tally.iter_mut().find(|(seen, _)| *seen == cost) {
            Some((_, count)) => *count += 1,
            None => tally.push((cost, 1)),
        }
    }
    // `max_by_key` keeps the last maximum; the reversal makes the first seen win a tie.
    tally
        .into_iter()
        .rev()
        .max_by_key(|(_, count)| *count)
        .map(|(cost, _)| cost.clone())
}

/// A hash of a fixed password with `cost`, and a random salt.
fn make_dummy(cost: HashCost) -> Result<StoredHash, HashError> {
    const PASSWORD: &str = "gateway dummy password for unknown users";
    let digest = match cost {
        HashCost::Argon2 {
            algorithm,
            version,
            m_cost,
            t_cost,
            p_cost,
            output_len,
        } => {
            let params = Params::new(m_cost, t_cost, p_cost, Some(output_len))
                .map_err(|e| HashError::HashingFailed(e.into()))?;
            let digest = Argon2Digest::make(algorithm, version, params, PASSWORD.as_bytes())
                .map_err(HashError::HashingFailed)?;
            Digest::Argon2(Box::new(digest))
        }
        HashCost::Bcrypt { cost } => {
            Digest::Bcrypt(bcrypt::hash(PASSWORD, cost).map_err(HashError::BcryptHashingFailed)?)
        }
    };
    Ok(StoredHash { digest, cost })
}

/// argon2id v19 with the crate's default parameters (m=19456 KiB, t=2, p=1: OWASP's
/// recommendation).
fn default_hasher() -> Argon2<'static> {
    Argon2::default()
}

/// The cost of [`default_hasher`]'s hashes.
fn default_cost() -> HashCost {
    HashCost::Argon2 {
        algorithm: Algorithm::default(),
        version: Version::default(),
        m_cost: Params::DEFAULT_M_COST,
        t_cost: Params::DEFAULT_T_COST,
        p_cost: Params::DEFAULT_P_COST,
        output_len: Params::DEFAULT_OUTPUT_LEN,
    }
}

/// Hashes `password` into an argon2id PHC string with the default parameters and a random
/// salt (`gateway hash-password`).
///
/// # Errors
///
/// [`HashError::EmptyPassword`], [`HashError::PasswordTooLong`] (it could never be used to
/// log in), or [`HashError::HashingFailed`].
pub fn hash_password(password: &str) -> Result<String, HashError> {
    if password.is_empty() {
        return Err(HashError::EmptyPassword);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(HashError::PasswordTooLong);
    }
    default_hasher()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(HashError::HashingFailed)
}

#[cfg(test)]
pub(crate) mod tests;
