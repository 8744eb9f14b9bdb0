//! Recovery codes: ten random single-use codes printed once at enrollment, for a user who
//! lost their authenticator. The users file keeps only their password hashes (argon2id,
//! like passwords); spending one is recorded by the state store.
//!
//! A code is 10 base32 characters (50 bits) shown as two groups of five, `abcde-fghij`.
//! Comparison is on the [`normalized_recovery_code`] form, so case, spaces and the dash do
//! not matter to a user typing it.

use aws_lc_rs::rand;
use data_encoding::BASE32_NOPAD;

use super::RandomFailed;

/// How many recovery codes enrollment makes.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a code, dash not counted.
const CODE_CHARS: usize = 10;

/// `RECOVERY_CODE_COUNT` new codes from the OS's CSPRNG, as shown to the user.
///
/// # Errors
/// [`RandomFailed`].
pub fn new_recovery_codes() -> Result<Vec<String>, RandomFailed> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::fill(&mut bytes).map_err(|_| RandomFailed)?;
            let text = BASE32_NOPAD.encode(&bytes).to_lowercase();
            let (first, second) = text[..CODE_CHARS].split_at(CODE_CHARS / 2);
            Ok(format!("{first}-{second}"))
        })
        .collect()
}

/// The form a code is hashed and compared in: lower case, without spaces or dashes; `None`
/// when it cannot be a recovery code (so nothing is hashed for it).
pub fn normalized_recovery_code(code: &str) -> Option<String> {
    let normalized: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let alphabet = |c: char| c.is_ascii_lowercase() || ('2'..='7').contains(&c);
    (normalized.len() == CODE_CHARS && normalized.chars().all(alphabet)).then_some(normalized)
}

#[cfg(test)]
mod tests {
    use super::{RECOVERY_CODE_COUNT, new_recovery_codes, normalized_recovery_code};

    #[test]
    fn new_codes_are_distinct_and_normalize_to_themselves_without_the_dash() {
        let codes = new_recovery_codes().expect("random");
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(
                normalized_recovery_code(code).expect("valid"),
                code.replace('-', "")
            );
        }
    }

    #[test]
    fn typing_variations_are_forgiven_and_other_text_is_refused() {
        assert_eq!(
            normalized_recovery_code(" ABCDE-fghij ").as_deref(),
            Some("abcdefghij")
        );
        for bad in [
            "",
            "abcde",
            "abcde-fghij-k",
            "abcde-fghi1",
            "abcde_fghij",
            "123456",
        ] {
            assert_eq!(normalized_recovery_code(bad), None, "{bad:?}");
        }
    }
}
