//! The second factor of local users: TOTP codes (RFC 6238), single-use recovery codes, and
//! the opaque challenge that carries a sign-in from the password step to the code step.
//!
//! Pure functions and types only: the secret and the codes are checked against a `now` the
//! caller passes, so tests never wait for a time window. Which step was last accepted (replay),
//! which recovery codes are spent and which challenges are pending is state, kept behind
//! `auth::state::StateStore`; the throttled attempt that ties them together is
//! `auth::two_step`.
//!
//! | module | concept |
//! |---|---|
//! | `totp` | [`TotpSecret`] (base32, redacted) and the RFC 6238 check with ±1 step of skew |
//! | `recovery` | generating recovery codes and the one form they are compared in |
//! | `challenge` | [`ChallengeId`]: 128 random bits, the handle of a pending sign-in |
//!
//! Invariants: a secret, a code, a recovery code or a challenge never appears in `Debug`
//! output, an error or a log line; codes are compared in constant time.

mod challenge;
mod recovery;
mod totp;

pub use challenge::{CHALLENGE_LIFETIME, ChallengeId};
pub use recovery::{new_recovery_codes, normalized_recovery_code};
pub use totp::{TotpSecret, TotpSecretError, otpauth_uri};

/// The system random generator failed (short of a broken system, never).
#[derive(Debug, thiserror::Error)]
#[error("the system random generator failed")]
pub struct RandomFailed;
