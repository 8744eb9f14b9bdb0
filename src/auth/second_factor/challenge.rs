//! [`ChallengeId`]: the opaque handle of a sign-in whose password was right and whose
//! second factor is still due. 128 random bits as base64url: unguessable, so it needs no
//! signature; everything it stands for (the user, the expiry, the attempts left) is kept by
//! the state store, which hands it out once. It is never a credential: nothing but the code
//! step of `/.auth/login` reads it.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::rand;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::RandomFailed;

/// How long a challenge lasts: the time to find the phone and type a code.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Random bytes of a challenge.
const CHALLENGE_BYTES: usize = 16;

/// A challenge's id. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChallengeId(String);

impl fmt::Debug for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChallengeId(<redacted>)")
    }
}

impl ChallengeId {
    /// A fresh id from the OS's CSPRNG.
    ///
    /// # Errors
    /// [`RandomFailed`].
    pub fn generate() -> Result<Self, RandomFailed> {
        let mut bytes = [0u8; CHALLENGE_BYTES];
        rand::fill(&mut bytes).map_err(|_| RandomFailed)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// An id as a client sent it back; `None` when it cannot be one of ours (wrong length
    /// or alphabet), so a store never sees arbitrary text.
    pub fn parse(text: &str) -> Option<Self> {
        let decoded = URL_SAFE_NO_PAD.decode(text).ok()?;
        (decoded.len() == CHALLENGE_BYTES).then(|| Self(text.to_owned()))
    }

    /// The id's text, for the response and the store's key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ChallengeId;

    #[test]
    fn ids_are_random_parse_back_and_hide_in_debug() {
        let (a, b) = (
            ChallengeId::generate().expect("a"),
            ChallengeId::generate().expect("b"),
        );
        assert_ne!(a, b);
        assert_eq!(ChallengeId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "ChallengeId(<redacted>)");
        for bad in [
            "",
            "abc",
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
            &"A".repeat(23),
            &"A".repeat(200),
        ] {
            assert_eq!(ChallengeId::parse(bad), None, "{bad:?}");
        }
    }
}
