//! Credential extraction: the `Authorization` header and the gateway cookie, as the request
//! path finds them (`Auth::credential`), and stripping our cookie before forwarding.
//!
//! Input: lines; a line's first byte chooses the header (even: `Authorization`, odd:
//! `Cookie`), the rest is its value. Oracles: a credential found is a substring of the
//! header it came from and, from a cookie, what `find_token` returns; after `strip_ours`
//! no gateway cookie is left and every other cookie pair is kept.

#![no_main]

use gateway::fuzzing::{CredentialSource, credential, find_token, strip_ours};
use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "gateway_token";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The cookie pairs not named `NAME`, trimmed, in order.
fn other_pairs(headers: &HeaderMap) -> Vec<Vec<u8>> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .map(|pair| pair.trim_ascii().to_vec())
        .filter(|pair| {
            let ours = pair
                .iter()
                .position(|b| *b == b'=')
                .is_some_and(|eq| pair[..eq].trim_ascii() == NAME.as_bytes());
            !pair.is_empty() && !ours
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some((&kind, value)) = line.split_first() else {
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        let name = if kind % 2 == 0 { AUTHORIZATION } else { COOKIE };
        headers.append(name, value);
    }
    for accept_raw in [false, true] {
        if let Ok(Some(found)) = credential(&headers, NAME, accept_raw) {
            let from = match found.source {
                CredentialSource::Header => AUTHORIZATION,
                CredentialSource::Cookie => COOKIE,
            };
            assert!(
                headers
                    .get_all(&from)
                    .iter()
                    .any(|v| contains(v.as_bytes(), found.token.as_bytes())),
                "{:?} is in no {from} header",
                found.token
            );
            if found.source == CredentialSource::Cookie {
                assert_eq!(find_token(&headers, NAME), Ok(Some(found.token)));
            }
        }
    }
    let kept = other_pairs(&headers);
    let mut stripped = headers.clone();
    strip_ours(&mut stripped, NAME);
    assert_eq!(
        find_token(&stripped, NAME),
        Ok(None),
        "a gateway cookie survived"
    );
    assert_eq!(
        other_pairs(&stripped),
        kept,
        "another cookie was lost or changed"
    );
});
