//! Device cookies: OWASP's defence against lockout by strangers
//! (<https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies>).
//!
//! A successful sign-in gives the browser a device cookie that names the user, a random
//! device id and when it was issued, signed with HMAC-SHA256. A later attempt for that same
//! user that presents a valid one is throttled under its device id alone
//! ([`ThrottleKey::Device`](crate::auth::state::ThrottleKey::Device)): strangers guessing the
//! password lock the username and their own addresses, not the browsers the user has signed
//! in with before; a thief of one device cookie gets `max_failures` guesses per lockout, as
//! anyone else.
//!
//! The value is `v1.<user>.<id>.<issued>.<mac>` (user, id and mac base64url; issued in Unix
//! seconds), only cookie-octets. The key is derived from the JWT signing key material with
//! its own label ([`DeviceKey::derive`]), so a device cookie is never a token, nor a token a
//! device cookie, and the JWT secret itself never signs anything but tokens.
//!
//! Not here: the cookie's attributes (`cookie.rs`), the throttling (`auth/state/`), deciding
//! which keys an attempt uses (`auth/sign_in.rs`).

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The label the device-cookie key is derived with (domain separation from JWT signing).
const KEY_LABEL: &[u8] = b"gateway device-cookie key v1";
/// The format version, first in every value.
const VERSION: &str = "v1";
/// Random bytes in a device id.
const ID_BYTES: usize = 16;
/// Usernames longer than this get no device cookie (a cookie stays well under 4 KB).
const MAX_USER_BYTES: usize = 256;
/// A device cookie issued up to this far in the future still counts (clock steps).
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The HMAC key of device cookies.
pub(crate) struct DeviceKey {
    key: hmac::Key,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

/// Why no device cookie could be issued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeviceError {
    /// The random generator failed.
    #[error("random generator failed")]
    RandomFailed,
    /// The username is too long to go into a cookie.
    #[error("username too long for a device cookie")]
    UserTooLong,
}

impl DeviceKey {
    /// Derives the key from the JWT key material (an HS* secret or the private key's PEM):
    /// HMAC-SHA256 keyed with that material over a fixed label, i.e. HKDF's extract step.
    pub(crate) fn derive(jwt_key_material: &[u8]) -> Self {
        let extract = hmac::Key::new(hmac::HMAC_SHA256, jwt_key_material);
        let derived = hmac::sign(&extract, KEY_LABEL);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// A new device cookie value for `user`, issued at `now`.
    ///
    /// # Errors
    /// [`DeviceError`] when the random generator fails or `user` is too long.
    pub(crate) fn issue(&self, user: &str, now: SystemTime) -> Result<String, DeviceError> {
        if user.len() > MAX_USER_BYTES {
            return Err(DeviceError::UserTooLong);
        }
        let mut id = [0u8; ID_BYTES];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| DeviceError::RandomFailed)?;
        let issued = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signed = format!(
            "{VERSION}.{}.{}.{issued}",
            URL_SAFE_NO_PAD.encode(user),
            URL_SAFE_NO_PAD.encode(id)
        );
        let mac = hmac::sign(&self.key, signed.as_bytes());
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref())))
    }

    /// The device id of `value` if it is a device cookie this key signed, for exactly
    /// `user`, issued no more than `lifetime` before `now`.
    pub(crate) fn verify(
        &self,
        value: &str,
        user: &str,
        now: SystemTime,
        lifetime: Duration,
    ) -> Option<String> {
        let (signed, mac) = value.rsplit_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        // Constant-time comparison; nothing of the value is trusted before it passes.
        hmac::verify(&self.key, signed.as_bytes(), &mac).ok()?;
        let mut parts = signed.split('.');
        let (version, named, id, issued) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != VERSION || parts.next().is_some() {
            return None;
        }
        if URL_SAFE_NO_PAD.decode(named).ok()? != user.as_bytes() {
            return None;
        }
        let issued =
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(issued.parse().ok()?))?;
        let fresh = match now.duration_since(issued) {
            Ok(age) => age < lifetime,
            Err(ahead) => ahead.duration() <= CLOCK_SKEW,
        };
        fresh.then(|| id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::{DeviceError, DeviceKey};

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_device_cookie_verifies_for_its_user_within_its_lifetime() {
        let key = DeviceKey::derive(b"jwt secret material, 32 bytes or more");
        let value = key.issue("alice", at(1_000_000)).expect("issue");
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        let id = key
            .verify(&value, "alice", at(1_000_000 + DAY.as_secs()), 30 * DAY)
            .expect("valid");
        assert_eq!(id.len(), 22, "16 random bytes, base64url");
        let other = key.issue("alice", at(1_000_000)).expect("issue");
        assert_ne!(key.verify(&other, "alice", at(1_000_000), DAY), Some(id));
    }

    #[test]
    fn a_device_cookie_is_refused_for_another_user_expired_forged_or_malformed() {
        let key = DeviceKey::derive(b"jwt secret material, 32 bytes or more");
        let value = key.issue("alice", at(1_000_000)).expect("issue");
        let now = at(1_000_100);
        assert_eq!(key.verify(&value, "bob", now, DAY), None, "another user");
        assert_eq!(key.verify(&value, "Alice", now, DAY), None, "case matters");
        assert_eq!(
            key.verify(&value, "alice", at(1_000_000 + DAY.as_secs()), DAY),
            None,
            "expired"
        );
        assert_eq!(
            key.verify(&value, "alice", at(999_000), DAY),
            None,
            "issued too far in the future"
        );
        let other_key = DeviceKey::derive(b"another secret, also 32 bytes long");
        assert_eq!(
            other_key.verify(&value, "alice", now, DAY),
            None,
            "other key"
        );
        // Relabel the cookie for bob, keeping alice's signature.
        let mut parts: Vec<String> = value.split('.').map(str::to_owned).collect();
        parts[1] = "Ym9i".to_owned();
        assert_eq!(key.verify(&parts.join("."), "bob", now, DAY), None);
        for bad in ["", ".", "v1", "v1.a.b.c.d.e", "not base64!.x", "....."] {
            assert_eq!(key.verify(bad, "alice", now, DAY), None, "{bad:?}");
        }
        let mut flipped = value.into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(key.verify(&flipped, "alice", now, DAY), None, "bad mac");
    }

    #[test]
    fn the_key_is_not_the_jwt_secret() {
        // An HS256 token's signature with the raw secret must not be a device cookie's MAC.
        let secret = b"jwt secret material, 32 bytes or more";
        let key = DeviceKey::derive(secret);
        let value = key.issue("alice", at(1)).expect("issue");
        let (signed, mac) = value.rsplit_once('.').expect("mac");
        let raw = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            signed.as_bytes(),
        );
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref());
        assert_ne!(raw, mac);
        assert!(format!("{key:?}").contains("redacted"));
        assert!(matches!(
            key.issue(&"x".repeat(257), at(1)),
            Err(DeviceError::UserTooLong)
        ));
    }
}
