//! Token parsing and verification (`TokenKeys::verify`) for HS256, RS256, ES256 and EdDSA.
//!
//! The oracle: the fuzzer does not know the keys, so any input that verifies must say exactly
//! what a token the keyring issued says (same user, groups, email, jti, exp). A different
//! identity that verifies is a forgery; a panic is a crash.
//!
//! Input: first byte 0 → the rest is the token text; otherwise the rest is an edit script
//! (offset, byte) applied to the issued token of keyring entry `first byte % 4`, so the
//! fuzzer works on nearly valid tokens (signature, base64 and claim-parsing paths) too.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway::fuzzing::{Algorithm, TokenKeys, TokenSettings};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_700_000_000;
const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/keys/rsa-private.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/keys/ec-p256-private.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/keys/ed25519-private.pem");

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn settings(algorithm: Algorithm) -> TokenSettings {
    TokenSettings {
        algorithm,
        issuer: "https://auth.fuzz.test".to_owned(),
        audience: vec!["fuzz.test".to_owned()],
        leeway: Duration::from_secs(30),
        token_ttl: Duration::from_secs(3600),
        user_claim: "sub".to_owned(),
    }
}

/// Keys of every family and one token issued by each.
fn keyring() -> &'static [(TokenKeys, String)] {
    static KEYRING: OnceLock<Vec<(TokenKeys, String)>> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let keys = [
            TokenKeys::from_secret(
                settings(Algorithm::HS256),
                b"fuzz-only-secret-0123456789-abcdefghij",
            ),
            TokenKeys::from_pem(settings(Algorithm::RS256), RSA_PRIVATE, &[]),
            TokenKeys::from_pem(settings(Algorithm::ES256), EC_PRIVATE, &[]),
            TokenKeys::from_pem(settings(Algorithm::EdDSA), ED_PRIVATE, &[]),
        ];
        keys.into_iter()
            .map(|keys| {
                let keys = keys.expect("fuzz keys load");
                let groups = ["admins".to_owned(), "dev".to_owned()];
                let token = keys
                    .issue(
                        "alice",
                        &groups,
                        Some("alice@fuzz.test"),
                        Duration::from_secs(3600),
                        at(NOW),
                    )
                    .expect("issue");
                (keys, token)
            })
            .collect()
    })
}

fn check(token: &str) {
    for (keys, issued) in keyring() {
        if let Ok(verified) = keys.verify(token, at(NOW + 60)) {
            let original = keys
                .verify(issued, at(NOW + 60))
                .expect("issued token verifies");
            assert_eq!(
                verified, original,
                "a token the keyring never issued verified: {token:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            check(token);
        }
        return;
    }
    let (_, issued) = &keyring()[usize::from(mode) % keyring().len()];
    let mut bytes = issued.clone().into_bytes();
    for edit in rest.chunks_exact(3) {
        let offset = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
        match edit[2] {
            // 0xff truncates, 0xfe deletes one byte, anything else overwrites.
            0xff => bytes.truncate(offset % (bytes.len() + 1)),
            0xfe if !bytes.is_empty() => {
                bytes.remove(offset % bytes.len());
            }
            byte if !bytes.is_empty() => {
                let len = bytes.len();
                bytes[offset % len] = byte;
            }
            _ => {}
        }
    }
    if let Ok(token) = std::str::from_utf8(&bytes) {
        check(token);
    }
});
