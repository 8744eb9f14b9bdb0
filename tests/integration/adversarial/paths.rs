//! Routing and path normalization under attack: a request must not reach a stricter route's
//! content through a laxer route, nor a route's upstream under a path other than the one
//! that was authorized. The routes of the common config: app1 `/` (authenticated),
//! `/public` (public), `/admin` (group `admins`); app2 `/` (authenticated).
//!
//! Secure outcomes: a refusal (400 for ambiguous paths and hosts, 401/403 where the path
//! resolves to a protected route), or — for a path that really is under a laxer route — the
//! upstream receives exactly the normalized path that was authorized, never a form it
//! could decode into something else.

use std::time::Duration;

use super::Tally;
use crate::support::auth_config::auth_config;
use crate::support::env::{Env, env};
use crate::support::raw::{raw, raw_sni};
use crate::support::tokens::{claims, mint_hs256};
use crate::support::upstream;

/// A raw GET for `target` on `host`, with bob's token when given.
fn get(host: &str, target: &str, token: Option<&str>) -> Vec<u8> {
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\n{authorization}Accept: application/json\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Sends a raw request that must be refused with `status`, nothing forwarded.
async fn refused_raw(env: &Env, tally: &mut Tally, what: &str, request: &[u8], status: u16) {
    let before = env.upstream_count();
    let exchange = raw(&env.client, request, Duration::from_secs(10)).await;
    assert_eq!(
        exchange.statuses(),
        [status],
        "{what}: {:?}",
        exchange.responses.first().map(|r| (&r.head, r.text()))
    );
    assert_eq!(env.upstream_count(), before, "{what}: reached an upstream");
    tally.refused();
}

/// Sends a raw request that must reach app1 exactly once, with exactly `forwarded` as its
/// target.
async fn forwarded_as(env: &Env, tally: &mut Tally, what: &str, request: &[u8], forwarded: &str) {
    let before = env.app1.received().len();
    let others = env.app2.received().len();
    let exchange = raw(&env.client, request, Duration::from_secs(10)).await;
    assert_eq!(exchange.statuses(), [200], "{what}: {exchange:?}");
    let received = env.app1.received();
    assert_eq!(received.len(), before + 1, "{what}");
    assert_eq!(received[before].target, forwarded, "{what}: forwarded path");
    assert_eq!(env.app2.received().len(), others, "{what}: app2");
    tally.neutralized();
}

#[tokio::test]
async fn dot_segments_and_encodings_cannot_escape_a_route() {
    let mut tally = Tally::new("paths::dot_segments_and_encodings_cannot_escape_a_route");
    let env = env().await;
    let bob = mint_hs256(&claims("bob"));
    let alice = mint_hs256(&claims("alice"));
    let host = "app1.example.test";
    // Controls: the public route is public, /admin is alice's and not bob's.
    forwarded_as(
        &env,
        &mut tally,
        "control",
        &get(host, "/public/x", None),
        "/public/x",
    )
    .await;
    let exchange = raw(
        &env.client,
        &get(host, "/admin", Some(&alice)),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [200], "control: alice on /admin");
    let exchange = raw(
        &env.client,
        &get(host, "/admin", Some(&bob)),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [403], "control: bob on /admin");

    // From the public route into protected ones, without a token: they resolve to /admin
    // or / and need credentials.
    for target in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public/.%2e/admin",
        "/public/%2e./admin",
        "/public/./../admin",
        "/public/x/../../admin",
        "/public//../admin",
        "/public/..//admin",
        "/public;/../admin",
        "/public/%2e/../admin",
        "//admin",
        "///admin/",
        "/./admin",
        "/public/../",
        "/public/..",
        "/public/%2e%2e",
        "/PUBLIC/x",
        "/Public/x",
        "/public%2fx",
        "/publi%63/../admin",
    ] {
        // An encoded slash is refused outright; case variants of another route's prefix
        // are ambiguous (a case-insensitive upstream would serve `/public/x`).
        let status = if target.contains("%2f") || matches!(target, "/PUBLIC/x" | "/Public/x") {
            400
        } else {
            401
        };
        refused_raw(
            &env,
            &mut tally,
            &format!("anonymous {target}"),
            &get(host, target, None),
            status,
        )
        .await;
    }
    // Climbing above the root, or encodings a backend could turn into a separator.
    for target in [
        "/..",
        "/../admin",
        "/%2e%2e/admin",
        "/public/../../admin",
        "/public/%2e%2e/%2e%2e/admin",
        "/public/..%2fadmin",
        "/public/..%2Fadmin",
        "/public/%2e%2e%2fadmin",
        "/public/..%5cadmin",
        "/public/..%5Cadmin",
        "/public/%5c..%5cadmin",
        "/public/%00/../admin",
        "/public/..%00/admin",
        "/public/%",
        "/public/%2",
        "/public/%zz/../admin",
        "/public/%u002e%u002e/admin",
        "/public/%%32%65%%32%65/admin",
    ] {
        refused_raw(
            &env,
            &mut tally,
            &format!("anonymous {target}"),
            &get(host, target, None),
            400,
        )
        .await;
    }
    // bob: escapes of unreserved characters are decoded before routing, so /admin's rule
    // applies however its letters are spelled.
    for target in [
        "/%61dmin",
        "/adm%69n",
        "/admi%6E/x",
        "/%61%64%6d%69%6e",
        "/public/../%61dmin",
        "/x/%2e%2e/admin",
    ] {
        refused_raw(
            &env,
            &mut tally,
            &format!("bob {target}"),
            &get(host, target, Some(&bob)),
            403,
        )
        .await;
    }
    // What is not decoded is forwarded as it was routed: never decoded twice, never a
    // second reading for the upstream to find.
    for (target, expected) in [
        ("/public/%252e%252e/admin", "/public/%252e%252e/admin"),
        (
            "/public/%252E%252E%252Fadmin",
            "/public/%252E%252E%252Fadmin",
        ),
        ("/public/%c0%ae%c0%ae/admin", "/public/%C0%AE%C0%AE/admin"),
        (
            "/public/%e0%80%ae%e0%80%ae/admin",
            "/public/%E0%80%AE%E0%80%AE/admin",
        ),
        ("/public/.%252e/admin", "/public/.%252e/admin"),
        ("/public/./x/../y//z", "/public/y/z"),
        ("/public/%7e%2Dx", "/public/~-x"),
        ("/public/a?x=/../admin", "/public/a?x=/../admin"),
        ("/public/a?%2e%2e/admin", "/public/a?%2e%2e/admin"),
    ] {
        forwarded_as(
            &env,
            &mut tally,
            &format!("anonymous {target}"),
            &get(host, target, None),
            expected,
        )
        .await;
    }
    tally.finish();
}

