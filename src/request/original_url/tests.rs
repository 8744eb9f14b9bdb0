//! Which headers `/.auth/verify` reads: only the configured set, each exactly once, all
//! required, every value well-formed.

use http::{HeaderValue, Method};

use super::{Original, OriginalUrlError};
use crate::config::UrlSource;
use crate::http::test_headers as headers;

/// What Traefik, Caddy and the nginx example send for `GET https://app.example.com/admin/x?a=1`.
const X_FORWARDED: [(&str, &str); 4] = [
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "App.Example.com:8443"),
    ("x-forwarded-uri", "/admin//x/./?a=1"),
    ("x-forwarded-method", "POST"),
];

/// What ingress-nginx sends for the same request.
const X_ORIGINAL: [(&str, &str); 2] = [
    (
        "x-original-url",
        "https://App.Example.com:8443/admin//x/./?a=1",
    ),
    ("x-original-method", "POST"),
];

/// A forged copy of the other set, naming a public page.
const FORGED_X_ORIGINAL: (&str, &str) = ("x-original-url", "https://app.example.com/public");

fn read(pairs: &[(&str, &str)], source: UrlSource) -> Result<Original, OriginalUrlError> {
    Original::from_headers(&headers(pairs), source)
}

fn expect_admin(original: &Original) {
    assert_eq!(original.host, "app.example.com");
    assert_eq!(original.authority, "App.Example.com:8443");
    assert_eq!(original.path, "/admin/x/");
    assert_eq!(original.query.as_deref(), Some("a=1"));
    assert_eq!(original.method, Method::POST);
    assert_eq!(original.scheme.as_str(), "https");
}

#[test]
fn x_forwarded_is_read_and_x_original_url_is_ignored() {
    let mut pairs = X_FORWARDED.to_vec();
    pairs.push(FORGED_X_ORIGINAL);
    pairs.push(("x-original-method", "GET"));
    expect_admin(&read(&pairs, UrlSource::XForwarded).expect("valid"));
}

#[test]
fn x_original_url_is_read_and_x_forwarded_is_ignored() {
    let mut pairs = X_ORIGINAL.to_vec();
    pairs.extend([
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", "/public"),
        ("x-forwarded-method", "GET"),
    ]);
    expect_admin(&read(&pairs, UrlSource::XOriginalUrl).expect("valid"));
}

