//! Property tests of request-target normalization: the invariants the module docs promise,
//! checked on generated paths and hosts built from the pieces attackers combine (dot
//! segments raw and encoded, escapes of every kind, `;`, `\`, doubled slashes) and on
//! arbitrary strings.
//!
//! - [`normalize_path`] is idempotent, and what it returns starts with `/`, has no `//`,
//!   `.` or `..` segment (raw or encoded), no `%2F`/`%5C`/`%00`, no escape of an
//!   unreserved character, only upper-case escapes, and nothing but printable ASCII.
//! - [`normalize_host`] is idempotent, lower-case, without a port or a trailing dot.
//! - Neither ever panics.
//! - A path [`Router::route`] accepts reaches the route a Tomcat-like, case-insensitive
//!   upstream would serve it from (checked against a model of that upstream written here).

use proptest::prelude::*;

use super::{HostPattern, PathError, Router, normalize_host, normalize_path};

/// Pieces of path segments, chosen to collide: dot segments in every spelling, escapes
/// of unreserved, reserved and forbidden bytes, malformed escapes, and raw bytes the
/// normalizer must refuse.
fn segment_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just(".%2e".to_owned()),
        Just("%2e%2E".to_owned()),
        Just("..;".to_owned()),
        Just(";".to_owned()),
        Just("%3b".to_owned()),
        Just("%41".to_owned()),
        Just("%7e".to_owned()),
        Just("%7E".to_owned()),
        Just("%2d%5f".to_owned()),
        Just("%2f".to_owned()),
        Just("%2F".to_owned()),
        Just("%5c".to_owned()),
        Just("%00".to_owned()),
        Just("%25".to_owned()),
        Just("%252e".to_owned()),
        Just("%c0%ae".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("%20".to_owned()),
        Just("%".to_owned()),
        Just("%2".to_owned()),
        Just("%zz".to_owned()),
        Just("\\".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just(" ".to_owned()),
        Just("\u{e9}".to_owned()),
        Just("\t".to_owned()),
        "[a-zA-Z0-9._~!$&'()*+,;=:@-]{1,6}",
    ]
}

/// A path: `/` plus segments made of one to three pieces each.
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec(segment_piece(), 1..3), 0..8).prop_map(|segments| {
        let joined: Vec<String> = segments.into_iter().map(|s| s.concat()).collect();
        format!("/{}", joined.join("/"))
    })
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Asserts every invariant of a normalized path.
fn assert_normalized(input: &str, out: &str) {
    assert!(out.starts_with('/'), "{input:?} → {out:?}: not absolute");
    assert!(!out.contains("//"), "{input:?} → {out:?}: `//`");
    for segment in out.split('/').skip(1) {
        assert!(
            segment != "." && segment != "..",
            "{input:?} → {out:?}: dot segment"
        );
    }
    assert!(
        out.bytes().all(|b| b.is_ascii_graphic()),
        "{input:?} → {out:?}: a byte that is not printable ASCII"
    );
    assert!(
        !out.contains(['\\', '#', '?']),
        "{input:?} → {out:?}: a raw `\\`, `#` or `?`"
    );
    for (i, _) in out.match_indices('%') {
        let hex = out
            .get(i + 1..i + 3)
            .unwrap_or_else(|| panic!("{input:?} → {out:?}: truncated escape"));
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
            "{input:?} → {out:?}: escape {hex:?} not upper-case hex"
        );
        let value = u8::from_str_radix(hex, 16).expect("hex");
        assert!(
            !is_unreserved(value),
            "{input:?} → {out:?}: escaped unreserved character %{hex}"
        );
        assert!(
            !matches!(value, b'/' | b'\\' | 0),
            "{input:?} → {out:?}: %{hex} survived"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn normalized_paths_are_idempotent_and_clean(input in path()) {
        if let Ok(out) = normalize_path(&input) {
            assert_normalized(&input, &out);
            prop_assert_eq!(normalize_path(&out), Ok(out.clone()), "not idempotent: {:?}", input);
        }
    }

    #[test]
    fn arbitrary_paths_never_panic_and_keep_the_invariants(input in "\\PC{0,40}|/[ -~]{0,40}") {
        if let Ok(out) = normalize_path(&input) {
            assert_normalized(&input, &out);
            prop_assert_eq!(normalize_path(&out), Ok(out.clone()));
        }
    }

    #[test]
    fn dot_segments_never_survive_in_any_spelling(
        prefix in prop::collection::vec("[a-z]{1,4}", 0..4),
        dots in prop::sample::select(vec![".", "..", "%2e", "%2E", "%2e%2e", ".%2E", "%2E."]),
        suffix in prop::collection::vec("[a-z]{1,4}", 0..4),
    ) {
        let input = format!("/{}", [prefix.join("/"), dots.to_owned(), suffix.join("/")].join("/"));
        if let Ok(out) = normalize_path(&input) {
            assert_normalized(&input, &out);
            let lower = out.to_ascii_lowercase();
            prop_assert!(!lower.split('/').any(|s| s == "%2e" || s == "%2e%2e" || s == ".%2e" || s == "%2e."));
        }
    }
}

/// Hosts built from labels, case, a trailing dot and ports, plus IPv6 literals and junk.
fn host() -> impl Strategy<Value = String> {
    let name = (
        prop::collection::vec("[a-zA-Z0-9_-]{1,8}", 1..5),
        any::<bool>(),
        prop::option::of(prop_oneof![
            Just(String::new()),
            "[0-9]{1,6}",
            Just("+443".to_owned()),
            Just("0".to_owned())
        ]),
    )
        .prop_map(|(labels, dot, port)| {
            let mut host = labels.join(".");
            if dot {
                host.push('.');
            }
            if let Some(port) = port {
                host.push(':');
                host.push_str(&port);
            }
            host
        });
    prop_oneof![
        4 => name,
        1 => prop::sample::select(vec![
            "[::1]", "[0:0:0:0:0:0:0:1]:443", "[::FFFF:127.0.0.1]", "[::1", "[x]", "127.0.0.1:80",
            "a..b", ".a", "a@b", "a b", "A.Example.COM.", "*.a", "a/b",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,20}",
    ]
}

proptest! {
    #[test]
    fn normalized_hosts_are_idempotent_lower_case_and_portless(input in host()) {
        if let Ok(out) = normalize_host(&input) {
            prop_assert_eq!(normalize_host(&out), Ok(out.clone()), "not idempotent: {:?}", input);
            prop_assert_eq!(out.to_ascii_lowercase(), out.clone());
            prop_assert!(!out.ends_with('.'), "{:?} → {:?}", input, out);
            if !out.starts_with('[') {
                prop_assert!(!out.contains(':'), "{:?} → {:?}: port kept", input, out);
                prop_assert!(
                    out.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
                    "{:?} → {:?}", input, out
                );
            }
        }
    }
}

/// Segments that spell the routes of [`lenient_router`] with case games, `;` parameters and
/// the dot segments that only appear once parameters are cut.
fn route_game_segment() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "admin",
        "ADMIN",
        "Admin",
        "admin;x",
        "ADMIN;jsessionid=1",
        "admin%3Bx",
        "admin%3bx",
        "keys",
        "KEYS;",
        "api",
        "Api",
        "public",
        "..",
        "..;",
        "..;x=1",
        "%2e%2e;",
        ".;",
        ";",
        ";x",
        ".",
        "",
    ])
    .prop_map(str::to_owned)
}

