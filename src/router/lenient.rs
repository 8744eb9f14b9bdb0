//! The lenient reading of a path: what an upstream that is laxer than RFC 3986 may serve
//! for it, so that the router can refuse a path whose two readings reach different routes.
//!
//! The gateway routes and forwards the normalized path exactly (see [`normalize`]); `;` is
//! an ordinary character there and letter case is significant. Widespread upstreams read
//! the same bytes differently:
//!
//! - Tomcat, Jetty and Spring drop `;` path parameters from every segment before routing:
//!   `/admin;jsessionid=x` is their `/admin`, and `/public/..;/admin` is `/public/..`
//!   followed by `/admin`, that is `/admin`;
//! - Express (by default), IIS and ASP.NET match paths case-insensitively: `/ADMIN` is
//!   their `/admin`.
//!
//! Routing by one reading and serving by the other lets a request through a laxer route
//! than the one the upstream serves. The router therefore looks each path up twice — the
//! strict reading against the configured prefixes, the lenient reading against the
//! prefixes' own lenient readings — and a path whose readings reach different routes is
//! refused as [`PathError::Ambiguous`](super::PathError::Ambiguous). A path that reaches
//! the same route either way (`/app/page;jsessionid=x` under `/app`, `/Images/Logo.png`
//! under `/`) is served, and forwarded exactly as it came.
//!
//! The lenient reading ([`lenient_reading`]): cut every segment at its first `;` (raw, or
//! `%3B`, which some servers decode first), resolve the dot segments that cutting uncovers
//! (`..;x` is `..`), and lower-case ASCII letters. A path without `;`, `%` or upper-case
//! letters is its own lenient reading, found without allocating.
//!
//! [`normalize`]: super::normalize

use std::borrow::Cow;

use super::normalize::resolve_segments;

/// The lenient reading of a normalized path (or route prefix); `None` when that reading
/// climbs above `/` (`/..;/x`), which no route can be said to serve.
pub(super) fn lenient_reading(path: &str) -> Option<Cow<'_, str>> {
    if !path
        .bytes()
        .any(|b| b == b';' || b == b'%' || b.is_ascii_uppercase())
    {
        return Some(Cow::Borrowed(path));
    }
    let mut cut = String::with_capacity(path.len());
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            cut.push('/');
        }
        cut.push_str(without_parameters(segment));
    }
    cut.make_ascii_lowercase();
    resolve_segments(&cut).ok().map(Cow::Owned)
}

/// `segment` up to its first `;` or `%3B` (escapes are upper-case in a normalized path, but
/// a route prefix is matched the same way, so either case is cut).
fn without_parameters(segment: &str) -> &str {
    let bytes = segment.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| {
            bytes[i] == b';'
                || (bytes[i] == b'%'
                    && bytes.get(i + 1) == Some(&b'3')
                    && bytes
                        .get(i + 2)
                        .is_some_and(|b| b.eq_ignore_ascii_case(&b'b')))
        })
        .unwrap_or(bytes.len());
    &segment[..end]
}

#[cfg(test)]
mod tests;
