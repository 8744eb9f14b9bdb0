//! Router and normalizer tests: many tricky inputs, precedence rules, and random inputs.

use http::Method;

use super::{
    HostError, HostPattern, PathError, Routed, Router, normalize_host, normalize_path,
    parse_route_prefix,
};

fn path(raw: &str) -> Result<String, PathError> {
    normalize_path(raw)
}

fn ok(normalized: &str) -> Result<String, PathError> {
    Ok(normalized.to_owned())
}

fn host(raw: &str) -> Result<String, HostError> {
    normalize_host(raw)
}

fn host_ok(normalized: &str) -> Result<String, HostError> {
    Ok(normalized.to_owned())
}

/// The route of an unambiguous path (ambiguity has tests of its own).
pub(super) fn route<'r, T>(router: &'r Router<T>, host: &str, path: &str) -> Option<&'r T> {
    router
        .route_get(host, path)
        .unwrap_or_else(|e| panic!("{host}{path}: {e}"))
}

// ---- path: what is already normal stays as it is

#[test]
fn root_stays_root() {
    assert_eq!(path("/"), ok("/"));
}

#[test]
fn plain_paths_are_unchanged() {
    for raw in ["/a", "/a/b", "/a/b/", "/api/v1/users/42", "/a-b_c.d~e"] {
        assert_eq!(path(raw), ok(raw), "{raw}");
    }
}

#[test]
fn case_of_path_characters_is_kept() {
    assert_eq!(path("/A/b"), ok("/A/b"));
}

#[test]
fn trailing_slash_is_kept() {
    assert_eq!(path("/a/b/"), ok("/a/b/"));
}

#[test]
fn semicolon_is_an_ordinary_character() {
    assert_eq!(path("/a;b/c;d=1"), ok("/a;b/c;d=1"));
}

#[test]
fn dot_dot_semicolon_is_a_name_not_a_parent_segment() {
    assert_eq!(path("/a;b/..;/c"), ok("/a;b/..;/c"));
}

#[test]
fn dots_inside_a_name_are_ordinary() {
    assert_eq!(path("/a/.../b/..c/.d/e."), ok("/a/.../b/..c/.d/e."));
}

#[test]
fn other_raw_printable_characters_are_kept_as_received() {
    assert_eq!(path("/a:b@c!$&'()*+,=[]"), ok("/a:b@c!$&'()*+,=[]"));
}

// ---- path: rejected raw bytes

#[test]
fn fragment_is_rejected() {
    assert_eq!(path("/a#b"), Err(PathError::Fragment));
    assert_eq!(path("#"), Err(PathError::Fragment));
}

#[test]
fn raw_question_mark_is_rejected_because_the_query_is_split_off_first() {
    assert_eq!(path("/a?b"), Err(PathError::Query));
}

#[test]
fn raw_backslash_is_rejected() {
    assert_eq!(path("/\\"), Err(PathError::Backslash));
    assert_eq!(path("/a\\..\\b"), Err(PathError::Backslash));
}

#[test]
fn raw_nul_is_rejected() {
    assert_eq!(path("/a\0b"), Err(PathError::Nul));
}

#[test]
fn raw_control_characters_are_rejected() {
    for raw in ["/a\tb", "/a\rb", "/a\nb", "/a\x1bb", "/a\x7f"] {
        assert_eq!(path(raw), Err(PathError::ControlCharacter), "{raw:?}");
    }
}

#[test]
fn raw_space_is_rejected() {
    assert_eq!(path("/a b"), Err(PathError::Space));
}

#[test]
fn non_ascii_is_rejected() {
    assert_eq!(path("/\u{e9}"), Err(PathError::NonAscii));
    assert_eq!(path("/a/\u{1f600}"), Err(PathError::NonAscii));
}

#[test]
fn encoded_non_ascii_is_kept_encoded_in_upper_case() {
    assert_eq!(path("/%c3%a9"), ok("/%C3%A9"));
}

#[test]
fn relative_paths_are_rejected() {
    for raw in ["", "a", "a/b", ".", "..", "*", "%2F", "%2e/a"] {
        let result = path(raw);
        assert!(
            matches!(
                result,
                Err(PathError::NotAbsolute | PathError::EncodedSlash)
            ),
            "{raw:?} gave {result:?}"
        );
    }
    assert_eq!(path("a/b"), Err(PathError::NotAbsolute));
    assert_eq!(path("%2e/a"), Err(PathError::NotAbsolute));
}