#[tokio::test]
async fn raw_ambiguous_targets_are_refused() {
    let mut tally = Tally::new("paths::raw_ambiguous_targets_are_refused");
    let env = env().await;
    let host = "app1.example.test";
    forwarded_as(
        &env,
        &mut tally,
        "control",
        &get(host, "/public/ok", None),
        "/public/ok",
    )
    .await;
    for target in [
        &b"/public\\..\\admin"[..],
        b"/public/..\\admin",
        b"/public\\admin",
        b"\\public",
        b"/public/\\\\evil.test",
        b"/public/\x00/../admin",
        b"/public/\x01",
        b"/public/\x7f",
        b"/public/\x1b[31m",
        b"/public/\xc3\xa9",
        b"/public/\xc0\xae\xc0\xae/admin",
        b"/public/ /../admin",
        b"/public/\t/../admin",
        b"public/x",
        b"*",
        b"..",
        b"/public/x/../../../../../../../etc/passwd",
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(
            format!(
                " HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        let what = format!("target {:?}", String::from_utf8_lossy(target));
        let before = env.upstream_count();
        let exchange = raw(&env.client, &request, Duration::from_secs(10)).await;
        assert!(
            exchange.statuses() == [400] || exchange.statuses().is_empty(),
            "{what}: {:?}",
            exchange.responses.first().map(|r| (&r.head, r.text()))
        );
        assert!(exchange.closed, "{what}: left open");
        assert_eq!(env.upstream_count(), before, "{what}: reached an upstream");
        tally.refused();
    }
    // A fragment is never part of what is routed or forwarded.
    forwarded_as(
        &env,
        &mut tally,
        "fragment hiding dot segments",
        &get(host, "/public#/../admin", None),
        "/public",
    )
    .await;
    tally.finish();
}

/// app1 for `app1.example.test` (authenticated, with a public `/public`), a stricter
/// wildcard for its siblings, and a public catch-all for any other host on app2: a host
/// spelling that escaped app1's rules would land on the catch-all.
async fn host_env() -> Env {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("catch-all").await;
    let config = auth_config(&app1.url(), &app2.url())
        .routes(&format!(
            "[[route]]\nhost = \"app1.example.test\"\nupstream = \"{a1}\"\n\n\
             [[route]]\nhost = \"app1.example.test\"\npath = \"/public\"\nupstream = \"{a1}\"\naccess = \"public\"\n\n\
             [[route]]\nhost = \"*.example.test\"\nupstream = \"{a1}\"\naccess = {{ groups = [\"admins\"] }}\n\n\
             [[route]]\nupstream = \"{a2}\"\naccess = \"public\"\n",
            a1 = app1.url(),
            a2 = app2.url(),
        ))
        .sni("app1.example.test");
    Env::new(config.start().await, app1, app2)
}

#[tokio::test]
async fn host_games_cannot_change_the_route() {
    let mut tally = Tally::new("paths::host_games_cannot_change_the_route");
    let env = host_env().await;
    let request = |host: &str, target: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\
             Connection: close\r\n\r\n"
        )
        .into_bytes()
    };
    // Controls: app1 needs a token, any other host is the public catch-all.
    let exchange = raw(
        &env.client,
        &request("app1.example.test", "/secret"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [401], "control: app1");
    let exchange = raw(
        &env.client,
        &request("other.test", "/secret"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [200], "control: catch-all");
    assert_eq!(env.app2.received().len(), 1);

    // Spellings of app1's name stay app1's (401), never the catch-all's.
    for host in [
        "APP1.EXAMPLE.TEST",
        "App1.Example.Test",
        "app1.example.test.",
        "APP1.example.test.:443",
        "app1.example.test:8443",
        "app1.example.test:00443",
    ] {
        let before = env.upstream_count();
        let exchange = raw(
            &env.client,
            &request(host, "/secret"),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(exchange.statuses(), [401], "Host {host:?}: {exchange:?}");
        assert_eq!(env.upstream_count(), before, "Host {host:?}");
        tally.refused();
    }
    // Malformed hosts are refused, not routed to the catch-all.
    for host in [
        "app1.example.test:",
        "app1.example.test:0",
        "app1.example.test:65536",
        "app1.example.test:+443",
        "app1.example.test:443:443",
        "app1.example.test:https",
        "app1.example.test..",
        ".app1.example.test",
        "app1..example.test",
        "app1.example.test@evil.test",
        "evil.test@app1.example.test",
        "app1.example.test%2f",
        "app1%2eexample.test",
        "app1.example.test/admin",
        "app1.example.test\\",
        "app1.example.test,evil.test",
        "app1.example.test evil.test",
        "app1.example.test*",
        "[::1",
        "[app1.example.test]",
        &format!("{}.example.test", "a".repeat(64)),
        &format!("{}.test", "a.".repeat(130)),
        "",
    ] {
        let before = env.upstream_count();
        let exchange = raw(
            &env.client,
            &request(host, "/secret"),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(exchange.statuses(), [400], "Host {host:?}: {exchange:?}");
        assert_eq!(env.upstream_count(), before, "Host {host:?}");
        tally.refused();
    }
    // Absolute-form targets: the target's authority is the host, whatever Host says.
    for (target, host, status) in [
        ("https://app1.example.test/secret", "other.test", 401),
        ("http://app1.example.test/secret", "other.test", 401),
        ("https://APP1.example.test:443/secret", "other.test", 401),
        (
            "https://app1.example.test@other.test/secret",
            "app1.example.test",
            400,
        ),
        (
            "https://other.test@app1.example.test/secret",
            "app1.example.test",
            400,
        ),
        (
            "https://app1.example.test:99999/secret",
            "app1.example.test",
            400,
        ),
    ] {
        let before = env.upstream_count();
        let exchange = raw(&env.client, &request(host, target), Duration::from_secs(10)).await;
        assert_eq!(
            exchange.statuses(),
            [status],
            "{target} with Host {host}: {exchange:?}"
        );
        assert_eq!(env.upstream_count(), before, "{target}");
        tally.refused();
    }
    // The other way round: the target names the catch-all's host while Host names app1;
    // the catch-all gets it with its own Host, app1 sees nothing.
    let before = (env.app1.received().len(), env.app2.received().len());
    let exchange = raw(
        &env.client,
        &request("app1.example.test", "https://other.test/secret"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [200], "{exchange:?}");
    assert_eq!(env.app1.received().len(), before.0);
    let last = env.app2.last();
    assert_eq!(
        last.headers.get("host").map(|h| h.as_bytes()),
        Some(&b"other.test"[..]),
        "the upstream sees the host that was routed"
    );
    assert_eq!(last.target, "/secret");
    tally.neutralized();
    // Targets that name no resource to route.
    for raw_request in [
        &b"CONNECT app1.example.test:443 HTTP/1.1\r\nHost: app1.example.test:443\r\nConnection: close\r\n\r\n"[..],
        b"OPTIONS * HTTP/1.1\r\nHost: app1.example.test\r\nConnection: close\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: app1.example.test\r\nConnection: close\r\n\r\n",
        b"GET app1.example.test:443 HTTP/1.1\r\nHost: app1.example.test\r\nConnection: close\r\n\r\n",
    ] {
        let before = env.upstream_count();
        let exchange = raw(&env.client, raw_request, Duration::from_secs(10)).await;
        assert_eq!(
            exchange.statuses(),
            [400],
            "{:?}: {exchange:?}",
            String::from_utf8_lossy(raw_request)
        );
        assert_eq!(env.upstream_count(), before);
        tally.refused();
    }
    // Domain fronting: a connection whose SNI chose app1's own certificate cannot carry
    // requests for another host.
    for host in ["other.test", "www.example.test", "APP2.example.test"] {
        let before = env.upstream_count();
        let exchange = raw_sni(
            &env.client,
            "app1.example.test",
            &request(host, "/secret"),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(
            exchange.statuses(),
            [421],
            "SNI app1, Host {host}: {exchange:?}"
        );
        assert_eq!(env.upstream_count(), before);
        tally.refused();
    }
    tally.finish();
}

/// Path parameters (`;`) that a Tomcat, Jetty or Spring upstream strips before routing
/// (`/admin;x` is its `/admin`, `/public/..;/admin` its `/admin`) are an ordinary part of a
/// segment to the gateway, which once routed these requests by another path than the
/// upstream serves. Secure outcome: refused (400, as an ambiguous path).
#[tokio::test]
async fn path_parameters_cannot_reach_a_stricter_route() {
    let mut tally = Tally::new("paths::path_parameters_cannot_reach_a_stricter_route");
    let env = env().await;
    let bob = mint_hs256(&claims("bob"));
    let host = "app1.example.test";
    for (target, token) in [
        ("/public/..;/admin", None),
        ("/public/..;x=1/admin", None),
        ("/public/%2e%2e;/admin", None),
        ("/.;/admin", Some(bob.as_str())),
        ("/admin;jsessionid=x", Some(bob.as_str())),
        ("/admin;/x", Some(bob.as_str())),
        ("/admin%3bx", Some(bob.as_str())),
        ("/..;/admin", Some(bob.as_str())),
    ] {
        let before = env.upstream_count();
        let exchange = raw(
            &env.client,
            &get(host, target, token),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(
            exchange.statuses(),
            [400],
            "{target}: forwarded as {:?}",
            env.app1.received().last().map(|r| r.target.clone())
        );
        assert_eq!(
            env.upstream_count(),
            before,
            "{target} reached the upstream"
        );
        tally.refused();
    }
    // A parameter that stays on its route is served as it came (Java session ids).
    let alice = mint_hs256(&claims("alice"));
    let before = env.upstream_count();
    let exchange = raw(
        &env.client,
        &get(host, "/admin/page;jsessionid=x", Some(&alice)),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [200], "{exchange:?}");
    assert_eq!(env.upstream_count(), before + 1);
    let forwarded = env.app1.received().last().map(|r| r.target.clone());
    assert_eq!(forwarded.as_deref(), Some("/admin/page;jsessionid=x"));
    tally.finish();
}

/// Routes match paths case-sensitively (RFC 3986), but Express (by default), IIS and other
/// case-insensitive upstreams serve `/ADMIN` as `/admin`: bob, outside `admins`, once got
/// it through the laxer `/` route. Secure outcome: refused (400, as an ambiguous path).
#[tokio::test]
async fn case_variants_cannot_reach_a_stricter_route() {
    let mut tally = Tally::new("paths::case_variants_cannot_reach_a_stricter_route");
    let env = env().await;
    let bob = mint_hs256(&claims("bob"));
    for target in ["/ADMIN", "/Admin/x", "/aDmIn"] {
        let before = env.upstream_count();
        let exchange = raw(
            &env.client,
            &get("app1.example.test", target, Some(&bob)),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(exchange.statuses(), [400], "{target}: {exchange:?}");
        assert_eq!(
            env.upstream_count(),
            before,
            "{target} reached the upstream"
        );
        tally.refused();
    }
    // Upper case that stays on its route is served as it came.
    let exchange = raw(
        &env.client,
        &get("app1.example.test", "/Images/Logo.PNG", Some(&bob)),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(exchange.statuses(), [200], "{exchange:?}");
    let forwarded = env.app1.received().last().map(|r| r.target.clone());
    assert_eq!(forwarded.as_deref(), Some("/Images/Logo.PNG"));
    tally.finish();
}
