//! Tests of the lenient reading and of the ambiguity check `Router::route` builds on it.

use super::lenient_reading;
use crate::router::tests::{route, router};
use crate::router::{HostPattern, PathError, Router};

fn reading(path: &str) -> Option<String> {
    lenient_reading(path).map(|cow| cow.into_owned())
}

#[test]
fn a_plain_lower_case_path_is_its_own_reading_without_allocating() {
    for path in ["/", "/admin", "/a/b/", "/a-b_c.d~e/x:y@z"] {
        assert!(
            matches!(lenient_reading(path), Some(std::borrow::Cow::Borrowed(p)) if p == path),
            "{path}"
        );
    }
}

#[test]
fn path_parameters_are_cut_from_every_segment() {
    assert_eq!(reading("/admin;jsessionid=x"), Some("/admin".into()));
    assert_eq!(reading("/a;x/b;y=1,2/c"), Some("/a/b/c".into()));
    assert_eq!(reading("/admin%3Bx/y"), Some("/admin/y".into()));
    assert_eq!(reading("/admin%3bx"), Some("/admin".into()));
    assert_eq!(reading("/a/;x/b"), Some("/a/b".into()));
    assert_eq!(reading("/a;x/"), Some("/a/".into()));
}

#[test]
fn dot_segments_uncovered_by_cutting_are_resolved() {
    assert_eq!(reading("/public/..;/admin"), Some("/admin".into()));
    assert_eq!(reading("/public/..;x=1/admin"), Some("/admin".into()));
    assert_eq!(reading("/.;/admin"), Some("/admin".into()));
    assert_eq!(reading("/a/b/..;"), Some("/a/".into()));
    assert_eq!(reading("/..;/admin"), None, "climbs above the root");
}

#[test]
fn letters_are_lower_cased() {
    assert_eq!(reading("/ADMIN"), Some("/admin".into()));
    assert_eq!(reading("/Admin/X%2A"), Some("/admin/x%2a".into()));
}

// ---- Router::route: a path whose lenient reading reaches another route is ambiguous

fn guarded_router() -> Router<&'static str> {
    router(&[
        (HostPattern::Any, "/", "open"),
        (HostPattern::Any, "/public", "public"),
        (HostPattern::Any, "/admin", "admin"),
        (HostPattern::Exact("app.example.com".into()), "/API", "api"),
    ])
}

#[test]
fn path_parameters_that_reach_another_route_are_ambiguous() {
    let r = guarded_router();
    for target in [
        "/admin;jsessionid=x",
        "/admin;/x",
        "/admin%3Bx",
        "/public/..;/admin",
        "/public/..;x=1/admin",
        "/.;/admin",
        "/..;/admin",
    ] {
        assert_eq!(
            r.route_get("h", target),
            Err(PathError::Ambiguous),
            "{target}"
        );
    }
}

#[test]
fn case_variants_that_reach_another_route_are_ambiguous() {
    let r = guarded_router();
    for target in ["/ADMIN", "/Admin/x", "/aDmIn/"] {
        assert_eq!(
            r.route_get("h", target),
            Err(PathError::Ambiguous),
            "{target}"
        );
    }
    // A prefix configured in upper case: its own spelling routes, another one is ambiguous.
    assert_eq!(route(&r, "app.example.com", "/API/v1"), Some(&"api"));
    assert_eq!(
        r.route_get("app.example.com", "/api/v1"),
        Err(PathError::Ambiguous)
    );
}

#[test]
fn parameters_and_case_that_stay_on_the_same_route_are_served() {
    let r = guarded_router();
    assert_eq!(route(&r, "h", "/admin/page;jsessionid=x"), Some(&"admin"));
    assert_eq!(route(&r, "h", "/Images/Logo.png"), Some(&"open"));
    assert_eq!(route(&r, "h", "/public/A;b/..;/c"), Some(&"public"));
    assert_eq!(route(&r, "h", "/adminx;y"), Some(&"open"));
    // No route either way is not ambiguous.
    let only_api = router(&[(HostPattern::Any, "/api", "api")]);
    assert_eq!(route(&only_api, "h", "/Other;x"), None);
}
