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
//!    The same goes for the headers that make some servers and frameworks route or log by a
//!    URL or address other than the request's own: `X-Original-URL` and `X-Rewrite-URL`
//!    (IIS URL Rewrite, Symfony and Laravel honour them, so a client could reach `/admin`
//!    through a request the gateway authorized as `/public`) are always removed;
//!    `X-Real-IP` (nginx's real-IP module, many apps' client address) is removed unless the
//!    peer is a trusted proxy, like `Forwarded`.
//! 3. `X-Forwarded-For` (kept and appended to only from a trusted proxy, RFC 7239 §5.2's
//!    de-facto cousin), `X-Forwarded-Proto` and `X-Forwarded-Host` are set. `Forwarded`
//!    (RFC 7239) from an untrusted peer is removed, since the gateway does not vouch for it.
//!
//! HTTP/2 may split `Cookie` into several fields; upstreams speak HTTP/1.1, so they are
//! joined with `"; "` (RFC 9113 §8.2.3).

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::IdentityHeaders;
use crate::identity::Identity;

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
/// `X-Original-URL`: the URL some servers (IIS, Symfony, Laravel) route by instead of the
/// request's own.
static X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
/// `X-Rewrite-URL`: the same idea, older spelling.
static X_REWRITE_URL: HeaderName = HeaderName::from_static("x-rewrite-url");
/// `X-Real-IP`: the client address as a proxy in front saw it.
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
/// `X-Auth-Request-User`: the ingress-nginx / oauth2-proxy convention for the user name.
static X_AUTH_REQUEST_USER: HeaderName = HeaderName::from_static("x-auth-request-user");
/// `X-Auth-Request-Email`.
static X_AUTH_REQUEST_EMAIL: HeaderName = HeaderName::from_static("x-auth-request-email");
/// `X-Auth-Request-Groups`, joined with `,`.
static X_AUTH_REQUEST_GROUPS: HeaderName = HeaderName::from_static("x-auth-request-groups");
/// `X-Auth-Request-Preferred-Username`: the user name again (oauth2-proxy's
/// `preferred_username`; the gateway's users have one name).
static X_AUTH_REQUEST_PREFERRED_USERNAME: HeaderName =
    HeaderName::from_static("x-auth-request-preferred-username");

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

/// The header names no client copy of may reach an upstream, in any spelling: the ones the
/// gateway sets itself, the URL overrides, and (from peers that are not trusted proxies)
/// `X-Real-IP`.
#[derive(Debug, Clone)]
pub struct ProtectedHeaders {
    /// Canonical spellings (lower-case with `-` separators), removed from every client.
    always: Vec<String>,
    /// Canonical spellings removed unless the peer is a trusted proxy.
    unless_trusted: Vec<String>,
}

impl ProtectedHeaders {
    /// The forwarding headers, the identity header names (the configured ones and the
    /// `X-Auth-Request-*` convention forward-auth answers with) and the URL overrides.
    pub fn new(identity: &IdentityHeaders) -> ProtectedHeaders {
        let canonical = |names: &[&HeaderName]| {
            names
                .iter()
                .map(|name| canonical_name(name.as_str()))
                .collect()
        };
        ProtectedHeaders {
            always: canonical(&[
                &X_FORWARDED_FOR,
                &X_FORWARDED_PROTO,
                &X_FORWARDED_HOST,
                &identity.user,
                &identity.groups,
                &identity.email,
                &X_ORIGINAL_URL,
                &X_REWRITE_URL,
                &X_AUTH_REQUEST_USER,
                &X_AUTH_REQUEST_EMAIL,
                &X_AUTH_REQUEST_GROUPS,
                &X_AUTH_REQUEST_PREFERRED_USERNAME,
            ]),
            unless_trusted: canonical(&[&X_REAL_IP]),
        }
    }

    fn covers(&self, name: &HeaderName, peer_trusted: bool) -> bool {
        let name = name.as_str();
        // Cheap pre-filter: every protected name is long; compare only equal lengths.
        let matches = |c: &String| {
            c.len() == name.len()
                && c.bytes()
                    .zip(name.bytes())
                    .all(|(c, n)| c == canonical_byte(n))
        };
        self.always.iter().any(matches)
            || (!peer_trusted && self.unless_trusted.iter().any(matches))
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
    strip_protected(headers, protected, client.peer_trusted);
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

/// Sets the identity headers for an authenticated request (after [`prepare_upstream_request`]
/// removed every client copy). Groups are joined with `,` (group names cannot contain one).
///
/// # Errors
/// [`InvalidHeaderValue`](http::header::InvalidHeaderValue) when a claim holds bytes a
/// header cannot carry (control characters); the request must then not be forwarded.
pub fn inject_identity(
    headers: &mut HeaderMap,
    names: &IdentityHeaders,
    identity: &Identity,
) -> Result<(), http::header::InvalidHeaderValue> {
    headers.insert(
        names.user.clone(),
        HeaderValue::from_bytes(identity.user.as_bytes())?,
    );
    if !identity.groups.is_empty() {
        headers.insert(
            names.groups.clone(),
            HeaderValue::from_bytes(identity.groups.join(",").as_bytes())?,
        );
    }
    if let Some(email) = &identity.email {
        headers.insert(
            names.email.clone(),
            HeaderValue::from_bytes(email.as_bytes())?,
        );
    }
    Ok(())
}

/// Sets the ingress-nginx / oauth2-proxy identity headers on a forward-auth answer, beside
/// the configured ones: `X-Auth-Request-User` and `-Preferred-Username` (the user),
/// `-Email` (when known) and `-Groups` (joined with `,`, when any).
///
/// # Errors
/// As [`inject_identity`].
pub fn inject_auth_request_headers(
    headers: &mut HeaderMap,
    identity: &Identity,
) -> Result<(), http::header::InvalidHeaderValue> {
    let names = IdentityHeaders {
        user: X_AUTH_REQUEST_USER.clone(),
        groups: X_AUTH_REQUEST_GROUPS.clone(),
        email: X_AUTH_REQUEST_EMAIL.clone(),
    };
    inject_identity(headers, &names, identity)?;
    headers.insert(
        X_AUTH_REQUEST_PREFERRED_USERNAME.clone(),
        HeaderValue::from_bytes(identity.user.as_bytes())?,
    );
    Ok(())
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

fn strip_protected(headers: &mut HeaderMap, protected: &ProtectedHeaders, peer_trusted: bool) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| protected.covers(name, peer_trusted))
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
mod tests;
