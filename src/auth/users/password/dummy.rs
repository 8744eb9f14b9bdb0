//! The hash that stands in for an unknown user, so that an unknown user costs what a known
//! one does: one with the cost most of the file's hashes have, made once per process and
//! cost.

use std::sync::{Mutex, PoisonError};

use argon2::Params;

use super::HashError;
use super::hashing::default_cost;
use super::stored::{Argon2Digest, Digest, HashCost, StoredHash};

/// The hash that stands in for an unknown user: one with the most common of `costs` (the
/// first seen wins a tie), or the default hasher's cost when there are none.
///
/// Each cost's dummy is made once per process: a file's first load (and a reload that
/// brings a new cost) pays one hash, later loads none.
pub(crate) fn dummy_hash(costs: &[HashCost]) -> Result<StoredHash, HashError> {
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