#[test]
fn absolute_form_uri_is_not_a_path() {
    assert_eq!(path("http://example.com/"), Err(PathError::NotAbsolute));
}

// ---- path: percent-encoding

#[test]
fn unreserved_escapes_are_decoded_and_others_upper_cased() {
    assert_eq!(path("/%41%7e%7E%20"), ok("/A~~%20"));
}

#[test]
fn every_unreserved_escape_is_decoded() {
    assert_eq!(path("/%61%5A%30%39%2D%2e%5f%7E"), ok("/aZ09-._~"));
}

#[test]
fn reserved_escapes_are_not_decoded() {
    assert_eq!(
        path("/%3b%3f%23%25%26%3d%40%2b%3A"),
        ok("/%3B%3F%23%25%26%3D%40%2B%3A")
    );
}

#[test]
fn encoded_percent_is_not_decoded_twice() {
    // `%25` is the escape; the `2e` after it is two literal characters, kept as sent.
    assert_eq!(path("/%252e"), ok("/%252e"));
    assert_eq!(path("/%252E%252e/a"), ok("/%252E%252e/a"));
    assert_eq!(path("/%25%32%65"), ok("/%252e"));
    assert_eq!(path("/%252e%252e/../a"), ok("/a"));
}

#[test]
fn encoded_control_characters_other_than_nul_stay_encoded() {
    assert_eq!(path("/a%0d%0ab%7f"), ok("/a%0D%0Ab%7F"));
}

#[test]
fn encoded_slash_is_rejected_in_any_case() {
    assert_eq!(path("/a%2fb"), Err(PathError::EncodedSlash));
    assert_eq!(path("/a%2Fb"), Err(PathError::EncodedSlash));
    assert_eq!(path("/..%2f"), Err(PathError::EncodedSlash));
}

#[test]
fn encoded_backslash_is_rejected_in_any_case() {
    assert_eq!(path("/a%5Cb"), Err(PathError::EncodedBackslash));
    assert_eq!(path("/a%5cb"), Err(PathError::EncodedBackslash));
}

#[test]
fn encoded_nul_is_rejected() {
    assert_eq!(path("/a%00"), Err(PathError::EncodedNul));
}

#[test]
fn percent_without_two_hex_digits_is_rejected() {
    for raw in [
        "/a%zz", "/a%4", "/a%", "/%%41", "/a%g0", "/a%0g", "/%-1", "/%+1",
    ] {
        assert_eq!(path(raw), Err(PathError::BadPercentEncoding), "{raw}");
    }
}

// ---- path: slashes and dot segments

#[test]
fn repeated_slashes_are_collapsed() {
    assert_eq!(path("//a///b"), ok("/a/b"));
    assert_eq!(path("//"), ok("/"));
    assert_eq!(path("/a//"), ok("/a/"));
}

#[test]
fn single_dot_segments_are_removed() {
    assert_eq!(path("/a/./b"), ok("/a/b"));
    assert_eq!(path("/./a"), ok("/a"));
    assert_eq!(path("/."), ok("/"));
}

#[test]
fn parent_segments_are_resolved() {
    assert_eq!(path("/a/../b"), ok("/b"));
    assert_eq!(path("/a/b/../../c"), ok("/c"));
    assert_eq!(path("/a/b/c/../d/./e"), ok("/a/b/d/e"));
}

#[test]
fn a_final_dot_segment_leaves_a_trailing_slash() {
    assert_eq!(path("/a/."), ok("/a/"));
    assert_eq!(path("/a/.."), ok("/"));
    assert_eq!(path("/a/b/.."), ok("/a/"));
    assert_eq!(path("/a/b/../"), ok("/a/"));
}

#[test]
fn climbing_above_root_is_rejected() {
    for raw in [
        "/..",
        "/../a",
        "/a/../..",
        "/a/../../b",
        "/./../a",
        "//../a",
    ] {
        assert_eq!(path(raw), Err(PathError::AboveRoot), "{raw}");
    }
}

#[test]
fn encoded_dot_segments_are_resolved() {
    assert_eq!(path("/a/%2e%2e/b"), ok("/b"));
    assert_eq!(path("/a/%2E./b"), ok("/b"));
    assert_eq!(path("/a/.%2e/b"), ok("/b"));
    assert_eq!(path("/%2e/"), ok("/"));
    assert_eq!(path("/a/%2e"), ok("/a/"));
}

