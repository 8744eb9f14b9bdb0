//! Header hygiene between the client and the upstream.
//!
//! The rules, in the order [`prepare_upstream_request`] applies them:
//!
//! 1. Hop-by-hop headers are removed (RFC 9110 §7.6.1): the fixed list plus every header
//!    named in `Connection`. A WebSocket upgrade keeps exactly `Connection: upgrade` and
//!    `Upgrade: websocket`; every other upgrade (`h2c`, …) is dropped (RFC 9110 §7.8).
//! 2. Headers the gateway vouches for — the forwarding headers and the identity headers —
//!    are removed in every spelling a backend might fold together: any case, and `_` or `.`
//!    in place of `-` (CGI/WSGI servers map `X_Forwarded_User` and `X-Forwarded-User` to the
//!    same variable). Because this runs after step 1 and the gateway's own values are set
//!    after it, a client's `Connection: X-Forwarded-User` can never remove an injected value.
//! 3. `X-Forwarded-For` (kept and appended to only from a trusted proxy, RFC 7239 §5.2's
//!    de-facto cousin), `X-Forwarded-Proto` and `X-Forwarded-Host` are set. `Forwarded`
//!    (RFC 7239) from an untrusted peer is removed, since the gateway does not vouch for it.
//!
//! HTTP/2 may split `Cookie` into several fields; upstreams speak HTTP/1.1, so they are
//! joined with `"; "` (RFC 9113 §8.2.3).

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `Forwarded` (RFC 7239).
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
/// `Keep-Alive` (RFC 9112 §9.6 lists it as hop-by-hop).
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Proxy-Connection`, a non-standard hop-by-hop header some clients send.
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Hop-by-hop headers (RFC 9110 §7.6.1, RFC 9112 §9.6), never forwarded as-is.
fn hop_by_hop() -> [&'static HeaderName; 9] {
    [
        &header::CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ]
}

/// The header names the gateway sets itself; no client copy of them, in any spelling,
/// may reach an upstream.
#[derive(Debug, Clone)]
pub struct ProtectedHeaders {
    /// Canonical spellings: lower-case with `-` separators.
    canonical: Vec<String>,
}

impl ProtectedHeaders {
    /// The forwarding headers plus `identity` (the configured identity header names).
    pub fn new<'a>(identity: impl IntoIterator<Item = &'a HeaderName>) -> ProtectedHeaders {
        let forwarding = [&X_FORWARDED_FOR, &X_FORWARDED_PROTO, &X_FORWARDED_HOST];
        let canonical = forwarding
            .into_iter()
            .chain(identity)
            .map(|name| canonical_name(name.as_str()))
            .collect();
        ProtectedHeaders { canonical }
    }

    fn covers(&self, name: &HeaderName) -> bool {
        let name = name.as_str();
        // Cheap pre-filter: every protected name is long; compare only equal lengths.
        self.canonical.iter().any(|c| {
            c.len() == name.len()
                && c.bytes()
                    .zip(name.bytes())
                    .all(|(c, n)| c == canonical_byte(n))
        })
    }
}

fn canonical_byte(b: u8) -> u8 {
    match b {
        b'_' | b'.' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

fn canonical_name(name: &str) -> String {
    name.bytes()
        .map(|b| char::from(canonical_byte(b)))
        .collect()
}

/// What the gateway knows about the client side of one request.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide<'a> {
    /// The TCP peer.
    pub peer: IpAddr,
    /// Whether the peer is a trusted proxy whose `X-Forwarded-For` is kept.
    pub peer_trusted: bool,
    /// The host the client asked for, as received (port included).
    pub host: &'a HeaderValue,
}

/// Whether the request asks for a WebSocket upgrade (the only upgrade passed through).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade_websocket = headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|v| has_token(v, "websocket"));
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| has_token(v, "upgrade"));
    upgrade_websocket && connection_upgrade
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        .unwrap_or(false)
}

/// Applies the module's rules to a request's headers before it goes upstream.
pub fn prepare_upstream_request(
    headers: &mut HeaderMap,
    protected: &ProtectedHeaders,
    client: ClientSide<'_>,
    websocket: bool,
) {
    let incoming_xff = client
        .peer_trusted
        .then(|| joined(headers, &X_FORWARDED_FOR))
        .flatten();
    if !client.peer_trusted {
        headers.remove(&FORWARDED);
    }
    remove_hop_by_hop(headers);
    strip_protected(headers, protected);
    join_cookies(headers);

    let peer = client.peer.to_string();
    let xff = match incoming_xff {
        Some(previous) => format!("{previous}, {peer}"),
        None => peer,
    };
    if let Ok(value) = HeaderValue::from_str(&xff) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("https"));
    headers.insert(X_FORWARDED_HOST.clone(), client.host.clone());
    headers.insert(header::HOST, client.host.clone());
    if websocket {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
}

/// Removes hop-by-hop headers from an upstream response (RFC 9110 §7.6.1), keeping the
/// upgrade handshake headers of a `101 Switching Protocols`.
pub fn prepare_client_response(headers: &mut HeaderMap, switching_protocols: bool) {
    if switching_protocols {
        let connection = headers.remove(header::CONNECTION);
        let upgrade = headers.remove(header::UPGRADE);
        remove_hop_by_hop(headers);
        if let (Some(c), Some(u)) = (connection, upgrade) {
            headers.insert(header::CONNECTION, c);
            headers.insert(header::UPGRADE, u);
        }
    } else {
        remove_hop_by_hop(headers);
    }
}

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in hop_by_hop() {
        headers.remove(name);
    }
}

fn strip_protected(headers: &mut HeaderMap, protected: &ProtectedHeaders) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| protected.covers(name))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
}

fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(header::COOKIE).iter().nth(1).is_none() {
        return;
    }
    let parts: Vec<&[u8]> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    if let Ok(value) = HeaderValue::from_bytes(&parts.join(&b"; "[..])) {
        headers.insert(header::COOKIE, value);
    }
}

/// The client address to log and throttle by: walking `X-Forwarded-For` from the right
/// (nearest hop first), the first address that is not a trusted proxy. Only consulted when
/// the TCP peer itself is trusted.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, is_trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(addr) => {
                client = addr;
                if !is_trusted(addr) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected() -> ProtectedHeaders {
        let identity = [
            HeaderName::from_static("x-forwarded-user"),
            HeaderName::from_static("x-forwarded-groups"),
        ];
        ProtectedHeaders::new(identity.iter())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
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
        let mut untrusted =
            headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
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
}
