//! Tests of `headers`.

use super::*;
use crate::http::is_websocket_upgrade;
use crate::http::test_headers as headers;

fn protected() -> ProtectedHeaders {
    ProtectedHeaders::new(&IdentityHeaders::default())
}

fn client(host: &HeaderValue, trusted: bool) -> ClientSide<'_> {
    ClientSide {
        peer: "203.0.113.7".parse().expect("ip"),
        peer_trusted: trusted,
        host,
    }
}

#[test]
fn identity_headers_are_stripped_in_every_spelling() {
    let host = HeaderValue::from_static("app.example.com");
    let mut map = headers(&[
        ("x-forwarded-user", "mallory"),
        ("X_Forwarded_User", "mallory"),
        ("x.forwarded.groups", "admins"),
        ("x-forwarded_user", "mallory"),
        ("x-other", "kept"),
    ]);
    prepare_upstream_request(&mut map, &protected(), client(&host, false), false);
    assert!(map.get("x-forwarded-user").is_none());
    assert!(map.get("x_forwarded_user").is_none());
    assert!(map.get("x.forwarded.groups").is_none());
    assert!(map.get("x-forwarded_user").is_none());
    assert_eq!(map.get("x-other").map(|v| v.as_bytes()), Some(&b"kept"[..]));
}

#[test]
fn identity_is_injected_with_groups_joined() {
    let identity = Identity {
        user: "alice".to_owned(),
        groups: vec!["admins".to_owned(), "dev".to_owned()],
        email: Some("alice@example.com".to_owned()),
    };
    let mut map = HeaderMap::new();
    inject_identity(&mut map, &IdentityHeaders::default(), &identity).expect("valid values");
    assert_eq!(map["x-forwarded-user"], "alice");
    assert_eq!(map["x-forwarded-groups"], "admins,dev");
    assert_eq!(map["x-forwarded-email"], "alice@example.com");
    let control = Identity {
        user: "a\nb".to_owned(),
        ..identity
    };
    assert!(inject_identity(&mut map, &IdentityHeaders::default(), &control).is_err());
}

#[test]
fn connection_header_cannot_remove_gateway_headers() {
    let host = HeaderValue::from_static("app.example.com");
    let mut map = headers(&[
        ("connection", "X-Forwarded-For, X-Forwarded-Host, x-custom"),
        ("x-custom", "1"),
    ]);
    prepare_upstream_request(&mut map, &protected(), client(&host, false), false);
    assert_eq!(
        map.get(&X_FORWARDED_FOR).map(|v| v.as_bytes()),
        Some(&b"203.0.113.7"[..])
    );
    assert_eq!(
        map.get(&X_FORWARDED_HOST).map(|v| v.as_bytes()),
        Some(&b"app.example.com"[..])
    );
    assert!(
        map.get("x-custom").is_none(),
        "named in Connection, so hop-by-hop"
    );
    assert!(map.get(header::CONNECTION).is_none());
}

#[test]
fn hop_by_hop_headers_and_non_websocket_upgrades_are_removed() {
    let host = HeaderValue::from_static("h");
    let mut map = headers(&[
        ("connection", "upgrade, keep-alive"),
        ("upgrade", "h2c"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("proxy-authorization", "Basic x"),
        ("proxy-connection", "keep-alive"),
        ("trailer", "x"),
    ]);
    assert!(!is_websocket_upgrade(&map));
    prepare_upstream_request(&mut map, &protected(), client(&host, false), false);
    for name in [
        "connection",
        "upgrade",
        "keep-alive",
        "te",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
    ] {
        assert!(map.get(name).is_none(), "{name}");
    }
}

#[test]
fn websocket_upgrade_is_kept() {
    let host = HeaderValue::from_static("h");
    let mut map = headers(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-key", "k"),
    ]);
    assert!(is_websocket_upgrade(&map));
    prepare_upstream_request(&mut map, &protected(), client(&host, false), true);
    assert_eq!(
        map.get(header::UPGRADE).map(|v| v.as_bytes()),
        Some(&b"websocket"[..])
    );
    assert_eq!(
        map.get(header::CONNECTION).map(|v| v.as_bytes()),
        Some(&b"upgrade"[..])
    );
    assert!(map.get("sec-websocket-key").is_some());
}