#[test]
fn encoded_dot_segments_cannot_climb_above_root() {
    assert_eq!(path("/%2e%2e/etc/passwd"), Err(PathError::AboveRoot));
    assert_eq!(path("/a/%2E%2E/%2e%2e"), Err(PathError::AboveRoot));
}

#[test]
fn collapsing_happens_before_dot_resolution() {
    // `/a//..` is `/a/..` once collapsed, so `..` removes `a`, not an empty segment.
    assert_eq!(path("/a//.."), ok("/"));
    assert_eq!(path("/a/b//../c"), ok("/a/c"));
}

#[test]
fn normalization_is_idempotent_on_tricky_inputs() {
    for raw in [
        "/",
        "/a/./b",
        "/a/../b",
        "/a/%2e%2e/b",
        "//a///b",
        "/%41%7e%7E%20",
        "/a;b/..;/c",
        "/a/b/..",
        "/a/.",
        "/%252e",
        "/%c3%a9/",
        "/x/%2E%2e/y/%2e/",
    ] {
        let Ok(once) = path(raw) else {
            panic!("{raw} should normalize");
        };
        assert_eq!(path(&once), Ok(once.clone()), "{raw}");
    }
}

// ---- route prefixes

#[test]
fn route_prefix_trailing_slash_is_not_significant() {
    assert_eq!(parse_route_prefix("/api"), ok("/api"));
    assert_eq!(parse_route_prefix("/api/"), ok("/api"));
    assert_eq!(parse_route_prefix("/api//"), ok("/api"));
    assert_eq!(parse_route_prefix("/"), ok("/"));
    assert_eq!(parse_route_prefix("//"), ok("/"));
}

#[test]
fn route_prefix_is_normalized() {
    assert_eq!(parse_route_prefix("/%61pi/./v1/"), ok("/api/v1"));
    assert_eq!(parse_route_prefix("/a/../b"), ok("/b"));
}

#[test]
fn route_prefix_must_be_a_valid_absolute_path() {
    assert_eq!(parse_route_prefix("api"), Err(PathError::NotAbsolute));
    assert_eq!(parse_route_prefix(""), Err(PathError::NotAbsolute));
    assert_eq!(parse_route_prefix("/.."), Err(PathError::AboveRoot));
    assert_eq!(parse_route_prefix("/a%2fb"), Err(PathError::EncodedSlash));
    assert_eq!(parse_route_prefix("/a?b"), Err(PathError::Query));
}

// ---- host

#[test]
fn host_is_lower_cased_and_loses_one_trailing_dot() {
    assert_eq!(host("Example.COM."), host_ok("example.com"));
}

#[test]
fn host_port_is_removed() {
    assert_eq!(host("example.com:443"), host_ok("example.com"));
    assert_eq!(host("Example.com.:8443"), host_ok("example.com"));
    assert_eq!(host("localhost:65535"), host_ok("localhost"));
}

#[test]
fn ipv4_host_is_kept() {
    assert_eq!(host("127.0.0.1:8443"), host_ok("127.0.0.1"));
}

#[test]
fn ipv6_literal_keeps_brackets_and_loses_its_port() {
    assert_eq!(host("[::1]:8443"), host_ok("[::1]"));
    assert_eq!(host("[::1]"), host_ok("[::1]"));
    assert_eq!(host("[::1]:443"), host_ok("[::1]"));
}

#[test]
fn ipv6_literal_is_written_canonically() {
    assert_eq!(host("[2001:DB8:0:0::1]"), host_ok("[2001:db8::1]"));
    assert_eq!(host("[0:0:0:0:0:0:0:1]"), host_ok("[::1]"));
}

#[test]
fn invalid_ipv6_literals_are_rejected() {
    for raw in [
        "[::1",
        "[]",
        "[zz::1]",
        "[::1%25eth0]",
        "[1.2.3.4]",
        "[::1]x",
        "[::1]]",
    ] {
        let result = host(raw);
        assert!(
            matches!(
                result,
                Err(HostError::InvalidIpv6 | HostError::InvalidCharacter)
            ),
            "{raw} gave {result:?}"
        );
    }
    assert_eq!(host("[::1"), Err(HostError::InvalidIpv6));
    assert_eq!(host("[::1]x"), Err(HostError::InvalidCharacter));
}

#[test]
fn unbracketed_ipv6_is_rejected() {
    assert_eq!(host("::1"), Err(HostError::InvalidPort));
    assert_eq!(host("fe80::1"), Err(HostError::InvalidPort));
}

