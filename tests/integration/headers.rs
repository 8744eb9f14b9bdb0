//! Header hygiene as the upstream sees it.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::support::client::Protocol;
use crate::support::gateway::{public_route, start};
use crate::support::upstream;

#[tokio::test]
async fn spoofed_identity_and_forwarding_headers_never_reach_the_upstream() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let request = Request::get("/")
        .header("host", "localhost")
        .header("X-Forwarded-User", "admin")
        .header("x_forwarded_user", "admin")
        .header("X.Forwarded.Groups", "admins")
        .header("x-forwarded-email", "admin@example.test")
        .header("X-Forwarded-For", "10.9.9.9")
        .header("X-Forwarded-Host", "evil.test")
        .header("X-Forwarded-Proto", "http")
        .header("Forwarded", "for=10.9.9.9")
        .header("X-Original-URL", "/admin")
        .header("X-Rewrite-URL", "/admin")
        .header("X-Real-IP", "10.9.9.9")
        .header("Connection", "X-Forwarded-For, X-Forwarded-Proto")
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = gateway.client().send(request, Protocol::Http1).await;
    assert_eq!(response.status, 200);
    let received = app.last().headers;
    for spoofed in [
        "x-forwarded-user",
        "x_forwarded_user",
        "x.forwarded.groups",
        "x-forwarded-email",
        "forwarded",
        "x-original-url",
        "x-rewrite-url",
        "x-real-ip",
    ] {
        assert!(
            received.get(spoofed).is_none(),
            "{spoofed} reached the upstream: {received:?}"
        );
    }
    assert_eq!(received["x-forwarded-for"], "127.0.0.1");
    assert_eq!(received["x-forwarded-proto"], "https");
    assert_eq!(received["x-forwarded-host"], "localhost");
    assert_eq!(received.get_all("x-forwarded-for").iter().count(), 1);
}

#[tokio::test]
async fn trusted_proxy_forwarded_for_is_appended_to_and_its_real_ip_kept() {
    let app = upstream::start("app").await;
    let gateway = start(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let request = Request::get("/")
        .header("host", "localhost")
        .header("x-forwarded-for", "198.51.100.4")
        .header("x-real-ip", "198.51.100.4")
        .header("x-original-url", "/admin")
        .body(Full::<Bytes>::default())
        .expect("request");
    gateway.client().send(request, Protocol::Http1).await;
    let received = app.last().headers;
    assert_eq!(received["x-forwarded-for"], "198.51.100.4, 127.0.0.1");
    // A trusted proxy vouches for the client address, never for a URL override.
    assert_eq!(received["x-real-ip"], "198.51.100.4");
    assert!(received.get("x-original-url").is_none());
}

#[tokio::test]
async fn host_is_preserved_and_hop_by_hop_headers_are_removed() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let request = Request::get("/")
        .header("host", format!("App.Example.Test:{}", gateway.addr.port()))
        .header("connection", "keep-alive, x-secret-hop")
        .header("x-secret-hop", "1")
        .header("keep-alive", "timeout=5")
        .header("upgrade", "h2c")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("x-kept", "yes")
        .body(Full::<Bytes>::default())
        .expect("request");
    gateway.client().send(request, Protocol::Http1).await;
    let received = app.last().headers;
    assert_eq!(
        received["host"],
        format!("App.Example.Test:{}", gateway.addr.port())
    );
    for hop in [
        "x-secret-hop",
        "keep-alive",
        "upgrade",
        "te",
        "proxy-authorization",
    ] {
        assert!(received.get(hop).is_none(), "{hop}: {received:?}");
    }
    assert_eq!(received["x-kept"], "yes");
}

#[tokio::test]
async fn http2_split_cookies_are_joined_for_the_http1_upstream() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let request = Request::get(format!("https://localhost:{}/", gateway.addr.port()))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = gateway.client().send(request, Protocol::Http2).await;
    assert_eq!(response.status, 200);
    assert_eq!(app.last().headers["cookie"], "a=1; b=2");
}
