//! Routing: which route serves a normalized host and path. Pure: no I/O, no config
//! types, no knowledge of the rest of the gateway; the route payload is a type parameter.
//! Normalization of the request's host and path lives in [`normalize`].
//!
//! # Routing ([`Router`])
//!
//! Host precedence first, then the longest segment-aligned path prefix:
//!
//! 1. the routes of the exact host, if any of their prefixes matches the path;
//! 2. else the wildcard routes, the longest matching suffix first (`*.b.example.com` before
//!    `*.example.com`), again only if one of their prefixes matches;
//! 3. else the routes for any host.
//!
//! A host bucket whose prefixes do not match falls through to the next one: declaring
//! `app.example.com` + `/admin` adds a route, it does not hide a `*.example.com` or any-host
//! route for the rest of `app.example.com`. Within a bucket, prefix `/api` matches `/api`,
//! `/api/` and `/api/x` but not `/apix`; `/` matches everything; a trailing slash on a
//! configured prefix is not significant. A wildcard never matches its bare suffix
//! (`*.example.com` does not match `example.com`).
//!
//! Lookup does not allocate and does not depend on the number of routes: one hash lookup
//! for the exact host, one per parent domain of the host, and one per segment boundary of
//! the path, skipping without hashing those longer than the bucket's longest prefix (so a
//! 16 KB path of `/a/a/a…` costs one scan, not thousands of long hashes).
//! Duplicate (host pattern, prefix) pairs are the config validator's to reject;
//! [`Router::new`] keeps the first one.
//!
//! # Ambiguous paths
//!
//! [`Router::route`] also looks the path up by its [`lenient`] reading (`;` parameters cut,
//! letters lower-cased: what Tomcat, Spring or a case-insensitive upstream serves) against
//! the prefixes' own lenient readings, and refuses with [`PathError::Ambiguous`] a path whose
//! two readings reach different routes (`/admin;x` or `/ADMIN` when `/` and `/admin` are
//! routes of their own). The second lookup only runs for a path with `;`, an escape or an
//! upper-case letter (or for every path once a prefix has one); it allocates at most once.

mod lenient;
mod normalize;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use lenient::lenient_reading;

pub use normalize::{HostError, PathError, normalize_host, normalize_path};
use normalize::{PortRule, parse_host};

/// Which hosts a route applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// One normalized host.
    Exact(String),
    /// Every proper subdomain of this normalized suffix (stored without the `*.`).
    Wildcard(String),
    /// Every host (the route's `host` was omitted).
    Any,
}

impl HostPattern {
    /// Parses a configured `host`: `app.example.com` or `*.example.com`, lower-cased and
    /// without a trailing dot. An omitted host is [`HostPattern::Any`], built directly.
    ///
    /// # Errors
    ///
    /// [`HostError::InvalidWildcard`] for `*`, `*.`-less or nested wildcards (`foo*.x`,
    /// `*.*.x`), [`HostError::PortNotAllowed`] for a port, otherwise as [`normalize_host`].
    pub fn parse(raw: &str) -> Result<Self, HostError> {
        match raw.strip_prefix("*.") {
            Some(suffix) if !suffix.contains('*') => {
                let suffix = parse_host(suffix, PortRule::Reject)?;
                if suffix.starts_with('[') {
                    return Err(HostError::InvalidWildcard);
                }
                Ok(Self::Wildcard(suffix))
            }
            _ if raw.contains('*') => Err(HostError::InvalidWildcard),
            _ => parse_host(raw, PortRule::Reject).map(Self::Exact),
        }
    }
}

impl fmt::Display for HostPattern {
    /// The configured form: `app.example.com`, `*.example.com`, or `*` for any host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(host) => f.write_str(host),
            Self::Wildcard(suffix) => write!(f, "*.{suffix}"),
            Self::Any => f.write_str("*"),
        }
    }
}

/// Parses a configured route `path`: normalized like a request path, and stored without a
/// trailing slash (`/api/` → `/api`), which is not significant for a prefix; `/` stays `/`.
///
/// # Errors
///
/// The [`PathError`] of [`normalize_path`], e.g. [`PathError::NotAbsolute`] for `api`.
pub fn parse_route_prefix(raw: &str) -> Result<String, PathError> {
    let prefix = normalize_path(raw)?;
    Ok(without_trailing_slash(&prefix).to_owned())
}

/// The lenient reading of a route prefix from [`parse_route_prefix`] (see the module docs),
/// without a trailing slash; `None` when it climbs above `/` (`/..;`). Two prefixes of one
/// host with the same lenient reading make every request to either ambiguous, so the
/// config validator refuses them.
pub fn lenient_route_prefix(prefix: &str) -> Option<String> {
    lenient_reading(prefix).map(|lenient| without_trailing_slash(&lenient).to_owned())
}

fn without_trailing_slash(prefix: &str) -> &str {
    match prefix.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => prefix,
    }
}

/// The routes of one host bucket, by prefix.
#[derive(Debug)]
struct PrefixTable<T> {
    by_prefix: Prefixes<T>,
    /// Each prefix's lenient reading → the prefix (the first one wins a collision).
    by_lenient_prefix: Prefixes<Box<str>>,
}

impl<T> Default for PrefixTable<T> {
    fn default() -> Self {
        Self {
            by_prefix: Prefixes::default(),
            by_lenient_prefix: Prefixes::default(),
        }
    }
}

impl<T> PrefixTable<T> {
    /// Adds a route; the first of two routes with the same prefix wins.
    fn insert(&mut self, prefix: &str, value: T) {
        let prefix = without_trailing_slash(prefix);
        if let Some(lenient) = lenient_route_prefix(prefix) {
            self.by_lenient_prefix.insert(&lenient, prefix.into());
        }
        self.by_prefix.insert(prefix, value);
    }

