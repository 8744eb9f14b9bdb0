//! `rd=` validation (open-redirect defence) and the Origin/Referer CSRF check. Pure.
//!
//! [`safe_redirect`] accepts exactly two shapes and nothing else:
//!
//! 1. a path on this host: `/` followed by anything but a second `/` (`//evil` and `/\evil`
//!    are protocol-relative to browsers);
//! 2. `https://HOST[:PORT]` optionally followed by a path, `?query` or `#fragment`, where HOST is
//!    a plain DNS name that is an allowed domain or a subdomain of one on a label boundary.
//!
//! The parser is strict on purpose: browsers "fix" malformed URLs in ways that differ
//! between them (they drop tabs and newlines anywhere, turn `\` into `/`, decode `%2e` in
//! hosts, read `https:evil` as relative to the current scheme), so instead of imitating one
//! of them we refuse everything that is not plainly one of the two shapes:
//! - every byte must be an RFC 3986 URI character (no control characters, whitespace, `\`,
//!   `"`, `<`, `>`, `^`, `` ` ``, `{`, `|`, `}` or non-ASCII anywhere); `[` `]` only in a query
//!   or fragment (or an IPv6 host literal);
//! - every `%` starts a valid `%XX` escape, which is never a control character, and in a path
//!   never `/` (`%2F`) or `\` (`%5C`);
//! - the host has no userinfo (`@`), no `%`, no empty label, no trailing dot; IP literals
//!   (`127.0.0.1`, `[::1]`, `2130706433`, `0x7f.1`) only match an identical entry in the list.
//!
//! A refused `rd` is not an error: the caller falls back to [`FALLBACK_REDIRECT`] (`/`).
//! [`safe_redirect`] returns the accepted input unchanged (no re-serialisation that could
//! introduce a difference between what was checked and what is sent).
//!
//! [`origin_allowed`] implements DESIGN's CSRF rule: `Origin` if present (`null` is refused),
//! else `Referer`; it must be `https` on an allowed domain. With neither header it answers
//! `false`: the JSON-login exception is the caller's decision.

use http::HeaderMap;
use http::header::{ORIGIN, REFERER};

/// Where to go when `rd` is absent or refused.
pub const FALLBACK_REDIRECT: &str = "/";

/// Longest `rd` accepted, in bytes.
pub const MAX_REDIRECT_LEN: usize = 2048;

/// Longest DNS name, in bytes (RFC 1035).
const MAX_HOST_LEN: usize = 253;

/// Returns `rd` when it is a safe redirect target, else `None` (use [`FALLBACK_REDIRECT`]).
///
/// `allowed_domains` are lower-case DNS names without a leading dot (`auth.redirect.
/// allowed_domains`); a relative path is always allowed.
pub fn safe_redirect<'a>(rd: &'a str, allowed_domains: &[String]) -> Option<&'a str> {
    if rd.is_empty() || rd.len() > MAX_REDIRECT_LEN || !rd.bytes().all(is_uri_char) {
        return None;
    }
    if let Some(after_slash) = rd.strip_prefix('/') {
        if after_slash.starts_with('/') {
            return None;
        }
        return valid_path_and_rest(rd).then_some(rd);
    }
    let (authority, rest) = split_https(rd)?;
    let host = authority_host(authority)?;
    (host_allowed(host, allowed_domains) && valid_path_and_rest(rest)).then_some(rd)
}

/// DESIGN's CSRF check for unsafe cookie-authenticated requests and login/logout POSTs.
///
/// Uses `Origin` when present (exactly one; the opaque `null` is refused), else `Referer`
/// (exactly one); the one used must be `https` with a host on `allowed_domains` (pass the
/// union of `auth.cookie.domains` and `auth.redirect.allowed_domains`). Neither header:
/// `false` (a JSON login without either is the caller's exception).
pub fn origin_allowed(headers: &HeaderMap, allowed_domains: &[String]) -> bool {
    if headers.contains_key(ORIGIN) {
        return single_header(headers, ORIGIN).is_some_and(|origin| {
            // A serialized origin is `scheme://host[:port]`: nothing after the authority.
            split_https(origin).is_some_and(|(authority, rest)| {
                rest.is_empty() && authority_allowed(authority, allowed_domains)
            })
        });
    }
    single_header(headers, REFERER).is_some_and(|referer| {
        // Only the authority matters; what follows is the page the request came from.
        split_https(referer)
            .is_some_and(|(authority, _)| authority_allowed(authority, allowed_domains))
    })
}

