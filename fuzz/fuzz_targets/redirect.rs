//! `rd=` validation (`safe_redirect`) and the CSRF Origin/Referer check (`origin_allowed`).
//!
//! Oracles: an accepted `rd` is the input itself, holds only printable ASCII without `\`,
//! and is either a path starting with one `/` (not `//`, not `/\`) or an `https://` URL
//! whose host — read the way a URL parser reads it — is an allowed domain or a subdomain on
//! a label boundary. An accepted Origin is exactly `https://` + such a host + a port.

#![no_main]

use gateway::fuzzing::{origin_allowed, safe_redirect};
use http::header::{ORIGIN, REFERER};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const ALLOWED: [&str; 2] = ["example.com", "corp.example.org"];

fn allowed() -> Vec<String> {
    ALLOWED.iter().map(|d| (*d).to_owned()).collect()
}

/// The lower-cased host of an `https://` URL, or `None` with userinfo or escapes in the
/// authority.
fn https_host(url: &str) -> Option<String> {
    let rest = url
        .get(..8)?
        .eq_ignore_ascii_case("https://")
        .then(|| &url[8..])?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains(['@', '%', '\\']) {
        return None;
    }
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority.split(':').next()?
    };
    Some(host.to_ascii_lowercase())
}

fn on_allowed_domain(host: &str) -> bool {
    ALLOWED
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

fuzz_target!(|data: &[u8]| {
    let Ok(rd) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(accepted) = safe_redirect(rd, &allowed()) {
        assert_eq!(accepted, rd);
        assert!(
            rd.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
            "{rd:?}"
        );
        if let Some(after) = rd.strip_prefix('/') {
            assert!(!after.starts_with(['/', '\\']), "{rd:?}: scheme-relative");
        } else {
            let host = https_host(rd).unwrap_or_else(|| panic!("{rd:?}: not a path nor https"));
            assert!(on_allowed_domain(&host), "{rd:?}: {host:?}");
        }
    }
    let Ok(value) = HeaderValue::from_str(rd) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, value.clone());
    if origin_allowed(&headers, &allowed()) {
        let host = https_host(rd).unwrap_or_else(|| panic!("Origin {rd:?}: not https"));
        assert!(on_allowed_domain(&host), "Origin {rd:?}");
        assert!(
            !rd[8..].contains(['/', '?', '#']),
            "Origin {rd:?}: more than an origin"
        );
    }
    let mut headers = HeaderMap::new();
    headers.insert(REFERER, value);
    if origin_allowed(&headers, &allowed()) {
        let host = https_host(rd).unwrap_or_else(|| panic!("Referer {rd:?}: not https"));
        assert!(on_allowed_domain(&host), "Referer {rd:?}");
    }
});