#[test]
fn empty_host_is_rejected() {
    for raw in ["", ".", ":443", ".:443"] {
        assert_eq!(host(raw), Err(HostError::Empty), "{raw:?}");
    }
}

#[test]
fn empty_labels_are_rejected() {
    for raw in ["a..b", ".a", "example.com..", "a.b..:443"] {
        assert_eq!(host(raw), Err(HostError::EmptyLabel), "{raw}");
    }
}

#[test]
fn userinfo_is_rejected() {
    assert_eq!(host("user@host"), Err(HostError::Userinfo));
    assert_eq!(host("user:pw@host:443"), Err(HostError::Userinfo));
    assert_eq!(host("@host"), Err(HostError::Userinfo));
}

#[test]
fn invalid_ports_are_rejected() {
    for raw in [
        "host:abc",
        "host:",
        "host:0",
        "host:65536",
        "host:+443",
        "host:-1",
        "host:1:2",
        "[::1]:",
    ] {
        assert_eq!(host(raw), Err(HostError::InvalidPort), "{raw}");
    }
}

#[test]
fn whitespace_and_control_characters_are_rejected() {
    assert_eq!(host("exa mple.com"), Err(HostError::Whitespace));
    assert_eq!(host(" example.com"), Err(HostError::Whitespace));
    assert_eq!(host("example.com\t"), Err(HostError::Whitespace));
    assert_eq!(
        host("example.com\r\nX: y"),
        Err(HostError::ControlCharacter)
    );
    assert_eq!(host("a\0b"), Err(HostError::ControlCharacter));
}

#[test]
fn non_ascii_host_is_rejected() {
    assert_eq!(host("b\u{fc}cher.example"), Err(HostError::NonAscii));
}

#[test]
fn hosts_with_uri_delimiters_are_rejected() {
    for raw in [
        "a/b",
        "a?b",
        "a#b",
        "a\\b",
        "a%2eb",
        "*.example.com",
        "a*b",
        "a[b]",
        "a,b",
    ] {
        assert_eq!(host(raw), Err(HostError::InvalidCharacter), "{raw}");
    }
}

#[test]
fn underscores_and_hyphens_are_allowed_in_names() {
    assert_eq!(
        host("My_Service-1.internal"),
        host_ok("my_service-1.internal")
    );
}

#[test]
fn overlong_names_and_labels_are_rejected() {
    let label = "a".repeat(64);
    assert_eq!(host(&label), Err(HostError::TooLong));
    assert_eq!(host(&"a".repeat(63)), Ok("a".repeat(63)));
    let name = ["abcdefghi"; 26].join(".");
    assert_eq!(host(&name), Err(HostError::TooLong));
}

#[test]
fn host_normalization_is_idempotent() {
    for raw in [
        "Example.COM.",
        "example.com:443",
        "[::1]:8443",
        "[2001:DB8::0:1]",
        "a_b.C",
    ] {
        let Ok(once) = host(raw) else {
            panic!("{raw} should normalize");
        };
        assert_eq!(host(&once), Ok(once.clone()), "{raw}");
    }
}

// ---- host patterns

#[test]
fn exact_pattern_is_normalized() {
    assert_eq!(
        HostPattern::parse("App.Example.com."),
        Ok(HostPattern::Exact("app.example.com".to_owned()))
    );
    assert_eq!(
        HostPattern::parse("[::1]"),
        Ok(HostPattern::Exact("[::1]".to_owned()))
    );
}

#[test]
fn wildcard_pattern_stores_its_suffix() {
    assert_eq!(
        HostPattern::parse("*.Example.COM"),
        Ok(HostPattern::Wildcard("example.com".to_owned()))
    );
}

#[test]
fn wildcard_must_be_the_whole_first_label() {
    for raw in [
        "*", "*.", "foo*.x", "*foo.x", "x.*.y", "*.*.x", "**.x", "x.*",
    ] {
        let result = HostPattern::parse(raw);
        assert!(
            matches!(result, Err(HostError::InvalidWildcard | HostError::Empty)),
            "{raw} gave {result:?}"
        );
    }
    assert_eq!(HostPattern::parse("*"), Err(HostError::InvalidWildcard));
    assert_eq!(
        HostPattern::parse("foo*.x"),
        Err(HostError::InvalidWildcard)
    );
}

