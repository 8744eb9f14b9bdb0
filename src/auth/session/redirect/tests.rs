//! Tests of `redirect`.

use http::header::{ORIGIN, REFERER};
use http::{HeaderMap, HeaderValue};

use super::{FALLBACK_REDIRECT, MAX_REDIRECT_LEN, origin_allowed, safe_redirect};

fn allowed() -> Vec<String> {
    vec!["example.com".to_owned()]
}

fn accepted(rd: &str) -> bool {
    safe_redirect(rd, &allowed()) == Some(rd)
}

#[test]
fn relative_paths_on_this_host_are_accepted_unchanged() {
    for rd in [
        "/",
        "/app",
        "/app/page?x=1&y=%2F#frag",
        "/a/b/../c",
        "/caf%C3%A9",
        "/?next=//evil.com",
        "/#//evil.com",
        "/search?q=a[]",
        "/https://evil.com",
        "/a:b@c",
    ] {
        assert!(accepted(rd), "{rd}");
    }
}

#[test]
fn https_urls_on_allowed_domains_and_subdomains_are_accepted() {
    for rd in [
        "https://example.com",
        "https://example.com/",
        "https://app.example.com/path?q=1#f",
        "https://a.b.app.example.com:8443/",
        "https://app.example.com?x=1",
        "https://app.example.com#top",
        "HTTPS://App.Example.COM/Path",
        "https://example.com#@evil.net",
        "https://xn--bcher-kva.example.com/",
    ] {
        assert!(accepted(rd), "{rd}");
    }
}

#[test]
fn open_redirect_bypass_shapes_fall_back() {
    let bypasses = [
        // Protocol-relative and backslash tricks.
        "//evil.com",
        "///evil.com",
        "////evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "\\/evil.com",
        "/\\/evil.com",
        "//example.com",
        // Scheme tricks.
        "https:evil.com",
        "https:/evil.com",
        "https:///evil.com",
        "https:\\\\evil.com",
        "http://app.example.com/",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "javascript://example.com/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/",
        "evil.com",
        "example.com/path",
        "?next=/",
        "#frag",
        // Userinfo.
        "https://example.com@evil.net",
        "https://user:pw@app.example.com",
        "https://example.com:443@evil.net",
        "https://evil.net\\@example.com",
        "https://example.com%40evil.net",
        "https://example.com%2F@evil.net",
        // Look-alike hosts.
        "https://app.example.com.evil.net",
        "https://example.com.evil.net/",
        "https://evilexample.com",
        "https://evil.net/.example.com",
        "https://evil.net?.example.com",
        "https://evil.net#.example.com",
        "https://evil.net;.example.com",
        "https://evil.net&.example.com",
        "https://evil.net%23.example.com",
        "https://exa%6dple.com",
        "https://example.com%2eevil.net",
        "https://example.com%00.evil.net",
        "https://ex\u{0430}mple.com/",
        "https://example.com./",
        "https://.example.com/",
        "https://app..example.com/",
        "https://-app.example.com/",
        "https://app_1.example.com/",
        // Whitespace and control characters anywhere.
        "",
        " /app",
        "/app ",
        "/ /evil.com",
        "/\t/evil.com",
        "ht\ttps://example.com/",
        "https:\t//evil.com",
        "https://evil\n.com",
        "/\r\nSet-Cookie: a=b",
        "\u{0}//evil.com",
        "/app\u{7f}",
        "https://example.com/\u{2028}",
        "\u{ff0f}\u{ff0f}evil.com",
        "/\"onmouseover=alert(1)",
        "/<script>",
        // Encoded separators and controls.
        "/%2F%2Fevil.com",
        "/%2f/evil.com",
        "/%5Cevil.com",
        "/%5c%5cevil.com",
        "https://app.example.com/%2F%2Fevil.com",
        "/%09/evil.com",
        "/%0d%0aSet-Cookie:a=b",
        "/?x=%00",
        "/%",
        "/%2",
        "/%zz",
        // IP literals and ports.
        "https://[::1]/",
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://example.com:99999/",
        "https://example.com:0/",
        "https://example.com:/",
        "https://example.com:443:443/",
        "https://example.com:8o/",
        // Path brackets.
        "/[evil]",
    ];
    assert!(bypasses.len() >= 40);
    for rd in bypasses {
        assert_eq!(safe_redirect(rd, &allowed()), None, "{rd:?}");
    }
}

