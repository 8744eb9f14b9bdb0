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

mod normalize;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

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

fn without_trailing_slash(prefix: &str) -> &str {
    match prefix.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => prefix,
    }
}

/// The routes of one host bucket, by prefix.
#[derive(Debug)]
struct PrefixTable<T> {
    by_prefix: HashMap<Box<str>, T>,
    /// Length of the longest prefix: longer candidates are skipped without hashing.
    longest: usize,
}

impl<T> Default for PrefixTable<T> {
    fn default() -> Self {
        Self {
            by_prefix: HashMap::new(),
            longest: 0,
        }
    }
}

impl<T> PrefixTable<T> {
    /// Adds a route; the first of two routes with the same prefix wins.
    fn insert(&mut self, prefix: &str, value: T) {
        let prefix = without_trailing_slash(prefix);
        self.longest = self.longest.max(prefix.len());
        self.by_prefix.entry(prefix.into()).or_insert(value);
    }

    /// The route with the longest prefix that `path` equals or continues with a `/`.
    fn longest_match(&self, path: &str) -> Option<&T> {
        // Candidates are the path's own segment boundaries, longest first: for `/a/b/c`
        // they are `/a/b/c`, `/a/b`, `/a`, then `/`. A trailing slash adds no candidate.
        let mut candidate = path.strip_suffix('/').unwrap_or(path);
        loop {
            if candidate.is_empty() {
                return self.by_prefix.get("/");
            }
            if candidate.len() <= self.longest
                && let Some(value) = self.by_prefix.get(candidate)
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
        };
        for (pattern, prefix, value) in routes {
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
    pub fn route(&self, host: &str, path: &str) -> Option<&T> {
        self.exact
            .get(host)
            .and_then(|table| table.longest_match(path))
            .or_else(|| self.wildcard_route(host, path))
            .or_else(|| self.any.longest_match(path))
    }

    fn wildcard_route(&self, host: &str, path: &str) -> Option<&T> {
        // An IPv6 literal has no parent domains (its dots belong to an embedded IPv4).
        if self.wildcard.is_empty() || host.starts_with('[') {
            return None;
        }
        // Proper parent domains only, longest first: `a.b.c` tries `b.c`, then `c`.
        host.match_indices('.').find_map(|(dot, _)| {
            self.wildcard
                .get(&host[dot + 1..])
                .and_then(|table| table.longest_match(path))
        })
    }
}
