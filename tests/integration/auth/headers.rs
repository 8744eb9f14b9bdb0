//! Identity headers: whatever a client claims never reaches an upstream; on protected routes
//! the upstream sees exactly the gateway's values.

use http::HeaderMap;

use crate::support::env::env;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256};

/// A request carrying every spelling of a spoofed identity, and a `Connection` header that
/// tries to make the gateway drop its own `X-Forwarded-User`.
fn spoofed(host: &str, path: &str) -> Req {
    Req::get(host, path)
        .header("X-Forwarded-User", "mallory")
        .header("x_forwarded_user", "mallory")
        .header("X_FORWARDED_USER", "mallory")
        .header("X.Forwarded.Groups", "admins")
        .header("x-forwarded-groups", "admins")
        .header("X-Forwarded-Email", "mallory@evil.test")
        .header("x.forwarded_email", "mallory@evil.test")
        .header("Connection", "X-Forwarded-User")
}

/// No header of the upstream's request carries the spoofed values, in any spelling.
fn assert_nothing_spoofed(received: &HeaderMap, what: &str) {
    for (name, value) in received {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(
            !value.contains("mallory") && value != "admins",
            "{what}: spoofed {name}: {value} reached the upstream: {received:?}"
        );
    }
    for name in [
        "x_forwarded_user",
        "x.forwarded.groups",
        "x.forwarded_email",
    ] {
        assert!(
            received.get(name).is_none(),
            "{what}: {name} reached the upstream: {received:?}"
        );
    }
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_a_public_route() {
    let env = env().await;
    let response = env.send(spoofed("app1.example.test", "/public/page")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last().headers;
    assert_nothing_spoofed(&received, "public route");
    for name in [
        "x-forwarded-user",
        "x-forwarded-groups",
        "x-forwarded-email",
    ] {
        assert!(received.get(name).is_none(), "{name}: {received:?}");
    }
}

#[tokio::test]
async fn spoofed_identity_headers_are_replaced_by_the_real_identity_on_protected_routes() {
    let env = env().await;
    let alice = mint_hs256(&claims("alice"));
    let response = env
        .send(spoofed("app1.example.test", "/").bearer(&alice))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last().headers;
    assert_nothing_spoofed(&received, "alice");
    let values = |name: &str| -> Vec<String> {
        received
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    assert_eq!(values("x-forwarded-user"), ["alice"], "{received:?}");
    assert_eq!(values("x-forwarded-groups"), ["admins,dev"], "{received:?}");
    assert_eq!(
        values("x-forwarded-email"),
        ["alice@example.test"],
        "{received:?}"
    );

    // bob has no groups and no email: nothing the client sent may fill the gap.
    let bob = mint_hs256(&claims("bob"));
    let response = env
        .send(spoofed("app2.example.test", "/").cookie(&bob))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app2.last().headers;
    assert_nothing_spoofed(&received, "bob");
    assert_eq!(received["x-forwarded-user"], "bob", "{received:?}");
    assert_eq!(received.get_all("x-forwarded-user").iter().count(), 1);
    assert!(
        received
            .get_all("x-forwarded-groups")
            .iter()
            .all(|v| v.is_empty()),
        "{received:?}"
    );
    assert!(received.get("x-forwarded-email").is_none(), "{received:?}");
}
