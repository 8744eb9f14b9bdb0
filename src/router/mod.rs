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

use http::Method;
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

/// The routes sharing one (host pattern, prefix), in config order, each with the methods it
/// serves (`None`: all).
type Candidates<T> = Vec<(Option<Box<[Method]>>, T)>;

/// Whether a route serving `methods` serves `method`.
fn serves(methods: Option<&[Method]>, method: &Method) -> bool {
    methods.is_none_or(|methods| methods.contains(method))
}

/// The routes of one host bucket, by prefix.
#[derive(Debug)]
struct PrefixTable<T> {
    by_prefix: Prefixes<Candidates<T>>,
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
    /// Adds a route after those with the same prefix.
    fn insert(&mut self, prefix: &str, methods: Option<Box<[Method]>>, value: T) {
        let prefix = without_trailing_slash(prefix);
        if let Some(lenient) = lenient_route_prefix(prefix) {
            self.by_lenient_prefix.insert(&lenient, prefix.into());
        }
        self.by_prefix.insert(prefix, Vec::new());
        if let Some(candidates) = self.by_prefix.map.get_mut(prefix) {
            candidates.push((methods, value));
        }
    }

    /// The routes of every prefix that `path` equals or continues with a `/`, longest
    /// first; with `lenient`, `path` is a lenient reading matched against the prefixes'
    /// lenient readings.
    fn matches<'r: 'p, 'p>(
        &'r self,
        path: &'p str,
        lenient: bool,
    ) -> impl Iterator<Item = &'r Candidates<T>> + 'p {
        let strict = (!lenient)
            .then(|| self.by_prefix.matches(path))
            .into_iter()
            .flatten();
        let loose = lenient
            .then(|| {
                self.by_lenient_prefix
                    .matches(path)
                    .filter_map(|prefix| self.by_prefix.map.get(prefix))
            })
            .into_iter()
            .flatten();
        strict.chain(loose)
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

    /// The values of the prefixes that `path` equals or continues with a `/`, longest first.
    fn matches<'r: 'p, 'p>(&'r self, path: &'p str) -> impl Iterator<Item = &'r V> + 'p {
        // Candidates are the path's own segment boundaries, longest first: for `/a/b/c`
        // they are `/a/b/c`, `/a/b`, `/a`, then `/`. A trailing slash adds no candidate.
        let mut next = Some(path.strip_suffix('/').unwrap_or(path));
        std::iter::from_fn(move || {
            loop {
                let candidate = next?;
                if candidate.is_empty() {
                    next = None;
                    return self.map.get("/");
                }
                next = candidate.rfind('/').map(|boundary| &candidate[..boundary]);
                if candidate.len() <= self.longest
                    && let Some(value) = self.map.get(candidate)
                {
                    return Some(value);
                }
            }
        })
    }
}

/// What a request's host, path and method route to.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed<'r, T> {
    /// This route serves it.
    Found(&'r T),
    /// Routes match the host and path, but none serves the method: these are the methods
    /// they serve, for `Allow` (405).
    MethodNotAllowed(Vec<Method>),
    /// No route matches the host and path.
    NotFound,
}

/// Routes a normalized (host, path, method) to a payload `T`; see the module docs for
/// precedence.
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

/// One route for [`Router::new`]: host pattern, prefix as [`parse_route_prefix`] returns it,
/// the methods it serves (`None`: all), and its payload.
pub type RouteEntry<T> = (HostPattern, String, Option<Vec<Method>>, T);

impl<T> Router<T> {
    /// Builds the router. Routes with the same pattern and prefix are tried in this order;
    /// config validation refuses those whose methods overlap.
    pub fn new(routes: Vec<RouteEntry<T>>) -> Self {
        let mut built = Self {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            any: PrefixTable::default(),
            prefixes_are_lenient: true,
        };
        for (pattern, prefix, methods, value) in routes {
            built.prefixes_are_lenient &=
                matches!(lenient_reading(&prefix), Some(Cow::Borrowed(_)));
            let table = match pattern {
                HostPattern::Exact(host) => built.exact.entry(host.into()).or_default(),
                HostPattern::Wildcard(suffix) => built.wildcard.entry(suffix.into()).or_default(),
                HostPattern::Any => &mut built.any,
            };
            table.insert(&prefix, methods.map(Vec::into_boxed_slice), value);
        }
        built
    }

