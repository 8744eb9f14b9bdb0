//! Property tests of `rd=` and Origin validation: whatever is generated — redirect shapes
//! assembled from the pieces of known bypasses, or arbitrary strings — an accepted `rd`
//! never leaves the allowed domains.
//!
//! An accepted `rd` is returned unchanged and is exactly one of:
//! - a path that starts with a single `/`, not followed by `/` or `\`;
//! - an `https://` URL whose host (no userinfo, no escapes) is an allowed domain or a
//!   subdomain of one on a label boundary.
//!
//! Either way it holds no byte a browser would drop or reinterpret (controls, whitespace,
//! `\`, non-ASCII). An accepted `Origin` is `https://` + an allowed host + an optional port.

use http::HeaderMap;
use http::header::{HeaderValue, ORIGIN};
use proptest::prelude::*;

use super::{origin_allowed, safe_redirect};

fn allowed() -> Vec<String> {
    vec!["example.com".to_owned(), "corp.example.org".to_owned()]
}

/// The host an `https://` URL names (lower-case), as a URL parser would take it, or `None`
/// when the authority has userinfo or escapes (never acceptable).
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
    allowed()
        .iter()
        .any(|domain| host == domain || host.ends_with(&format!(".{domain}")))
}

/// Asserts what an accepted `rd` may be.
fn assert_safe(rd: &str, accepted: &str) {
    assert_eq!(rd, accepted, "returned something else than the input");
    assert!(
        rd.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
        "{rd:?}: a byte a browser would drop or reinterpret"
    );
    if let Some(after) = rd.strip_prefix('/') {
        assert!(!after.starts_with(['/', '\\']), "{rd:?}: scheme-relative");
        return;
    }
    let host = https_host(rd).unwrap_or_else(|| panic!("{rd:?}: neither a path nor https"));
    assert!(
        on_allowed_domain(&host),
        "{rd:?}: host {host:?} is not allowed"
    );
}

/// Redirect targets assembled from the pieces of open-redirect bypasses.
fn redirect() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "",
        "/",
        "//",
        "///",
        "/\\",
        "\\",
        "\\\\",
        "https://",
        "HTTPS://",
        "https:",
        "https:/",
        "https:///",
        "http://",
        "javascript:",
        "data:",
        " ",
        "\t",
        "/\t/",
        "%2f%2f",
        "https://@",
    ]);
    let host = prop::sample::select(vec![
        "example.com",
        "app.example.com",
        "a.b.example.com",
        "corp.example.org",
        "x.corp.example.org",
        "example.org",
        "evil.test",
        "example.com.evil.test",
        "evilexample.com",
        "example.com@evil.test",
        "evil.test@example.com",
        "evil.test%2fexample.com",
        "%65xample.com",
        "example.com.",
        "EXAMPLE.COM",
        "127.0.0.1",
        "[::1]",
        "0x7f.1",
        "xn--exmple-cua.com",
        "example.com\\.evil.test",
        "",
    ]);
    let port = prop::sample::select(vec!["", ":443", ":8443", ":0", ":99999", ":", ":x"]);
    let rest = prop::sample::select(vec![
        "",
        "/",
        "/path?q=1",
        "?next=//evil.test",
        "#@evil.test",
        "/%2F/evil.test",
        "/%5Cevil.test",
        "\\@evil.test",
        "/..//evil.test",
        "/%0d%0aLocation:x",
        "@evil.test/",
        "/\u{e9}",
    ]);
    (prefix, host, port, rest)
        .prop_map(|(prefix, host, port, rest)| format!("{prefix}{host}{port}{rest}"))
}

proptest! {
    // Validation is cheap and most generated shapes are (rightly) refused: run enough cases
    // that about a hundred are accepted and checked.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn an_accepted_redirect_never_leaves_the_allowed_domains(rd in redirect()) {
        if let Some(accepted) = safe_redirect(&rd, &allowed()) {
            assert_safe(&rd, accepted);
        }
    }

    #[test]
    fn arbitrary_redirects_never_panic_and_are_safe_when_accepted(
        rd in "\\PC{0,40}|(/|https://)[ -~]{0,40}"
    ) {
        if let Some(accepted) = safe_redirect(&rd, &allowed()) {
            assert_safe(&rd, accepted);
        }
    }

    #[test]
    fn subdomains_on_a_label_boundary_are_accepted(
        labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", 0..4),
        path in "(/[a-zA-Z0-9._~-]{0,8}){0,3}",
    ) {
        // The validator must not be so strict that it refuses what it promises to allow.
        let mut host = labels.join(".");
        if !host.is_empty() {
            host.push('.');
        }
        host.push_str("example.com");
        let rd = format!("https://{host}{path}");
        prop_assert_eq!(safe_redirect(&rd, &allowed()), Some(rd.as_str()));
    }

    #[test]
    fn an_accepted_origin_is_an_allowed_https_origin(rd in redirect()) {
        let Ok(value) = HeaderValue::from_str(&rd) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, value);
        if origin_allowed(&headers, &allowed()) {
            let host = https_host(&rd).unwrap_or_else(|| panic!("{rd:?}: not https"));
            prop_assert!(on_allowed_domain(&host), "{:?}: host {:?}", rd, host);
            let authority_end = rd[8..].find(['/', '?', '#']).map_or(rd.len(), |i| i + 8);
            prop_assert_eq!(authority_end, rd.len(), "{:?}: more than an origin", rd);
        }
    }
}