#[test]
fn wildcard_over_an_ipv6_literal_is_rejected() {
    assert_eq!(
        HostPattern::parse("*.[::1]"),
        Err(HostError::InvalidWildcard)
    );
}

#[test]
fn host_pattern_with_a_port_is_rejected() {
    assert_eq!(
        HostPattern::parse("app.example.com:8443"),
        Err(HostError::PortNotAllowed)
    );
    assert_eq!(
        HostPattern::parse("*.example.com:443"),
        Err(HostError::PortNotAllowed)
    );
    assert_eq!(
        HostPattern::parse("[::1]:443"),
        Err(HostError::PortNotAllowed)
    );
}

#[test]
fn host_pattern_rejects_what_a_host_rejects() {
    assert_eq!(HostPattern::parse(""), Err(HostError::Empty));
    assert_eq!(HostPattern::parse("a..b"), Err(HostError::EmptyLabel));
    assert_eq!(HostPattern::parse("*.a..b"), Err(HostError::EmptyLabel));
    assert_eq!(HostPattern::parse("u@h"), Err(HostError::Userinfo));
}

#[test]
fn host_pattern_displays_in_its_configured_form() {
    let patterns = [
        HostPattern::Exact("a.example.com".to_owned()),
        HostPattern::Wildcard("example.com".to_owned()),
        HostPattern::Any,
    ];
    let shown: Vec<String> = patterns.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["a.example.com", "*.example.com", "*"]);
}

// ---- router

fn exact(host: &str) -> HostPattern {
    HostPattern::Exact(host.to_owned())
}

fn wildcard(suffix: &str) -> HostPattern {
    HostPattern::Wildcard(suffix.to_owned())
}