#[test]
fn the_other_set_is_never_a_fallback() {
    // Only X-Original-URL, with url_from = x-forwarded: missing, not read.
    let error = read(&X_ORIGINAL, UrlSource::XForwarded).expect_err("refused");
    assert!(
        matches!(
            error,
            OriginalUrlError::Missing {
                header: "x-forwarded-proto",
                ..
            }
        ),
        "{error:?}"
    );
    let error = read(&X_FORWARDED, UrlSource::XOriginalUrl).expect_err("refused");
    assert!(
        matches!(
            error,
            OriginalUrlError::Missing {
                header: "x-original-url",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn every_header_of_the_chosen_set_is_required() {
    for (source, set) in [
        (UrlSource::XForwarded, X_FORWARDED.as_slice()),
        (UrlSource::XOriginalUrl, X_ORIGINAL.as_slice()),
    ] {
        for (missing, _) in set {
            let pairs: Vec<_> = set.iter().filter(|(n, _)| n != missing).copied().collect();
            match read(&pairs, source) {
                Err(OriginalUrlError::Missing { header, url_from }) => {
                    assert_eq!(header, *missing);
                    assert_eq!(url_from, source);
                }
                other => panic!("without {missing}: {other:?}"),
            }
        }
    }
    let message = read(&[], UrlSource::XOriginalUrl)
        .expect_err("refused")
        .to_string();
    assert_eq!(
        message,
        "forward-auth request lacks x-original-url (url_from = \"x-original-url\"); the proxy must set it"
    );
}

#[test]
fn a_repeated_header_is_refused() {
    // A proxy that appends to the client's copy instead of replacing it.
    for (name, value) in X_FORWARDED {
        let mut pairs = X_FORWARDED.to_vec();
        pairs.push((name, value));
        assert!(
            matches!(
                read(&pairs, UrlSource::XForwarded),
                Err(OriginalUrlError::Duplicate { header }) if header == name
            ),
            "{name}"
        );
    }
    let mut pairs = X_ORIGINAL.to_vec();
    pairs.push(FORGED_X_ORIGINAL);
    assert!(matches!(
        read(&pairs, UrlSource::XOriginalUrl),
        Err(OriginalUrlError::Duplicate {
            header: "x-original-url"
        })
    ));
}

/// `X_FORWARDED` with `name` set to `value`.
fn forwarded_with(name: &str, value: &str) -> Result<Original, OriginalUrlError> {
    let pairs: Vec<_> = X_FORWARDED
        .iter()
        .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
        .collect();
    read(&pairs, UrlSource::XForwarded)
}

/// `X_ORIGINAL` with `name` set to `value`.
fn original_with(name: &str, value: &str) -> Result<Original, OriginalUrlError> {
    let pairs: Vec<_> = X_ORIGINAL
        .iter()
        .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
        .collect();
    read(&pairs, UrlSource::XOriginalUrl)
}

#[test]
fn malformed_values_are_refused() {
    let cases: Vec<(&str, &str, Result<Original, OriginalUrlError>)> = vec![
        (
            "proto ftp",
            "Scheme",
            forwarded_with("x-forwarded-proto", "ftp"),
        ),
        (
            "proto list",
            "Scheme",
            forwarded_with("x-forwarded-proto", "https, http"),
        ),
        (
            "host list",
            "Host",
            forwarded_with("x-forwarded-host", "a.example.com, b.example.com"),
        ),
        (
            "host userinfo",
            "Host",
            forwarded_with("x-forwarded-host", "evil@app.example.com"),
        ),
        ("host empty", "Host", forwarded_with("x-forwarded-host", "")),
        (
            "uri absolute",
            "Url",
            forwarded_with("x-forwarded-uri", "https://app.example.com/x"),
        ),
        (
            "uri relative",
            "Url",
            forwarded_with("x-forwarded-uri", "admin"),
        ),
        ("uri empty", "Url", forwarded_with("x-forwarded-uri", "")),
        (
            "uri climbs",
            "Path",
            forwarded_with("x-forwarded-uri", "/../admin"),
        ),
        (
            "uri %2F",
            "Path",
            forwarded_with("x-forwarded-uri", "/public%2F..%2Fadmin"),
        ),
        (
            "method space",
            "Method",
            forwarded_with("x-forwarded-method", "GE T"),
        ),
        (
            "method empty",
            "Method",
            forwarded_with("x-forwarded-method", ""),
        ),
        (
            "url relative",
            "Scheme",
            original_with("x-original-url", "/admin"),
        ),
        (
            "url scheme",
            "Scheme",
            original_with("x-original-url", "ftp://app.example.com/"),
        ),
        (
            "url no scheme",
            "Url",
            original_with("x-original-url", "app.example.com/admin"),
        ),
        (
            "url userinfo",
            "Host",
            original_with("x-original-url", "https://u@app.example.com/"),
        ),
        (
            "url climbs",
            "Path",
            original_with("x-original-url", "https://app.example.com/../x"),
        ),
        (
            "method (original)",
            "Method",
            original_with("x-original-method", "G(T"),
        ),
    ];
    for (what, kind, result) in cases {
        let error = result.expect_err(what);
        let debug = format!("{error:?}");
        assert!(debug.starts_with(kind), "{what}: {debug}");
    }
    let mut map = headers(&X_FORWARDED);
    map.insert(
        "x-forwarded-uri",
        HeaderValue::from_bytes(b"/caf\xc3\xa9").expect("value"),
    );
    assert!(matches!(
        Original::from_headers(&map, UrlSource::XForwarded),
        Err(OriginalUrlError::NotText { .. })
    ));
}

#[test]
fn a_url_without_a_path_is_the_root_and_methods_may_be_any_token() {
    let original = original_with("x-original-url", "http://app.example.com").expect("valid");
    assert_eq!(original.path, "/");
    assert_eq!(original.scheme.as_str(), "http");
    let original = forwarded_with("x-forwarded-method", "PROPFIND").expect("valid");
    assert_eq!(original.method.as_str(), "PROPFIND");
}
