//! Header handling under attack: a client must never be able to choose the identity or
//! forwarding headers an upstream receives — not by spelling them differently (case, `_`,
//! `.`), repeating them, folding them, hiding them behind CR, LF or NUL, nor by naming the
//! gateway's own headers in `Connection` so that a hop-by-hop rule removes them.
//!
//! Requests a well-behaved client library would not send are written as raw bytes.

use std::time::Duration;

use serde_json::json;

use super::{Tally, refused};
use crate::support::env::{Env, env};
use crate::support::raw::raw;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256};
use crate::support::upstream::Received;

/// Lower-case with `_` and `.` as `-`: how CGI/WSGI-style backends fold header names.
fn canonical(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Every value of headers whose canonical name is `name`, in any spelling.
fn values(received: &Received, name: &str) -> Vec<String> {
    received
        .headers
        .iter()
        .filter(|(n, _)| canonical(n.as_str()) == name)
        .map(|(_, v)| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// What the upstream must see for the identity headers: exactly the gateway's values.
struct Expected<'a> {
    user: Option<&'a str>,
    groups: Option<&'a str>,
    email: Option<&'a str>,
    host: &'a str,
}

/// Asserts the upstream's copy of every gateway header is exactly the gateway's value, in
/// every spelling: one value or none, never the client's.
fn assert_clean(received: &Received, expected: &Expected<'_>, what: &str) {
    let one = |value: Option<&str>| value.map(str::to_owned).into_iter().collect::<Vec<_>>();
    for (name, want) in [
        ("x-forwarded-user", one(expected.user)),
        ("x-forwarded-groups", one(expected.groups)),
        ("x-forwarded-email", one(expected.email)),
        ("x-forwarded-for", one(Some("127.0.0.1"))),
        ("x-forwarded-host", one(Some(expected.host))),
        ("x-forwarded-proto", one(Some("https"))),
        ("forwarded", Vec::new()),
    ] {
        assert_eq!(
            values(received, name),
            want,
            "{what}: {name} as the upstream received it: {:?}",
            received.headers
        );
    }
}

/// A raw HTTP/1.1 request to app1 with `extra` header lines (each ending in CRLF).
fn raw_request(path: &str, token: Option<&str>, extra: &str) -> Vec<u8> {
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: app1.example.test\r\n{authorization}{extra}\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Sends a raw request that must be served (200) with every gateway header clean.
async fn neutralized(
    env: &Env,
    tally: &mut Tally,
    what: &str,
    request: &[u8],
    expected: &Expected<'_>,
) {
    let before = env.app1.received().len();
    let exchange = raw(&env.client, request, Duration::from_secs(10)).await;
    assert_eq!(exchange.statuses(), [200], "{what}: {exchange:?}");
    let received = env.app1.received();
    assert_eq!(received.len(), before + 1, "{what}: one request upstream");
    assert_clean(&received[before], expected, what);
    tally.neutralized();
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_upstream() {
    let mut tally = Tally::new("identity::spoofed_identity_headers_never_reach_the_upstream");
    let env = env().await;
    let bob = mint_hs256(&claims("bob"));
    let bob_expected = Expected {
        user: Some("bob"),
        groups: None,
        email: None,
        host: "app1.example.test",
    };
    let anonymous = Expected {
        user: None,
        groups: None,
        email: None,
        host: "app1.example.test",
    };
    let spoofs = [
        "X-Forwarded-User: admin\r\n",
        "x-forwarded-user: admin\r\n",
        "X-FORWARDED-USER: admin\r\n",
        "X_Forwarded_User: admin\r\n",
        "x_forwarded_user: admin\r\n",
        "X.Forwarded.User: admin\r\n",
        "X-Forwarded_User: admin\r\n",
        "X_FORWARDED-user: admin\r\n",
        "X-Forwarded-User: admin\r\nX-Forwarded-User: root\r\n",
        "X-Forwarded-User:\r\n",
        "X-Forwarded-User: bob\r\n",
        "X-Forwarded-Groups: admins\r\n",
        "X_Forwarded_Groups: admins\r\n",
        "x.forwarded.groups: admins\r\n",
        "X-Forwarded-Groups: admins\r\nX-Forwarded-Groups: dev\r\n",
        "X-Forwarded-Email: boss@example.test\r\n",
        "X_FORWARDED_EMAIL: boss@example.test\r\n",
        "X-Forwarded-For: 10.0.0.1\r\n",
        "X_Forwarded_For: 10.0.0.1\r\n",
        "X-Forwarded-For: 127.0.0.1, 10.0.0.1\r\n",
        "X-Forwarded-Host: admin.example.test\r\n",
        "X-Forwarded-Proto: http\r\n",
        "Forwarded: for=10.0.0.1;host=admin.example.test;proto=http\r\n",
        "FORWARDED: for=10.0.0.1\r\n",
    ];
    for spoof in spoofs {
        let what = format!("with bob's token: {spoof:?}");
        let request = raw_request("/", Some(&bob), spoof);
        neutralized(&env, &mut tally, &what, &request, &bob_expected).await;
    }
    // On a public route nothing is injected, and nothing the client sent survives.
    for spoof in [
        "X-Forwarded-User: admin\r\n",
        "X_Forwarded_User: admin\r\nX-Forwarded-Groups: admins\r\n",
        "x.forwarded.email: boss@example.test\r\n",
    ] {
        let what = format!("public route: {spoof:?}");
        let request = raw_request("/public/page", None, spoof);
        neutralized(&env, &mut tally, &what, &request, &anonymous).await;
    }
    // On a protected route, identity headers are no credential at all.
    for spoof in [
        ("X-Forwarded-User", "alice"),
        ("X-Forwarded-Groups", "admins"),
        ("X-Remote-User", "alice"),
        ("Remote-User", "alice"),
    ] {
        refused(
            &env,
            &mut tally,
            &format!("no token, {spoof:?}"),
            Req::get("app1.example.test", "/admin").header(spoof.0, spoof.1),
            401,
        )
        .await;
    }
    // HTTP/2 carries header names lower-case; the `_`/`.` spellings still fold together.
    let h2_host = format!("app1.example.test:{}", env.gateway.addr.port());
    let h2_expected = Expected {
        host: &h2_host,
        ..bob_expected
    };
    for (name, value) in [
        ("x-forwarded-user", "admin"),
        ("x_forwarded_user", "admin"),
        ("x.forwarded.groups", "admins"),
        ("x-forwarded-for", "10.0.0.1"),
    ] {
        let before = env.app1.received().len();
        let response = env
            .send_h2(
                Req::get("app1.example.test", "/")
                    .bearer(&bob)
                    .header(name, value),
            )
            .await;
        assert_eq!(response.status, 200, "h2 {name}: {}", response.text());
        let received = env.app1.received();
        assert_eq!(received.len(), before + 1);
        assert_clean(&received[before], &h2_expected, &format!("h2 {name}"));
        tally.neutralized();
    }
    tally.finish();
}

#[tokio::test]
async fn malformed_header_syntax_is_refused() {
    let mut tally = Tally::new("identity::malformed_header_syntax_is_refused");
    let env = env().await;
    let bob = mint_hs256(&claims("bob"));
    let head = |lines: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: app1.example.test\r\nAuthorization: Bearer {bob}\r\n\
             {lines}Connection: close\r\n\r\n"
        )
        .into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "obs-fold continuing an innocent header",
            head("X-Note: hello\r\n X-Forwarded-User: admin\r\n"),
        ),
        (
            "obs-fold with a tab",
            head("X-Note: hello\r\n\tX-Forwarded-User: admin\r\n"),
        ),
        (
            "obs-fold continuing Authorization",
            format!(
                "GET / HTTP/1.1\r\nHost: app1.example.test\r\nAuthorization: Bearer\r\n {bob}\r\n\
                 Connection: close\r\n\r\n"
            )
            .into_bytes(),
        ),
        (
            "obs-fold continuing Host",
            b"GET / HTTP/1.1\r\nHost: app1.example.test\r\n .evil.test\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ),
        (
            "first header line folded",
            format!("GET / HTTP/1.1\r\n Host: app1.example.test\r\nAuthorization: Bearer {bob}\r\n\r\n")
                .into_bytes(),
        ),
        ("space before the colon", head("X-Forwarded-User : admin\r\n")),
        ("tab before the colon", head("X-Forwarded-User\t: admin\r\n")),
        ("empty header name", head(": admin\r\n")),
        ("NUL in a value", head("X-Forwarded-User: ad\0min\r\n")),
        ("NUL in a name", head("X-Forwarded-User\0: admin\r\n")),
        ("bare CR in a value", head("X-Note: a\rX-Forwarded-User: admin\r\n")),
        (
            "non-ASCII look-alike name",
            head("X-Forwarded-U\u{0455}er: admin\r\n"),
        ),
        ("DEL in a name", head("X-Forwarded-User\x7f: admin\r\n")),
        ("header without a colon", head("X-Forwarded-User admin\r\n")),
        (
            "CR LF injected into the request line",
            format!(
                "GET /\r\nX-Forwarded-User: admin HTTP/1.1\r\nHost: app1.example.test\r\n\
                 Authorization: Bearer {bob}\r\n\r\n"
            )
            .into_bytes(),
        ),
        (
            "space in the request target",
            format!("GET / x HTTP/1.1\r\nHost: app1.example.test\r\nAuthorization: Bearer {bob}\r\n\r\n")
                .into_bytes(),
        ),
        (
            "HTTP/0.9 request line",
            b"GET /\r\n\r\n".to_vec(),
        ),
        (
            "unknown HTTP version",
            format!("GET / HTTP/1.7\r\nHost: app1.example.test\r\nAuthorization: Bearer {bob}\r\nConnection: close\r\n\r\n")
                .into_bytes(),
        ),
        (
            "two Host headers",
            format!(
                "GET / HTTP/1.1\r\nHost: app1.example.test\r\nHost: app2.example.test\r\n\
                 Authorization: Bearer {bob}\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
        ),
        (
            "no Host header",
            format!("GET / HTTP/1.1\r\nAuthorization: Bearer {bob}\r\nConnection: close\r\n\r\n")
                .into_bytes(),
        ),
    ];
    let control = raw(&env.client, &head(""), Duration::from_secs(10)).await;
    assert_eq!(control.statuses(), [200], "control: {control:?}");
    for (what, request) in cases {
        let before = env.upstream_count();
        let exchange = raw(&env.client, &request, Duration::from_secs(10)).await;
        let statuses = exchange.statuses();
        assert!(
            statuses.is_empty() || statuses == [400] || statuses == [505],
            "{what}: {statuses:?} {:?}",
            exchange.responses.first().map(|r| r.head.clone())
        );
        assert!(exchange.closed, "{what}: connection left open");
        assert_eq!(env.upstream_count(), before, "{what}: reached an upstream");
        tally.refused();
    }
    tally.finish();
}

#[tokio::test]
async fn hop_by_hop_abuse_cannot_remove_gateway_headers() {
    let mut tally = Tally::new("identity::hop_by_hop_abuse_cannot_remove_gateway_headers");
    let env = env().await;
    let alice = mint_hs256(&claims("alice"));
    let expected = Expected {
        user: Some("alice"),
        groups: Some("admins,dev"),
        email: Some("alice@example.test"),
        host: "app1.example.test",
    };
    for connection in [
        "X-Forwarded-User",
        "x-forwarded-groups",
        "X-Forwarded-Email",
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "close, X-Forwarded-User, X-Forwarded-Groups, X-Forwarded-Email",
        "X_Forwarded_User",
        "Host",
    ] {
        let what = format!("Connection: {connection}");
        let request = raw_request("/", Some(&alice), &format!("Connection: {connection}\r\n"));
        neutralized(&env, &mut tally, &what, &request, &expected).await;
        if connection == "Host" {
            let host = env.app1.last().headers.get("host").cloned();
            assert_eq!(
                host.as_ref().map(|h| h.as_bytes()),
                Some(&b"app1.example.test"[..])
            );
        }
    }
    // Hop-by-hop headers themselves never reach the upstream, nor what they name.
    for (what, lines, gone) in [
        (
            "h2c upgrade",
            "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n",
            &["upgrade", "http2-settings"][..],
        ),
        (
            "Proxy-Authorization",
            "Proxy-Authorization: Basic YWRtaW46YWRtaW4=\r\n",
            &["proxy-authorization"],
        ),
        (
            "Keep-Alive and Proxy-Connection",
            "Keep-Alive: timeout=999\r\nProxy-Connection: keep-alive\r\n",
            &["keep-alive", "proxy-connection"],
        ),
        (
            "TE and Trailer naming the identity",
            "TE: trailers\r\nTrailer: X-Forwarded-User\r\n",
            &["te", "trailer"],
        ),
        (
            "a header named by Connection",
            "X-Internal-Token: secret\r\nConnection: X-Internal-Token\r\n",
            &["x-internal-token"],
        ),
    ] {
        let request = raw_request("/", Some(&alice), lines);
        neutralized(&env, &mut tally, what, &request, &expected).await;
        let last = env.app1.last();
        for name in gone {
            assert!(
                last.headers.get(*name).is_none(),
                "{what}: {name} reached the upstream: {:?}",
                last.headers
            );
        }
    }
    // Naming the framing headers in Connection must not break the body's framing.
    for (what, framing, body) in [
        (
            "Connection: Content-Length",
            "Content-Length: 11\r\nConnection: Content-Length\r\n",
            "hello world".to_owned(),
        ),
        (
            "Connection: Transfer-Encoding",
            "Transfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n",
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_owned(),
        ),
    ] {
        let before = env.app1.received().len();
        let request = format!(
            "POST /upload HTTP/1.1\r\nHost: app1.example.test\r\nAuthorization: Bearer {alice}\r\n\
             {framing}Connection: close\r\n\r\n{body}"
        );
        let exchange = raw(&env.client, request.as_bytes(), Duration::from_secs(3)).await;
        let response = exchange
            .responses
            .first()
            .unwrap_or_else(|| panic!("{what}: no response"));
        assert_eq!(response.status, 200, "{what}: {}", response.text());
        let answer: serde_json::Value = serde_json::from_slice(&response.body).expect("json");
        assert_eq!(answer, json!({"bytes": 11}), "{what}: body framing");
        assert_eq!(env.app1.received().len(), before + 1, "{what}");
        tally.neutralized();
    }
    tally.finish();
}