pub(super) fn router(routes: &[(HostPattern, &str, &'static str)]) -> Router<&'static str> {
    Router::for_any_method(
        routes
            .iter()
            .map(|(pattern, prefix, name)| (pattern.clone(), (*prefix).to_owned(), *name))
            .collect(),
    )
}

#[test]
fn exact_host_beats_wildcard_beats_any() {
    let r = router(&[
        (HostPattern::Any, "/", "any"),
        (wildcard("example.com"), "/", "wild"),
        (exact("app.example.com"), "/", "exact"),
    ]);
    assert_eq!(route(&r, "app.example.com", "/x"), Some(&"exact"));
    assert_eq!(route(&r, "other.example.com", "/x"), Some(&"wild"));
    assert_eq!(route(&r, "elsewhere.net", "/x"), Some(&"any"));
}

#[test]
fn host_precedence_beats_prefix_length() {
    let r = router(&[
        (HostPattern::Any, "/api/v1/users", "any-long"),
        (exact("app.example.com"), "/", "exact-root"),
    ]);
    assert_eq!(
        route(&r, "app.example.com", "/api/v1/users"),
        Some(&"exact-root")
    );
}

#[test]
fn exact_host_without_a_matching_prefix_falls_through_to_wildcard() {
    let r = router(&[
        (exact("app.example.com"), "/admin", "exact-admin"),
        (wildcard("example.com"), "/", "wild"),
    ]);
    assert_eq!(
        route(&r, "app.example.com", "/admin/x"),
        Some(&"exact-admin")
    );
    assert_eq!(route(&r, "app.example.com", "/public"), Some(&"wild"));
}

#[test]
fn wildcard_without_a_matching_prefix_falls_through_to_any() {
    let r = router(&[
        (wildcard("example.com"), "/api", "wild-api"),
        (HostPattern::Any, "/", "any"),
    ]);
    assert_eq!(route(&r, "a.example.com", "/api"), Some(&"wild-api"));
    assert_eq!(route(&r, "a.example.com", "/home"), Some(&"any"));
}

#[test]
fn no_bucket_with_a_matching_prefix_means_no_route() {
    let r = router(&[
        (exact("app.example.com"), "/admin", "exact"),
        (wildcard("example.com"), "/api", "wild"),
        (HostPattern::Any, "/static", "any"),
    ]);
    assert_eq!(route(&r, "app.example.com", "/other"), None);
    assert_eq!(route(&r, "unknown.net", "/"), None);
}

#[test]
fn empty_router_routes_nothing() {
    let r: Router<&str> = Router::for_any_method(Vec::new());
    assert_eq!(route(&r, "example.com", "/"), None);
}

#[test]
fn longest_path_prefix_wins() {
    let r = router(&[
        (HostPattern::Any, "/", "root"),
        (HostPattern::Any, "/api", "api"),
        (HostPattern::Any, "/api/v1", "v1"),
    ]);
    assert_eq!(route(&r, "h", "/"), Some(&"root"));
    assert_eq!(route(&r, "h", "/index.html"), Some(&"root"));
    assert_eq!(route(&r, "h", "/api"), Some(&"api"));
    assert_eq!(route(&r, "h", "/api/v2/x"), Some(&"api"));
    assert_eq!(route(&r, "h", "/api/v1"), Some(&"v1"));
    assert_eq!(route(&r, "h", "/api/v1/users/7"), Some(&"v1"));
}

#[test]
fn prefixes_match_on_segment_boundaries_only() {
    let r = router(&[(HostPattern::Any, "/api", "api")]);
    assert_eq!(route(&r, "h", "/api"), Some(&"api"));
    assert_eq!(route(&r, "h", "/api/"), Some(&"api"));
    assert_eq!(route(&r, "h", "/api/x"), Some(&"api"));
    assert_eq!(route(&r, "h", "/apix"), None);
    assert_eq!(route(&r, "h", "/ap"), None);
    assert_eq!(route(&r, "h", "/"), None);
    assert_eq!(route(&r, "h", "/x/api"), None);
}

#[test]
fn root_prefix_matches_everything() {
    let r = router(&[(HostPattern::Any, "/", "root")]);
    for p in ["/", "/a", "/a/", "/a/b/c", "/%2F"] {
        assert_eq!(route(&r, "h", p), Some(&"root"), "{p}");
    }
}

#[test]
fn trailing_slash_on_a_configured_prefix_is_not_significant() {
    let r = router(&[(HostPattern::Any, "/api/", "api")]);
    assert_eq!(route(&r, "h", "/api"), Some(&"api"));
    assert_eq!(route(&r, "h", "/api/x"), Some(&"api"));
    assert_eq!(route(&r, "h", "/apix"), None);
}

#[test]
fn wildcard_matches_subdomains_at_any_depth() {
    let r = router(&[(wildcard("example.com"), "/", "wild")]);
    assert_eq!(route(&r, "a.example.com", "/"), Some(&"wild"));
    assert_eq!(route(&r, "a.b.example.com", "/"), Some(&"wild"));
}

#[test]
fn wildcard_never_matches_its_bare_suffix_or_a_lookalike() {
    let r = router(&[(wildcard("example.com"), "/", "wild")]);
    assert_eq!(route(&r, "example.com", "/"), None);
    assert_eq!(route(&r, "aexample.com", "/"), None);
    assert_eq!(route(&r, "example.com.evil.net", "/"), None);
    assert_eq!(route(&r, "a.example.co", "/"), None);
    assert_eq!(
        route(&r, ".example.com", "/"),
        Some(&"wild"),
        "not a normalized host"
    );
}

#[test]
fn deeper_wildcard_beats_shallower_wildcard() {
    let r = router(&[
        (wildcard("example.com"), "/", "shallow"),
        (wildcard("b.example.com"), "/", "deep"),
    ]);
    assert_eq!(route(&r, "a.b.example.com", "/"), Some(&"deep"));
    assert_eq!(route(&r, "x.a.b.example.com", "/"), Some(&"deep"));
    assert_eq!(route(&r, "b.example.com", "/"), Some(&"shallow"));
    assert_eq!(route(&r, "a.example.com", "/"), Some(&"shallow"));
}

#[test]
fn deeper_wildcard_without_a_matching_prefix_falls_through_to_shallower() {
    let r = router(&[
        (wildcard("example.com"), "/", "shallow"),
        (wildcard("b.example.com"), "/api", "deep-api"),
    ]);
    assert_eq!(route(&r, "a.b.example.com", "/api/x"), Some(&"deep-api"));
    assert_eq!(route(&r, "a.b.example.com", "/web"), Some(&"shallow"));
}

#[test]
fn ipv6_hosts_route_exactly_and_never_by_wildcard() {
    let r = router(&[
        (exact("[::1]"), "/", "loopback"),
        (wildcard("3.4]"), "/", "bogus"),
        (HostPattern::Any, "/", "any"),
    ]);
    assert_eq!(route(&r, "[::1]", "/"), Some(&"loopback"));
    assert_eq!(route(&r, "[::ffff:1.2.3.4]", "/"), Some(&"any"));
}

#[test]
fn first_of_two_identical_routes_wins() {
    let r = router(&[
        (HostPattern::Any, "/api", "first"),
        (HostPattern::Any, "/api/", "second"),
    ]);
    assert_eq!(route(&r, "h", "/api"), Some(&"first"));
}

#[test]
fn routing_scales_to_ten_thousand_routes() {
    let mut routes = Vec::new();
    for i in 0..10_000_usize {
        match i % 4 {
            0 => routes.push((exact(&format!("app{i}.example.com")), "/".to_owned(), i)),
            1 => routes.push((wildcard(&format!("t{i}.example.com")), "/".to_owned(), i)),
            _ => routes.push((exact("big.example.com"), format!("/svc{i}/v1"), i)),
        }
    }
    let r = Router::for_any_method(routes);
    assert_eq!(route(&r, "app8.example.com", "/x"), Some(&8));
    assert_eq!(route(&r, "a.t9.example.com", "/x"), Some(&9));
    assert_eq!(route(&r, "big.example.com", "/svc9998/v1/x/y"), Some(&9998));
    assert_eq!(route(&r, "big.example.com", "/svc9998/v2"), None);
    assert_eq!(route(&r, "nope.example.com", "/"), None);
    let long_path = "/a".repeat(8_000);
    assert_eq!(route(&r, "big.example.com", &long_path), None);
}

// ---- robustness: deterministic pseudo-random inputs

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let index = usize::try_from(self.next() % items.len() as u64).unwrap_or(0);
        items.get(index).copied().unwrap_or("")
    }
}

const PATH_PIECES: &[&str] = &[
    "/", "/", "/", ".", "..", "%", "%2e", "%2E", "%2f", "%5c", "%00", "%41", "%7e", "%25", "%2",
    "%zz", "%c3%a9", "a", "B", ";", "~", "-", "_", "\\", "#", "?", " ", "\t", "\u{e9}", "\0", "//",
    "/..", "/.", "..;", ":", "@", "%3b", "%20",
];

const HOST_PIECES: &[&str] = &[
    "a", "B", "-", "_", ".", "..", ":", "443", "0", "99999", "[", "]", "::1", "::", "@", " ", "*",
    "\u{e9}", "/", "%", "1.2.3.4", "ffff", "com", "\r",
];

fn random_input(rng: &mut Rng, pieces: &[&str]) -> String {
    let mut out = String::new();
    let len = rng.next() % 12;
    for _ in 0..len {
        if rng.next().is_multiple_of(10) {
            // A raw byte, possibly not valid UTF-8 on its own.
            let byte = u8::try_from(rng.next() % 256).unwrap_or(0);
            out.push_str(&String::from_utf8_lossy(&[byte]));
        } else {
            out.push_str(rng.pick(pieces));
        }
    }
    out
}

#[test]
fn path_normalization_never_panics_and_is_idempotent_on_random_inputs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let r = router(&[
        (HostPattern::Any, "/", "root"),
        (HostPattern::Any, "/a/B", "ab"),
    ]);
    let mut accepted = 0;
    for _ in 0..2_000 {
        let mut raw = random_input(&mut rng, PATH_PIECES);
        if !rng.next().is_multiple_of(4) {
            raw.insert(0, '/');
        }
        let _ = parse_route_prefix(&raw);
        let Ok(once) = normalize_path(&raw) else {
            continue;
        };
        accepted += 1;
        assert_eq!(normalize_path(&once), Ok(once.clone()), "{raw:?}");
        assert!(
            once.starts_with('/') && once.is_ascii(),
            "{raw:?} -> {once:?}"
        );
        for bad in ["//", "/./", "/../"] {
            assert!(!once.contains(bad), "{raw:?} -> {once:?}");
        }
        assert!(!once.ends_with("/.") && !once.ends_with("/.."), "{once:?}");
        match r.route_get("h", &once) {
            Ok(found) => assert!(found.is_some(), "{once:?}"),
            Err(error) => {
                assert_eq!(error, PathError::Ambiguous, "{once:?}");
                assert!(
                    once.contains([';', '%']) || once.contains(|c: char| c.is_ascii_uppercase())
                );
            }
        }
    }
    assert!(accepted > 200, "only {accepted} random paths were accepted");
}

