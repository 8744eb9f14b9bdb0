//! RFC 6238 TOTP with the parameters authenticator apps assume: HMAC-SHA-1, 6 digits, 30 s
//! steps, and ±1 step of clock skew. The secret is written base32 (RFC 4648, what
//! `otpauth://` URIs and the apps expect).
//!
//! [`TotpSecret::matching_step`] answers *which* step a code belongs to; refusing the same
//! or an earlier step after a success (replay) is the state store's atomic business.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::{constant_time, hmac, rand};
use data_encoding::BASE32_NOPAD;

use super::RandomFailed;

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per step.
pub const PERIOD: u64 = 30;
/// Steps of clock skew accepted on either side of the current one.
pub const SKEW_STEPS: u64 = 1;
/// Bytes of a new secret: 160 bits, RFC 4226's recommendation (and SHA-1's output size).
const NEW_SECRET_BYTES: usize = 20;
/// Shortest secret accepted in the users file: 128 bits (RFC 4226 §4 R6).
const MIN_SECRET_BYTES: usize = 16;
/// Longest secret accepted: longer ones add nothing to HMAC-SHA-1.
const MAX_SECRET_BYTES: usize = 64;

/// A TOTP shared secret. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// Why a users file's `totp` value is not a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpSecretError {
    /// Not base32 (RFC 4648 alphabet, `=` padding and spaces allowed, any case).
    #[error("is not base32")]
    NotBase32,
    /// Fewer than 128 bits, or more than 512.
    #[error("must be 16 to 64 bytes (26 to 103 base32 characters)")]
    BadLength,
}

impl TotpSecret {
    /// A new 160-bit secret from the OS's CSPRNG.
    ///
    /// # Errors
    /// [`RandomFailed`].
    pub fn generate() -> Result<Self, RandomFailed> {
        let mut bytes = vec![0u8; NEW_SECRET_BYTES];
        rand::fill(&mut bytes).map_err(|_| RandomFailed)?;
        Ok(Self(bytes))
    }

    /// Parses base32 as people and apps write it: any case, spaces and `=` padding ignored.
    ///
    /// # Errors
    /// [`TotpSecretError`].
    pub fn from_base32(text: &str) -> Result<Self, TotpSecretError> {
        let cleaned: String = text
            .chars()
            .filter(|c| *c != ' ' && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map_err(|_| TotpSecretError::NotBase32)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(TotpSecretError::BadLength);
        }
        Ok(Self(bytes))
    }

    /// The secret as unpadded upper-case base32, for the users file and the URI.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The code of `step` (RFC 4226 §5.3 dynamic truncation), as `DIGITS` digits.
    pub fn code_at_step(&self, step: u64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]) & 0x7fff_ffff;
        format!(
            "{:0width$}",
            binary % 10u32.pow(DIGITS),
            width = DIGITS as usize
        )
    }

    /// The step a `code` entered at `now` belongs to: the current step or one of its
    /// `SKEW_STEPS` neighbours, or `None`. Every candidate is computed and compared in
    /// constant time, so the answer's timing says nothing about which step matched.
    pub fn matching_step(&self, code: &str, now: SystemTime) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_at(now);
        let mut found = None;
        for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
            let expected = self.code_at_step(step);
            if constant_time::verify_slices_are_equal(expected.as_bytes(), code.as_bytes()).is_ok()
            {
                found = Some(step);
            }
        }
        found
    }
}

/// The step `now` falls in (a clock before 1970 reads as step 0).
pub fn step_at(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) / PERIOD
}

/// The `otpauth://totp/` URI (Google Authenticator's key URI format) that apps scan:
/// `issuer` and `user` label it; the parameters are this module's.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, user: &str) -> String {
    let label: String = form_urlencoded::byte_serialize(format!("{issuer}:{user}").as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let issuer: String = form_urlencoded::byte_serialize(issuer.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        secret.to_base32()
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{PERIOD, TotpSecret, TotpSecretError, otpauth_uri, step_at};

    /// RFC 6238 appendix B's SHA-1 secret: "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_match_rfc_6238_test_vectors_cut_to_six_digits() {
        // Appendix B lists 8-digit codes; 6 digits are their last six.
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            let now = UNIX_EPOCH + Duration::from_secs(time);
            assert_eq!(rfc_secret().code_at_step(step_at(now)), code, "t = {time}");
        }
    }

    #[test]
    fn the_current_step_and_one_either_side_match_two_steps_do_not() {
        let secret = rfc_secret();
        let now = UNIX_EPOCH + Duration::from_secs(1_234_567_890);
        let step = step_at(now);
        for offset in [-1i64, 0, 1] {
            let at = step.checked_add_signed(offset).expect("step");
            assert_eq!(
                secret.matching_step(&secret.code_at_step(at), now),
                Some(at)
            );
        }
        for offset in [-3i64, -2, 2, 3] {
            let at = step.checked_add_signed(offset).expect("step");
            assert_eq!(
                secret.matching_step(&secret.code_at_step(at), now),
                None,
                "{offset}"
            );
        }
    }

    #[test]
    fn malformed_codes_never_match() {
        let secret = rfc_secret();
        let now = UNIX_EPOCH + Duration::from_secs(59);
        assert_eq!(secret.matching_step("287082", now), Some(1));
        for bad in ["", "28708", "2870820", "28708a", "+28708", "２８７０８２"] {
            assert_eq!(secret.matching_step(bad, now), None, "{bad:?}");
        }
        assert_eq!(
            secret.matching_step(" 287082 ", now),
            Some(1),
            "spaces around"
        );
    }

    #[test]
    fn base32_round_trips_and_bad_secrets_are_refused() {
        let secret = TotpSecret::generate().expect("random");
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(TotpSecret::from_base32(&text), Ok(secret.clone()));
        assert_eq!(
            TotpSecret::from_base32(&text.to_lowercase()),
            Ok(secret.clone())
        );
        assert_eq!(
            TotpSecret::from_base32("not base32!"),
            Err(TotpSecretError::NotBase32)
        );
        assert_eq!(
            TotpSecret::from_base32("JBSWY3DP"),
            Err(TotpSecretError::BadLength)
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }

    #[test]
    fn the_uri_names_issuer_user_and_parameters() {
        let uri = otpauth_uri(&rfc_secret(), "auth.example.com", "alice smith");
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/auth.example.com%3Aalice%20smith?secret={}&issuer=auth.example.com&algorithm=SHA1&digits=6&period={PERIOD}",
                rfc_secret().to_base32()
            )
        );
    }
}