    /// The route for a host from [`normalize_host`], a path from [`normalize_path`] and a
    /// method: the first route, in precedence order (exact host, else wildcard, longest
    /// suffix first, else any host; the longest prefix first within each), that serves the
    /// method. A route limited to other methods passes the request on to the next one.
    ///
    /// # Errors
    ///
    /// [`PathError::Ambiguous`] when the path's lenient reading reaches another route (or
    /// none, or climbs above `/`): see the module docs.
    pub fn route(
        &self,
        host: &str,
        path: &str,
        method: &Method,
    ) -> Result<Routed<'_, T>, PathError> {
        let strict = self.select(host, path, false, method);
        let lenient = match lenient_reading(path) {
            // Both readings are the same lookup.
            Some(Cow::Borrowed(_)) if self.prefixes_are_lenient => strict,
            Some(lenient) => self.select(host, &lenient, true, method),
            None => return Err(PathError::Ambiguous),
        };
        match (strict, lenient) {
            (Some(a), Some(b)) if std::ptr::eq(a, b) => Ok(Routed::Found(a)),
            (None, None) => Ok(self.refusal(host, path)),
            _ => Err(PathError::Ambiguous),
        }
    }

    /// Every route whose host pattern and prefix match, whatever its methods, in the order
    /// [`Router::route`] tries them, with the methods each serves (`None`: all): what
    /// `gateway explain` shows.
    pub fn matching<'r: 'p, 'p>(
        &'r self,
        host: &'p str,
        path: &'p str,
    ) -> impl Iterator<Item = (Option<&'r [Method]>, &'r T)> + 'p {
        self.candidates(host, path, false)
            .flatten()
            .map(|(methods, value)| (methods.as_deref(), value))
    }

    /// The first route serving `method` among the candidates.
    fn select(&self, host: &str, path: &str, lenient: bool, method: &Method) -> Option<&T> {
        self.candidates(host, path, lenient)
            .flatten()
            .find(|(methods, _)| serves(methods.as_deref(), method))
            .map(|(_, value)| value)
    }

    /// Why no route serves a request: the methods of the routes matching its host and path
    /// (405), or none (404).
    fn refusal(&self, host: &str, path: &str) -> Routed<'_, T> {
        let mut allow: Vec<Method> = Vec::new();
        let listed = self
            .candidates(host, path, false)
            .flatten()
            .filter_map(|(methods, _)| methods.as_deref())
            .flatten();
        for method in listed {
            if !allow.contains(method) {
                allow.push(method.clone());
            }
        }
        if allow.is_empty() {
            Routed::NotFound
        } else {
            Routed::MethodNotAllowed(allow)
        }
    }

    /// Every bucket's routes matching `path`, in precedence order: the exact host, the
    /// wildcards (longest suffix first), any host; the longest prefix first within each.
    fn candidates<'r: 'p, 'p>(
        &'r self,
        host: &'p str,
        path: &'p str,
        lenient: bool,
    ) -> impl Iterator<Item = &'r Candidates<T>> + 'p {
        // An IPv6 literal has no parent domains (its dots belong to an embedded IPv4).
        let parents = !self.wildcard.is_empty() && !host.starts_with('[');
        let exact = self.exact.get(host).into_iter();
        // Proper parent domains only, longest first: `a.b.c` tries `b.c`, then `c`.
        let wildcard = host
            .match_indices('.')
            .filter(move |_| parents)
            .filter_map(move |(dot, _)| self.wildcard.get(&host[dot + 1..]));
        exact
            .chain(wildcard)
            .chain(std::iter::once(&self.any))
            .flat_map(move |table| table.matches(path, lenient))
    }
}

#[cfg(test)]
impl<T> Router<T> {
    /// A router of routes serving every method (most tests need no more).
    pub(crate) fn for_any_method(routes: Vec<(HostPattern, String, T)>) -> Self {
        Self::new(
            routes
                .into_iter()
                .map(|(host, prefix, value)| (host, prefix, None, value))
                .collect(),
        )
    }

    /// The route for a `GET`, `None` when nothing matches.
    pub(crate) fn route_get(&self, host: &str, path: &str) -> Result<Option<&T>, PathError> {
        Ok(match self.route(host, path, &Method::GET)? {
            Routed::Found(value) => Some(value),
            Routed::MethodNotAllowed(_) | Routed::NotFound => None,
        })
    }
}