/// `/` open, `/public` open, `/admin` and `/admin/keys` stricter, `/api` its own.
fn lenient_router() -> Router<&'static str> {
    Router::for_any_method(
        [
            ("/", "open"),
            ("/public", "public"),
            ("/admin", "admin"),
            ("/admin/keys", "keys"),
            ("/api", "api"),
        ]
        .into_iter()
        .map(|(prefix, name)| (HostPattern::Any, prefix.to_owned(), name))
        .collect(),
    )
}

/// The route a Tomcat-like upstream that also ignores case serves `path` from, written
/// without the router's code: cut `;`/`%3B` parameters, lower-case, resolve dot segments
/// with a stack, then take the longest of the five prefixes. `None` above the root.
fn upstream_model(path: &str) -> Option<&'static str> {
    let mut stack: Vec<String> = Vec::new();
    for segment in path.split('/').skip(1) {
        let lower = segment.to_ascii_lowercase();
        let name = lower.split(';').next().unwrap_or("");
        let name = name.split("%3b").next().unwrap_or("");
        match name {
            "" | "." => {}
            ".." => {
                stack.pop()?;
            }
            other => stack.push(other.to_owned()),
        }
    }
    Some(match stack.as_slice() {
        [first, second, ..] if first == "admin" && second == "keys" => "keys",
        [first, ..] if first == "admin" => "admin",
        [first, ..] if first == "api" => "api",
        [first, ..] if first == "public" => "public",
        _ => "open",
    })
}

/// The route the gateway's own reading of a normalized `path` reaches: the longest of the
/// five prefixes, compared byte for byte.
fn strict_model(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        ["admin", "keys", ..] => "keys",
        ["admin", ..] => "admin",
        ["api", ..] => "api",
        ["public", ..] => "public",
        _ => "open",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn an_accepted_path_reaches_the_route_a_lenient_upstream_serves(
        segments in prop::collection::vec(route_game_segment(), 0..6),
    ) {
        let input = format!("/{}", segments.join("/"));
        let Ok(path) = normalize_path(&input) else { return Ok(()); };
        match lenient_router().route_get("h", &path) {
            Ok(route) => {
                let model = upstream_model(&path);
                prop_assert_eq!(route.copied(), model, "{:?} → {:?}", input, path);
            }
            // Refused only when the two readings really part ways.
            Err(error) => {
                prop_assert_eq!(error, PathError::Ambiguous);
                prop_assert_ne!(Some(strict_model(&path)), upstream_model(&path), "{:?}", path);
            }
        }
    }
}