    /// The route with the longest prefix that `path` equals or continues with a `/`.
    fn longest_match(&self, path: &str) -> Option<&T> {
        self.by_prefix.longest_match(path)
    }

    /// The route with the longest prefix whose lenient reading `lenient_path` (a path's
    /// lenient reading) equals or continues with a `/`.
    fn longest_lenient_match(&self, lenient_path: &str) -> Option<&T> {
        let prefix = self.by_lenient_prefix.longest_match(lenient_path)?;
        self.by_prefix.map.get(prefix)
    }
}

/// Values by segment-aligned path prefix.
#[derive(Debug)]
struct Prefixes<V> {
    map: HashMap<Box<str>, V>,
    /// Length of the longest prefix: longer candidates are skipped without hashing.
    longest: usize,
}

impl<V> Default for Prefixes<V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            longest: 0,
        }
    }
}

impl<V> Prefixes<V> {
    /// Adds a prefix (without its trailing slash); the first value for a prefix wins.
    fn insert(&mut self, prefix: &str, value: V) {
        self.longest = self.longest.max(prefix.len());
        self.map.entry(prefix.into()).or_insert(value);
    }

    /// The value of the longest prefix that `path` equals or continues with a `/`.
    fn longest_match(&self, path: &str) -> Option<&V> {
        // Candidates are the path's own segment boundaries, longest first: for `/a/b/c`
        // they are `/a/b/c`, `/a/b`, `/a`, then `/`. A trailing slash adds no candidate.
        let mut candidate = path.strip_suffix('/').unwrap_or(path);
        loop {
            if candidate.is_empty() {
                return self.map.get("/");
            }
            if candidate.len() <= self.longest
                && let Some(value) = self.map.get(candidate)
            {
                return Some(value);
            }
            let boundary = candidate.rfind('/')?;
            candidate = &candidate[..boundary];
        }
    }
}

/// Routes a normalized (host, path) to a payload `T`; see the module docs for precedence.
#[derive(Debug)]
pub struct Router<T> {
    exact: HashMap<Box<str>, PrefixTable<T>>,
    /// Keyed by the suffix without `*.`.
    wildcard: HashMap<Box<str>, PrefixTable<T>>,
    any: PrefixTable<T>,
    /// Every prefix is its own lenient reading (no upper case, `;` or `%`), so a path that
    /// is its own lenient reading needs no second lookup.
    prefixes_are_lenient: bool,
}

impl<T> Router<T> {
    /// Builds the router from (host pattern, prefix, payload) triples, the prefix as
    /// [`parse_route_prefix`] returns it. Of two routes with the same pattern and prefix the
    /// first wins; config validation rejects them beforehand.
    pub fn new(routes: Vec<(HostPattern, String, T)>) -> Self {
        let mut built = Self {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            any: PrefixTable::default(),
            prefixes_are_lenient: true,
        };
        for (pattern, prefix, value) in routes {
            built.prefixes_are_lenient &=
                matches!(lenient_reading(&prefix), Some(Cow::Borrowed(_)));
            let table = match pattern {
                HostPattern::Exact(host) => built.exact.entry(host.into()).or_default(),
                HostPattern::Wildcard(suffix) => built.wildcard.entry(suffix.into()).or_default(),
                HostPattern::Any => &mut built.any,
            };
            table.insert(&prefix, value);
        }
        built
    }

    /// The route for a host from [`normalize_host`] and a path from [`normalize_path`]:
    /// exact host, else wildcard (longest suffix first), else any host, each bucket
    /// considered only if one of its prefixes matches; the longest prefix wins within it.
    ///
    /// # Errors
    ///
    /// [`PathError::Ambiguous`] when the path's lenient reading reaches another route (or
    /// none, or climbs above `/`): see the module docs.
    pub fn route(&self, host: &str, path: &str) -> Result<Option<&T>, PathError> {
        let strict = self.lookup(host, path, PrefixTable::longest_match);
        let lenient = match lenient_reading(path) {
            // Both readings are the same lookup.
            Some(Cow::Borrowed(_)) if self.prefixes_are_lenient => return Ok(strict),
            Some(lenient) => self.lookup(host, &lenient, PrefixTable::longest_lenient_match),
            None => return Err(PathError::Ambiguous),
        };
        match (strict, lenient) {
            (Some(a), Some(b)) if std::ptr::eq(a, b) => Ok(strict),
            (None, None) => Ok(None),
            _ => Err(PathError::Ambiguous),
        }
    }

    /// Host precedence over the buckets, with `longest_match` choosing within one.
    fn lookup<'r>(
        &'r self,
        host: &str,
        path: &str,
        longest_match: impl Fn(&'r PrefixTable<T>, &str) -> Option<&'r T>,
    ) -> Option<&'r T> {
        self.exact
            .get(host)
            .and_then(|table| longest_match(table, path))
            .or_else(|| self.wildcard_route(host, path, &longest_match))
            .or_else(|| longest_match(&self.any, path))
    }

    fn wildcard_route<'r>(
        &'r self,
        host: &str,
        path: &str,
        longest_match: impl Fn(&'r PrefixTable<T>, &str) -> Option<&'r T>,
    ) -> Option<&'r T> {
        // An IPv6 literal has no parent domains (its dots belong to an embedded IPv4).
        if self.wildcard.is_empty() || host.starts_with('[') {
            return None;
        }
        // Proper parent domains only, longest first: `a.b.c` tries `b.c`, then `c`.
        host.match_indices('.').find_map(|(dot, _)| {
            self.wildcard
                .get(&host[dot + 1..])
                .and_then(|table| longest_match(table, path))
        })
    }
}
