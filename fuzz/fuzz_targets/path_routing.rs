//! Path and host normalization, routing, and the handler's request-target step.
//!
//! Input: `host\npath` (no newline: the whole input is the path, on `app.example.com`).
//! Oracles: normalization is idempotent and its output has no `//`, no dot segment, no
//! `%2F`/`%5C`/`%00`, no escaped unreserved character; a route matches only on a segment
//! boundary of its prefix; routing a normalized path again gives the same route; what the
//! request-target step returns is itself normalized.

#![no_main]

use std::sync::OnceLock;

use gateway::fuzzing::{
    HostPattern, Router, normalize_host, normalize_path, parse_route_prefix, request_target,
};
use libfuzzer_sys::fuzz_target;

/// (host pattern, prefix) of each route; the payload is the index.
const ROUTES: &[(&str, &str)] = &[
    ("app.example.com", "/"),
    ("app.example.com", "/public"),
    ("app.example.com", "/admin"),
    ("app.example.com", "/admin/api/v1"),
    ("*.example.com", "/"),
    ("*.example.com", "/static"),
    ("*.b.example.com", "/"),
    ("", "/"),
    ("", "/.well-known"),
];

fn router() -> &'static Router<usize> {
    static ROUTER: OnceLock<Router<usize>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        Router::new(
            ROUTES
                .iter()
                .enumerate()
                .map(|(i, (host, prefix))| {
                    let pattern = if host.is_empty() {
                        HostPattern::Any
                    } else {
                        HostPattern::parse(host).expect("route host")
                    };
                    (
                        pattern,
                        parse_route_prefix(prefix).expect("route prefix"),
                        i,
                    )
                })
                .collect(),
        )
    })
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn assert_normalized(input: &str, out: &str) {
    assert!(out.starts_with('/'), "{input:?} → {out:?}");
    assert!(!out.contains("//"), "{input:?} → {out:?}");
    assert!(
        out.split('/').all(|s| s != "." && s != ".."),
        "{input:?} → {out:?}"
    );
    assert!(
        out.bytes().all(|b| b.is_ascii_graphic()),
        "{input:?} → {out:?}"
    );
    for (i, _) in out.match_indices('%') {
        let hex = &out[i + 1..i + 3];
        let value = u8::from_str_radix(hex, 16).expect("escape");
        assert_eq!(hex, hex.to_ascii_uppercase(), "{input:?} → {out:?}");
        assert!(!is_unreserved(value), "{input:?} → {out:?}");
        assert!(!matches!(value, b'/' | b'\\' | 0), "{input:?} → {out:?}");
    }
    assert_eq!(
        normalize_path(out).as_deref(),
        Ok(out),
        "not idempotent: {input:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (raw_host, raw_path) = text.split_once('\n').unwrap_or(("app.example.com", text));
    let _ = parse_route_prefix(raw_path);
    let _ = HostPattern::parse(raw_host);
    let host = normalize_host(raw_host);
    if let Ok(host) = &host {
        assert_eq!(normalize_host(host).as_ref(), Ok(host), "{raw_host:?}");
    }
    if let Ok(path) = normalize_path(raw_path) {
        assert_normalized(raw_path, &path);
        if let Ok(host) = &host {
            // An ambiguous path is refused; an accepted one matched on a segment boundary.
            let route = router().route(host, &path).map(Option::<&usize>::copied);
            if let Ok(Some(index)) = route {
                let prefix = parse_route_prefix(ROUTES[index].1).expect("prefix");
                assert!(
                    prefix == "/" || path == prefix || path.starts_with(&format!("{prefix}/")),
                    "{path:?} matched {prefix:?} off a segment boundary"
                );
            }
            let again = normalize_path(&path).expect("idempotent");
            assert_eq!(router().route(host, &again).map(Option::<&usize>::copied), route);
        }
    }
    // The same text as a request: target and Host header.
    if let Ok(request) = http::Request::builder()
        .uri(raw_path)
        .header(http::header::HOST, raw_host)
        .body(())
        && let Ok((host, path_and_query)) = request_target(&request)
    {
        assert_eq!(normalize_host(&host).as_deref(), Ok(host.as_str()));
        assert_normalized(raw_path, path_and_query.path());
    }
});
