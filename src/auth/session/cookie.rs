//! The gateway's cookie: find it in `Cookie`, strip it before forwarding, build `Set-Cookie`.
//!
//! The cookie holds only the compact JWT. It is `HttpOnly`, `Secure` (unless configured off
//! for local development), `SameSite` as configured, `Path=/`, and carries `Domain=` the
//! longest configured parent domain that the request's host is on, so one login covers every
//! subdomain (single sign-on). A host under none of them gets a host-only cookie.
//!
//! Invariants:
//! - Cookie names compare exactly (case-sensitive, RFC 6265 §5.3 step 11 / §5.4).
//! - At most one gateway cookie per request: two are [`CookieError::Duplicate`] (400). A
//!   sibling subdomain that sets a cookie of the same name for the parent domain ("cookie
//!   tossing") therefore cannot make us pick its token over the real one.
//! - An occurrence with an empty value (what a cleared cookie looks like) carries no
//!   credential: it is ignored and never counts as a duplicate.
//! - [`strip_ours`] leaves every other cookie byte-for-byte, in order.
//! - A token is only ever written as the cookie's value, and only if it consists of
//!   RFC 6265 cookie-octets, so it cannot inject attributes.
//!
//! The device cookie ([`set_device_cookie`], named [`device_cookie_name`]) is another
//! cookie: a signed "this browser signed in as this user before" (`device.rs`), host-only,
//! `Path=` the auth prefix (only the gateway's own endpoints ever see it, never an
//! upstream), always `HttpOnly; Secure; SameSite=Strict`.
//!
//! Not here: choosing between `Authorization` and the cookie (`auth/mod.rs`), validating the
//! settings (the config does: names are RFC 6265 tokens, domains lower-case without a leading
//! dot, `SameSite=None` only with `secure`).

use std::fmt::Write as _;
use std::time::Duration;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use thiserror::Error;

use crate::config::CookieSettings;

/// What is wrong with the cookies of a request (400 `bad_request`).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CookieError {
    /// The request carries our cookie twice.
    #[error("the gateway cookie appears more than once")]
    Duplicate,
    /// Our cookie's value is not text (it cannot be a token).
    #[error("the gateway cookie's value is not valid text")]
    ValueNotText,
}

/// Why a `Set-Cookie` value could not be built (an internal error: 500).
#[derive(Debug, Error)]
pub enum SetCookieError {
    /// The token contains bytes that are not RFC 6265 cookie-octets, or is empty.
    #[error("token contains characters not allowed in a cookie value")]
    TokenNotCookieSafe,
    /// The cookie name or a domain from the settings cannot go into a header.
    #[error("cookie settings produce an invalid Set-Cookie header")]
    InvalidSettings(#[source] http::header::InvalidHeaderValue),
    /// The path (the auth prefix) has a `;` or a control character.
    #[error("the cookie path cannot go into a Set-Cookie header")]
    PathNotCookieSafe,
}

/// RFC 6265 §4.1.1 cookie-octet: visible ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Optional whitespace around pairs in a `Cookie` header.
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Splits one `name=value` pair (already `;`-separated) into trimmed name and value.
/// A pair without `=` has no name we could match, so it is `None`.
fn split_pair(pair: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = pair.iter().position(|&b| b == b'=')?;
    let (name, value) = pair.split_at(eq);
    Some((trim_ows(name), trim_ows(value.get(1..).unwrap_or_default())))
}

/// Our cookie's value: without the optional surrounding double quotes of RFC 6265.
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

/// Finds the value of the cookie `name` across every `Cookie` header (HTTP/2 may send one per
/// cookie) and every `;`-separated pair.
///
/// Returns `Ok(None)` when it is absent (or only present with an empty value).
///
/// # Errors
///
/// [`CookieError::Duplicate`] when it appears twice with a value; [`CookieError::ValueNotText`]
/// when its value is not UTF-8.
pub fn find_token<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, CookieError> {
    let mut values = values(headers, name);
    let found = values.next();
    if values.next().is_some() {
        return Err(CookieError::Duplicate);
    }
    found
        .map(|value| std::str::from_utf8(value).map_err(|_| CookieError::ValueNotText))
        .transpose()
}

/// Every non-empty value of the cookie `name`, unquoted, in the order the client sent them
/// (browsers put longer paths first, then older cookies).
pub fn values<'h>(headers: &'h HeaderMap, name: &str) -> impl Iterator<Item = &'h [u8]> {
    let name = name.as_bytes();
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|header| header.as_bytes().split(|&b| b == b';'))
        .filter_map(move |pair| {
            let (pair_name, value) = split_pair(pair)?;
            let value = unquote(value);
            (pair_name == name && !value.is_empty()).then_some(value)
        })
}