#[test]
fn host_normalization_never_panics_and_is_idempotent_on_random_inputs() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut accepted = 0;
    for _ in 0..2_000 {
        let raw = random_input(&mut rng, HOST_PIECES);
        let _ = HostPattern::parse(&raw);
        let Ok(once) = normalize_host(&raw) else {
            continue;
        };
        accepted += 1;
        assert_eq!(normalize_host(&once), Ok(once.clone()), "{raw:?}");
        assert_eq!(once, once.to_ascii_lowercase());
        assert!(!once.ends_with('.') && !once.contains(':') || once.starts_with('['));
    }
    assert!(accepted > 100, "only {accepted} random hosts were accepted");
}

// ---- methods: a route limited to some methods passes the others on

fn methods(list: &[Method]) -> Option<Vec<Method>> {
    Some(list.to_vec())
}

fn method_router() -> Router<&'static str> {
    let exact = || HostPattern::Exact("app.example.com".to_owned());
    Router::new(vec![
        (
            exact(),
            "/api".to_owned(),
            methods(&[Method::GET, Method::HEAD]),
            "api-read",
        ),
        (
            exact(),
            "/api".to_owned(),
            methods(&[Method::POST]),
            "api-write",
        ),
        (
            exact(),
            "/admin".to_owned(),
            methods(&[Method::GET]),
            "admin-read",
        ),
        (
            HostPattern::Wildcard("example.com".to_owned()),
            "/admin".to_owned(),
            methods(&[Method::GET, Method::DELETE]),
            "wildcard-admin",
        ),
        (
            exact(),
            "/files".to_owned(),
            methods(&[Method::PUT]),
            "files-put",
        ),
        (HostPattern::Any, "/files".to_owned(), None, "any-files"),
        (
            HostPattern::Exact("only.example.com".to_owned()),
            "/".to_owned(),
            methods(&[Method::GET, Method::POST]),
            "only-root",
        ),
    ])
}

