//! A stored password hash, parsed and validated once at load into a typed [`StoredHash`],
//! and verified against a password at login (argon2 in a reused [`HashMemory`], bcrypt
//! with its 72-byte limit made explicit).

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use argon2::password_hash::Error as Argon2Error;
use argon2::password_hash::phc::{Output, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

use super::memory::HashMemory;
use super::{BCRYPT_MAX_PASSWORD_BYTES, CredentialsError, MAX_ARGON2_MEMORY_KIB};

/// bcrypt costs accepted in the users file (`htpasswd -C` allows the same range).
const BCRYPT_COSTS: RangeInclusive<u32> = 4..=17;

/// bcrypt prefixes we accept; `$2x$` is deliberately absent.
const BCRYPT_PREFIXES: [&str; 3] = ["$2b$", "$2y$", "$2a$"];

/// A password hash, parsed and validated once at load.
#[derive(Clone)]
pub(crate) struct StoredHash {
    pub(super) digest: Digest,
    pub(super) cost: HashCost,
}

/// The hash itself, in the form its verifier takes.
#[derive(Clone)]
pub(super) enum Digest {
    /// A PHC argon2id or argon2i hash, taken apart at load.
    Argon2(Box<Argon2Digest>),
    /// A bcrypt hash string, already checked by `bcrypt::HashParts` and for its cost.
    Bcrypt(String),
}

/// An argon2 hash ready to verify: the hasher with the algorithm, version and parameters
/// the PHC string carries (never `Argon2::default()`'s), its salt and the expected output.
#[derive(Clone)]
pub(super) struct Argon2Digest {
    hasher: Argon2<'static>,
    pub(super) salt: Salt,
    pub(super) expected: Output,
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
    pub(super) fn make(
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
pub(crate) enum HashCost {
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
/// `UsersError`).
pub(crate) enum HashProblem {
    /// Not one of the accepted formats (a plain-text password lands here too).
    Unsupported,
    /// An accepted format, but malformed or out of bounds; the reason is safe to print.
    Malformed(&'static str),
}

impl StoredHash {
    /// Parses a password value from the users file.
    pub(crate) fn parse(value: &str) -> Result<Self, HashProblem> {
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
    pub(crate) fn cost(&self) -> &HashCost {
        &self.cost
    }

    /// Runs the hash, argon2 in `memory`; `Ok(false)` is a wrong password, and so is one
    /// that [`StoredHash::truncates`].
    pub(crate) fn verify(
        &self,
        password: &str,
        memory: &mut HashMemory,
    ) -> Result<bool, CredentialsError> {
        #[cfg(test)]
        super::VERIFICATIONS.with(|count| count.set(count.get() + 1));
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
    pub(crate) fn truncates(&self, password: &str) -> bool {
        matches!(self.digest, Digest::Bcrypt(_)) && password.len() > BCRYPT_MAX_PASSWORD_BYTES
    }
}
