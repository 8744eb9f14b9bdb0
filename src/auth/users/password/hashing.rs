//! Making new hashes (`gateway hash-password`): argon2id with the crate's default
//! parameters, the one hasher new hashes come from.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

use super::stored::HashCost;
use super::{HashError, MAX_PASSWORD_BYTES};

/// argon2id v19 with the crate's default parameters (m=19456 KiB, t=2, p=1: OWASP's
/// recommendation).
pub(super) fn default_hasher() -> Argon2<'static> {
    Argon2::default()
}

/// The cost of [`default_hasher`]'s hashes.
pub(super) fn default_cost() -> HashCost {
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