#[test]
fn the_first_route_in_precedence_order_that_serves_the_method_wins() {
    let r = method_router();
    let at = |method: Method, host: &str, path: &str| match r.route(host, path, &method) {
        Ok(Routed::Found(value)) => Ok(*value),
        Ok(other) => Err(format!("{other:?}")),
        Err(error) => Err(error.to_string()),
    };
    let app = "app.example.com";
    assert_eq!(at(Method::GET, app, "/api/x"), Ok("api-read"));
    assert_eq!(at(Method::HEAD, app, "/api"), Ok("api-read"));
    assert_eq!(at(Method::POST, app, "/api/x"), Ok("api-write"));
    // Same bucket, longer prefix only for GET: DELETE goes on to the wildcard's route.
    assert_eq!(at(Method::GET, app, "/admin/x"), Ok("admin-read"));
    assert_eq!(at(Method::DELETE, app, "/admin/x"), Ok("wildcard-admin"));
    // And on to the any-host route.
    assert_eq!(at(Method::PUT, app, "/files/a"), Ok("files-put"));
    assert_eq!(at(Method::GET, app, "/files/a"), Ok("any-files"));
}

#[test]
fn a_path_whose_routes_serve_other_methods_is_405_with_their_methods() {
    let r = method_router();
    assert_eq!(
        r.route("app.example.com", "/api/x", &Method::DELETE),
        Ok(Routed::MethodNotAllowed(vec![
            Method::GET,
            Method::HEAD,
            Method::POST
        ]))
    );
    // Every route that would have matched the path lists its methods, once.
    assert_eq!(
        r.route("app.example.com", "/admin", &Method::POST),
        Ok(Routed::MethodNotAllowed(vec![Method::GET, Method::DELETE]))
    );
    assert_eq!(
        r.route("only.example.com", "/x", &Method::PUT),
        Ok(Routed::MethodNotAllowed(vec![Method::GET, Method::POST]))
    );
    assert_eq!(
        r.route("other.test", "/api", &Method::GET),
        Ok(Routed::NotFound)
    );
}

#[test]
fn the_lenient_reading_is_checked_for_the_method_too() {
    let r = method_router();
    // `/API` reaches no route strictly, but api-read leniently: ambiguous.
    assert_eq!(
        r.route("app.example.com", "/API/x", &Method::GET),
        Err(PathError::Ambiguous)
    );
    // `/admin;x` reaches nothing strictly, but admin-read (GET) or wildcard-admin
    // (DELETE) leniently: ambiguous for either method.
    for method in [Method::GET, Method::DELETE] {
        assert_eq!(
            r.route("app.example.com", "/admin;x", &method),
            Err(PathError::Ambiguous),
            "{method}"
        );
    }
}