/// The value of a header that appears exactly once and is valid UTF-8.
fn single_header(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => std::str::from_utf8(value.as_bytes()).ok(),
        _ => None,
    }
}

fn authority_allowed(authority: &str, allowed_domains: &[String]) -> bool {
    authority.bytes().all(is_uri_char)
        && authority_host(authority).is_some_and(|host| host_allowed(host, allowed_domains))
}

/// RFC 3986 unreserved, gen-delims, sub-delims and `%`: the only bytes a URI may contain.
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// Splits `https://AUTHORITY REST` (scheme case-insensitive) where REST is empty or starts
/// with `/`, `?` or `#`. Anything else (`https:evil`, `https:/evil`, `http://`, `https:///`)
/// is `None`.
fn split_https(url: &str) -> Option<(&str, &str)> {
    const SCHEME: &str = "https://";
    let head = url.get(..SCHEME.len())?;
    if !head.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let after = url.get(SCHEME.len()..)?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    (!authority.is_empty()).then_some((authority, rest))
}

/// The host of an authority `host[:port]` or `[v6][:port]`; `None` for userinfo, a bad port
/// or a host that is not a plain DNS name or IP literal.
fn authority_host(authority: &str) -> Option<&str> {
    if authority.contains('@') || authority.contains('%') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        let literal = authority.get(1..close)?;
        if !literal
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return None;
        }
    }
    (host.starts_with('[') || is_dns_name(host)).then_some(host)
}

/// Letters, digits and `-`; labels of 1 to 63 bytes that neither start nor end with `-`.
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A host browsers read as an IP address: an IPv6 literal, or one whose last label is numeric
/// (decimal, or `0x` hex), which WHATWG's host parser hands to its IPv4 parser.
fn is_ip_literal(host: &str) -> bool {
    if host.starts_with('[') {
        return true;
    }
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

/// Is `host` an allowed domain or below one on a label boundary? IP literals only match an
/// identical entry. ASCII case-insensitive.
fn host_allowed(host: &str, allowed_domains: &[String]) -> bool {
    if is_ip_literal(host) {
        return allowed_domains.iter().any(|d| d.eq_ignore_ascii_case(host));
    }
    allowed_domains.iter().any(|domain| {
        let (host, domain) = (host.as_bytes(), domain.as_bytes());
        if domain.is_empty() || host.len() < domain.len() {
            return false;
        }
        let (head, tail) = host.split_at(host.len() - domain.len());
        tail.eq_ignore_ascii_case(domain) && (head.is_empty() || head.ends_with(b"."))
    })
}

/// Checks `path[?query][#fragment]` (the path may be empty): escapes are well-formed and
/// never control characters; the path has no `%2F`, `%5C` or `[` `]`.
fn valid_path_and_rest(rest: &str) -> bool {
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, query_and_fragment) = rest.split_at(path_end);
    !path.contains(['[', ']'])
        && valid_escapes(path, b"/\\")
        && valid_escapes(query_and_fragment, &[])
}

/// Every `%` is followed by two hex digits, decoding to neither a control character nor one
/// of `forbidden`.
fn valid_escapes(part: &str, forbidden: &[u8]) -> bool {
    let bytes = part.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes
        .get(i..)
        .and_then(|b| b.iter().position(|&c| c == b'%'))
    {
        let at = i + offset;
        let decoded = match (bytes.get(at + 1), bytes.get(at + 2)) {
            (Some(&hi), Some(&lo)) => hex_value(hi).zip(hex_value(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match decoded {
            Some(byte) if !byte.is_ascii_control() && !forbidden.contains(&byte) => i = at + 3,
            _ => return false,
        }
    }
    true
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