/// Removes the cookie `name` from every `Cookie` header, keeping the other pairs (and the
/// separators between them) byte-for-byte and in order; a header left empty is dropped.
pub fn strip_ours(headers: &mut HeaderMap, name: &str) {
    let is_ours = |pair: &[u8]| split_pair(pair).is_some_and(|(n, _)| n == name.as_bytes());
    let touched = headers
        .get_all(COOKIE)
        .iter()
        .any(|h| h.as_bytes().split(|&b| b == b';').any(is_ours));
    if !touched {
        return;
    }
    // `remove` drops every `Cookie` value, so take copies of all of them first.
    let originals: Vec<HeaderValue> = headers.get_all(COOKIE).iter().cloned().collect();
    headers.remove(COOKIE);
    for original in originals {
        let kept: Vec<&[u8]> = original
            .as_bytes()
            .split(|&b| b == b';')
            .filter(|pair| !is_ours(pair))
            .collect();
        let joined = kept.join(&b';');
        let rest = trim_ows(&joined);
        if rest.iter().all(|&b| b == b';' || is_ows(b)) {
            continue;
        }
        // The bytes come from a valid header value, so this cannot fail; if it somehow did,
        // dropping the header is the safe side (it might still hold our token).
        if let Ok(value) = HeaderValue::from_bytes(rest) {
            headers.append(COOKIE, value);
        }
    }
}

/// Does `host` equal `domain` or sit below it on a label boundary? ASCII case-insensitive.
fn host_is_on(host: &str, domain: &str) -> bool {
    let (host, domain) = (host.as_bytes(), domain.as_bytes());
    if domain.is_empty() || host.len() < domain.len() {
        return false;
    }
    let split = host.len() - domain.len();
    let (head, tail) = host.split_at(split);
    tail.eq_ignore_ascii_case(domain) && (head.is_empty() || head.ends_with(b"."))
}

/// The `Domain` attribute for a response to `host`: the longest configured domain that `host`
/// equals or is a subdomain of (label boundary: `evilexample.com` is not under
/// `example.com`). `None` means a host-only cookie.
///
/// `host` is the normalized request host (lower-case, no port); one trailing dot is ignored.
pub fn cookie_domain<'s>(settings: &'s CookieSettings, host: &str) -> Option<&'s str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    settings
        .domains
        .iter()
        .filter(|domain| host_is_on(host, domain))
        .max_by_key(|domain| domain.len())
        .map(String::as_str)
}

/// Appends the attributes shared by setting and clearing, for a response to `host`.
fn push_attributes(out: &mut String, settings: &CookieSettings, host: &str) {
    push_attributes_for(out, settings, cookie_domain(settings, host));
}