#[test]
fn forwarded_for_is_replaced_from_untrusted_peers_and_appended_from_trusted_ones() {
    let host = HeaderValue::from_static("h");
    let mut untrusted = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
    prepare_upstream_request(&mut untrusted, &protected(), client(&host, false), false);
    assert_eq!(
        untrusted.get(&X_FORWARDED_FOR).map(|v| v.as_bytes()),
        Some(&b"203.0.113.7"[..])
    );
    assert!(untrusted.get("forwarded").is_none());

    let mut trusted = headers(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-for", "5.6.7.8"),
        ("forwarded", "for=1.2.3.4"),
    ]);
    prepare_upstream_request(&mut trusted, &protected(), client(&host, true), false);
    assert_eq!(
        trusted.get(&X_FORWARDED_FOR).map(|v| v.as_bytes()),
        Some(&b"1.2.3.4, 5.6.7.8, 203.0.113.7"[..])
    );
    assert!(trusted.get("forwarded").is_some());
}

#[test]
fn url_overrides_are_always_removed_and_real_ip_unless_from_a_trusted_proxy() {
    let host = HeaderValue::from_static("h");
    let sent = [
        ("x-original-url", "/admin"),
        ("X_Rewrite_URL", "/admin"),
        ("x-real-ip", "10.0.0.1"),
        ("X.Real.IP", "10.0.0.2"),
    ];
    let mut untrusted = headers(&sent);
    prepare_upstream_request(&mut untrusted, &protected(), client(&host, false), false);
    for (name, _) in sent {
        assert!(untrusted.get(name).is_none(), "{name} reached the upstream");
    }

    let mut trusted = headers(&sent);
    prepare_upstream_request(&mut trusted, &protected(), client(&host, true), false);
    assert!(trusted.get("x-original-url").is_none());
    assert!(trusted.get("x_rewrite_url").is_none());
    assert_eq!(trusted["x-real-ip"], "10.0.0.1");
    assert_eq!(trusted["x.real.ip"], "10.0.0.2");
}

#[test]
fn proto_host_and_split_cookies_are_set_for_http1_upstreams() {
    let host = HeaderValue::from_static("App.example.com:8443");
    let mut map = headers(&[
        ("x-forwarded-proto", "http"),
        ("cookie", "a=1"),
        ("cookie", "b=2"),
        ("host", "other"),
    ]);
    prepare_upstream_request(&mut map, &protected(), client(&host, false), false);
    assert_eq!(
        map.get(&X_FORWARDED_PROTO).map(|v| v.as_bytes()),
        Some(&b"https"[..])
    );
    assert_eq!(map.get(header::HOST), Some(&host));
    assert_eq!(
        map.get(header::COOKIE).map(|v| v.as_bytes()),
        Some(&b"a=1; b=2"[..])
    );
}

#[test]
fn response_keeps_upgrade_headers_only_when_switching_protocols() {
    let mut switching = headers(&[
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("keep-alive", "x"),
    ]);
    prepare_client_response(&mut switching, true);
    assert!(switching.get("upgrade").is_some() && switching.get("connection").is_some());
    assert!(switching.get("keep-alive").is_none());
    let mut normal = headers(&[
        ("connection", "close, x-internal"),
        ("x-internal", "1"),
        ("transfer-encoding", "chunked"),
    ]);
    prepare_client_response(&mut normal, false);
    assert!(normal.is_empty(), "{normal:?}");
}

#[test]
fn client_ip_walks_forwarded_for_past_trusted_proxies() {
    let trusted = |ip: IpAddr| ip.to_string().starts_with("10.");
    let peer: IpAddr = "10.0.0.1".parse().expect("ip");
    let map = headers(&[("x-forwarded-for", "198.51.100.9, 203.0.113.5, 10.0.0.2")]);
    assert_eq!(client_ip(&map, peer, trusted).to_string(), "203.0.113.5");
    let untrusted_peer: IpAddr = "192.0.2.1".parse().expect("ip");
    assert_eq!(client_ip(&map, untrusted_peer, trusted), untrusted_peer);
    let garbage = headers(&[("x-forwarded-for", "nonsense, 10.0.0.3")]);
    assert_eq!(client_ip(&garbage, peer, trusted).to_string(), "10.0.0.3");
}