#[test]
fn an_overlong_redirect_falls_back() {
    let long = format!("/{}", "a".repeat(MAX_REDIRECT_LEN));
    assert_eq!(safe_redirect(&long, &allowed()), None);
    let limit = format!("/{}", "a".repeat(MAX_REDIRECT_LEN - 1));
    assert!(accepted(&limit));
}

#[test]
fn without_allowed_domains_only_relative_paths_pass() {
    assert_eq!(safe_redirect("https://example.com/", &[]), None);
    assert_eq!(safe_redirect("/ok", &[]), Some("/ok"));
    assert_eq!(
        safe_redirect("//evil", &[]).unwrap_or(FALLBACK_REDIRECT),
        "/"
    );
}

#[test]
fn ip_literals_pass_only_when_listed_exactly() {
    let listed = vec!["127.0.0.1".to_owned(), "[::1]".to_owned()];
    assert!(safe_redirect("https://127.0.0.1:8443/x", &listed).is_some());
    assert!(safe_redirect("https://[::1]:8443/", &listed).is_some());
    assert!(safe_redirect("https://[::1]", &listed).is_some());
    assert!(safe_redirect("https://1.127.0.0.1/", &listed).is_none());
    assert!(safe_redirect("https://[::2]/", &listed).is_none());
    assert!(safe_redirect("https://[::1]x/", &listed).is_none());
    assert!(safe_redirect("https://[::1/", &listed).is_none());
}

fn headers(pairs: &[(http::HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(name, HeaderValue::from_str(value).expect("valid header"));
    }
    map
}

#[test]
fn origin_on_an_allowed_domain_passes() {
    for origin in [
        "https://example.com",
        "https://app.example.com",
        "https://app.example.com:8443",
    ] {
        assert!(
            origin_allowed(&headers(&[(ORIGIN, origin)]), &allowed()),
            "{origin}"
        );
    }
}

#[test]
fn bad_origins_are_refused() {
    for origin in [
        "null",
        "http://app.example.com",
        "https://evilexample.com",
        "https://app.example.com.evil.net",
        "https://app.example.com/",
        "https://user@app.example.com",
        "https://127.0.0.1",
        "",
    ] {
        assert!(
            !origin_allowed(&headers(&[(ORIGIN, origin)]), &allowed()),
            "{origin:?}"
        );
    }
}

#[test]
fn a_null_or_bad_origin_is_not_rescued_by_a_good_referer() {
    let h = headers(&[(ORIGIN, "null"), (REFERER, "https://app.example.com/page")]);
    assert!(!origin_allowed(&h, &allowed()));
}

#[test]
fn two_origin_headers_are_refused() {
    let h = headers(&[
        (ORIGIN, "https://example.com"),
        (ORIGIN, "https://example.com"),
    ]);
    assert!(!origin_allowed(&h, &allowed()));
}

#[test]
fn referer_is_used_when_origin_is_absent() {
    let good = headers(&[(REFERER, "https://app.example.com/login?rd=%2F#x")]);
    assert!(origin_allowed(&good, &allowed()));
    for referer in [
        "http://app.example.com/",
        "https://evil.net/?https://example.com",
        "https://example.com@evil.net/",
        "https://evilexample.com/",
        "/relative",
    ] {
        let h = headers(&[(REFERER, referer)]);
        assert!(!origin_allowed(&h, &allowed()), "{referer}");
    }
}

#[test]
fn neither_origin_nor_referer_is_refused() {
    assert!(!origin_allowed(&HeaderMap::new(), &allowed()));
}

#[test]
fn a_non_utf8_origin_is_refused() {
    let mut h = HeaderMap::new();
    h.insert(
        ORIGIN,
        HeaderValue::from_bytes(b"https://\xffexample.com").expect("obs-text"),
    );
    assert!(!origin_allowed(&h, &allowed()));
}
