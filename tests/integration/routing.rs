//! Routing by host and path, and the path that reaches the upstream.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;

use crate::support::client::Protocol;
use crate::support::gateway::{public_route, start};
use crate::support::raw::raw;
use crate::support::upstream;
use crate::support::within;

#[tokio::test]
async fn routes_by_host_then_longest_path_prefix() {
    let app1 = upstream::start("app1").await;
    let app1_api = upstream::start("app1-api").await;
    let wildcard = upstream::start("wildcard").await;
    let fallback = upstream::start("fallback").await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nhost = \"app1.example.test\"\nupstream = \"{}\"\n\
         [[route]]\naccess = \"public\"\nhost = \"app1.example.test\"\npath = \"/api\"\nupstream = \"{}\"\n\
         [[route]]\naccess = \"public\"\nhost = \"*.example.test\"\nupstream = \"{}\"\n\
         [[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app1.url(),
        app1_api.url(),
        wildcard.url(),
        fallback.url()
    ))
    .await;
    let client = gateway.client();
    for (host, path, expected) in [
        ("app1.example.test", "/", "app1"),
        ("app1.example.test", "/apix", "app1"),
        ("app1.example.test", "/api", "app1-api"),
        ("app1.example.test", "/api/v1/users", "app1-api"),
        ("APP1.Example.Test.", "/api/", "app1-api"),
        ("app2.example.test", "/api", "wildcard"),
        ("deep.app2.example.test", "/", "wildcard"),
        ("localhost", "/anything", "fallback"),
    ] {
        let response = within(client.get(host, path)).await;
        assert_eq!(response.status, 200, "{host}{path}");
        assert_eq!(response.json()["upstream"], expected, "{host}{path}");
    }
}

#[tokio::test]
async fn unrouted_host_gets_404_json() {
    let app = upstream::start("app").await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nhost = \"app1.example.test\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let response = gateway.client().get("other.example.test", "/").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["error"], "not_found");
    assert_eq!(response.headers["content-type"], "application/json");
    assert!(app.received().is_empty());
}

/// Cross-site tracing: `TRACE` (and Microsoft's `TRACK`) never reach an upstream, on a
/// public route, a protected one, or a host without a route (refused before routing).
#[tokio::test]
async fn trace_and_track_get_405_with_allow_before_routing() {
    let app = upstream::start("app").await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nhost = \"app1.example.test\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let client = gateway.client();
    assert_eq!(
        client.get("app1.example.test", "/").await.status,
        200,
        "control"
    );
    let before = app.received().len();
    for method in ["TRACE", "TRACK", "trace"] {
        for host in ["app1.example.test", "unrouted.example.test"] {
            for protocol in [Protocol::Http1, Protocol::Http2] {
                let request = Request::builder()
                    .method(Method::from_bytes(method.as_bytes()).expect("method"))
                    .uri(format!("https://{host}:{}/", gateway.addr.port()))
                    .header("host", host)
                    .header("cookie", "session=secret")
                    .body(Full::<Bytes>::default())
                    .expect("request");
                let response = within(client.send(request, protocol)).await;
                let what = format!("{method} {host} {protocol:?}");
                // `trace` is another method than `TRACE` (methods are case-sensitive) and
                // is forwarded like any extension method.
                if method == "trace" {
                    assert_ne!(response.status, 405, "{what}");
                    continue;
                }
                assert_eq!(response.status, 405, "{what}");
                assert_eq!(response.json()["error"], "method_not_allowed", "{what}");
                let allow = response.headers["allow"].to_str().expect("allow");
                assert!(
                    allow.contains("GET") && !allow.contains("TRACE"),
                    "{what}: {allow}"
                );
            }
        }
    }
    assert_eq!(
        app.received()
            .iter()
            .skip(before)
            .filter(|r| r.method != "trace")
            .count(),
        0,
        "TRACE or TRACK reached the upstream"
    );
}

#[tokio::test]
async fn forwarded_path_is_the_normalized_routed_path_with_query_untouched() {
    let public = upstream::start("public").await;
    let admin = upstream::start("admin").await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nupstream = \"{}\"\n[[route]]\naccess = \"public\"\npath = \"/admin\"\nupstream = \"{}\"\n",
        public.url(),
        admin.url()
    ))
    .await;
    let client = gateway.client();
    for (sent, routed_to, forwarded) in [
        ("/public/../admin/x", "admin", "/admin/x"),
        ("/admin/../public/x", "public", "/public/x"),
        ("//admin//x", "admin", "/admin/x"),
        ("/%61dmin/x?q=%2e%2e/a", "admin", "/admin/x?q=%2e%2e/a"),
        ("/./admin/./x/", "admin", "/admin/x/"),
        // `;` parameters that keep the route are forwarded as they came (one that would
        // move it, `/admin;x/y`, is refused as ambiguous: adversarial::paths).
        ("/public;x/y", "public", "/public;x/y"),
        ("/admin/y;jsessionid=1", "admin", "/admin/y;jsessionid=1"),
        ("/a/%2e%2E/admin", "admin", "/admin"),
    ] {
        let response = client.get("localhost", sent).await;
        assert_eq!(response.status, 200, "{sent}");
        assert_eq!(response.json()["upstream"], routed_to, "{sent}");
        assert_eq!(response.json()["path"], forwarded, "{sent}");
    }
}

#[tokio::test]
async fn ambiguous_paths_are_rejected_before_any_upstream_sees_them() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let client = gateway.client();
    for path in [
        "/a%2fb",
        "/a%2F..%2Fb",
        "/a%5cb",
        "/a%00b",
        "/../etc/passwd",
        "/a/%2e%2e/%2e%2e/b",
        "/a%zz",
    ] {
        let response = client.get("localhost", path).await;
        assert_eq!(response.status, 400, "{path}");
        assert_eq!(response.json()["error"], "bad_request", "{path}");
    }
    // A raw backslash, which no well-behaved client library would send.
    let text = raw(
        &client,
        b"GET /a\\b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await
    .text();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(app.received().is_empty(), "{:?}", app.received());
}

#[tokio::test]
async fn raw_fragment_is_dropped_by_the_parser_and_never_forwarded() {
    // The HTTP parser discards a `#fragment` before the gateway sees the target, so the
    // path that is routed is the path without it — and that is exactly what is forwarded.
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let text = raw(
        &gateway.client(),
        b"GET /a#/../admin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await
    .text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(app.last().target, "/a");
}

#[tokio::test]
async fn absolute_form_target_routes_by_its_authority() {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nhost = \"app1.example.test\"\nupstream = \"{}\"\n[[route]]\naccess = \"public\"\nhost = \"app2.example.test\"\nupstream = \"{}\"\n",
        app1.url(),
        app2.url()
    ))
    .await;
    let text = raw(
        &gateway.client(),
        b"GET https://app2.example.test/x HTTP/1.1\r\nHost: app1.example.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await
    .text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"upstream\":\"app2\""), "{text}");
    assert_eq!(app2.last().headers["host"], "app2.example.test");
}

#[tokio::test]
async fn builtin_whoami_shows_what_an_upstream_would_receive() {
    let gateway = start("[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let response = gateway.client().get("localhost", "/x/../who?a=1").await;
    assert_eq!(response.status, 200);
    let text = response.text();
    assert!(text.starts_with("GET /who?a=1 HTTP/1.1\n"), "{text}");
    assert!(text.contains("x-forwarded-proto: https\n"), "{text}");
    assert!(text.contains("x-forwarded-for: 127.0.0.1\n"), "{text}");
}