/// Appends the attributes, with `Domain=domain` (`None`: host-only).
fn push_attributes_for(out: &mut String, settings: &CookieSettings, domain: Option<&str>) {
    out.push_str("; Path=/");
    if let Some(domain) = domain {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    out.push_str("; HttpOnly");
    if settings.secure {
        out.push_str("; Secure");
    }
    out.push_str("; SameSite=");
    out.push_str(settings.same_site.as_str());
}

/// The `Set-Cookie` value that stores `token` for `max_age`, for a response to `host`.
///
/// # Errors
///
/// [`SetCookieError::TokenNotCookieSafe`] if `token` is empty or has a byte that is not a
/// cookie-octet (a JWT never does); [`SetCookieError::InvalidSettings`] if the settings
/// cannot form a header.
pub fn set_cookie(
    settings: &CookieSettings,
    host: &str,
    token: &str,
    max_age: Duration,
) -> Result<HeaderValue, SetCookieError> {
    if token.is_empty() || !token.bytes().all(is_cookie_octet) {
        return Err(SetCookieError::TokenNotCookieSafe);
    }
    let mut out = format!("{}={token}", settings.name);
    // Writing to a String cannot fail.
    let _ = write!(out, "; Max-Age={}", max_age.as_secs());
    push_attributes(&mut out, settings, host);
    HeaderValue::from_str(&out).map_err(SetCookieError::InvalidSettings)
}

/// The `Set-Cookie` values that remove our cookie from `host` in every variant the gateway
/// may have set there: the one it sets now first, then host-only and each other configured
/// domain `host` is on (a `cookie.domains` change leaves the old variant in the browser).
/// Each has an empty value, `Max-Age=0`, an `Expires` in the past (for old clients), and
/// the `Domain`/`Path` of its variant.
///
/// # Errors
///
/// [`SetCookieError::InvalidSettings`] if the settings cannot form a header.
pub fn clear_cookies(
    settings: &CookieSettings,
    host: &str,
) -> Result<Vec<HeaderValue>, SetCookieError> {
    let current = cookie_domain(settings, host);
    let bare = host.strip_suffix('.').unwrap_or(host);
    let others = settings
        .domains
        .iter()
        .map(String::as_str)
        .filter(|domain| host_is_on(bare, domain) && Some(*domain) != current)
        .map(Some);
    let host_only = current.is_some().then_some(None);
    std::iter::once(current)
        .chain(host_only)
        .chain(others)
        .map(|domain| {
            let mut out = format!(
                "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                settings.name
            );
            push_attributes_for(&mut out, settings, domain);
            HeaderValue::from_str(&out).map_err(SetCookieError::InvalidSettings)
        })
        .collect()
}

/// The device cookie's name: the session cookie's name with `_device` appended.
pub fn device_cookie_name(settings: &CookieSettings) -> String {
    format!("{}_device", settings.name)
}

/// The `Set-Cookie` value that stores the device cookie `value` for `max_age`: host-only,
/// `Path=path` (the auth prefix), `HttpOnly; Secure; SameSite=Strict` whatever the session
/// cookie's settings (a device cookie has no business on plain HTTP or cross-site).
///
/// # Errors
///
/// [`SetCookieError::TokenNotCookieSafe`] for a value with a byte that is not a
/// cookie-octet; [`SetCookieError::PathNotCookieSafe`] for a path with `;` or a control
/// character (RFC 6265 §4.1.1 path-value); [`SetCookieError::InvalidSettings`] otherwise.
pub fn set_device_cookie(
    settings: &CookieSettings,
    path: &str,
    value: &str,
    max_age: Duration,
) -> Result<HeaderValue, SetCookieError> {
    if value.is_empty() || !value.bytes().all(is_cookie_octet) {
        return Err(SetCookieError::TokenNotCookieSafe);
    }
    if !path.starts_with('/') || path.bytes().any(|b| b == b';' || b.is_ascii_control()) {
        return Err(SetCookieError::PathNotCookieSafe);
    }
    let out = format!(
        "{}={value}; Max-Age={}; Path={path}; HttpOnly; Secure; SameSite=Strict",
        device_cookie_name(settings),
        max_age.as_secs()
    );
    HeaderValue::from_str(&out).map_err(SetCookieError::InvalidSettings)
}

#[cfg(test)]
mod tests;
