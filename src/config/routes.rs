//! `[[route]]` entries: host pattern, path prefix, upstreams and access rule, and the rules
//! that span sections (a protected route needs `[auth]`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use http::Method;
use serde::Deserialize;
use toml::Spanned;

use super::access::Access;
use super::auth::AuthSettings;
use super::cidr::Cidr;
use super::location::{Location, Problem, Problems};
use super::upstream::{RawUpstreamTls, Upstream, UpstreamTls, validate_upstream_tls};
use crate::router::{HostPattern, lenient_route_prefix, parse_route_prefix};

/// One `[[route]]`.
#[derive(Debug, Clone)]
pub struct RouteSettings {
    /// Which hosts it serves.
    pub host: HostPattern,
    /// Normalized path prefix (`/` or `/a/b`, no trailing slash).
    pub path: String,
    /// Where requests go; more than one → round robin.
    pub upstreams: Vec<Upstream>,
    /// Who may pass (default: authenticated).
    pub access: Access,
    /// How the route's `https` upstreams are verified, and its client certificate.
    pub upstream_tls: UpstreamTls,
    /// Client addresses the route admits (after `trusted_proxies`); `None`: any.
    pub networks: Option<Vec<Cidr>>,
    /// The methods the route serves; `None`: all. Others go on to the next matching route.
    pub methods: Option<Vec<Method>>,
    /// Where the route was declared, for messages.
    pub at: Location,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    host: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    upstream: Option<Upstream>,
    upstreams: Option<Spanned<Vec<Upstream>>>,
    access: Option<Access>,
    networks: Option<Spanned<Vec<Cidr>>>,
    methods: Option<Spanned<Vec<Spanned<String>>>>,
    upstream_ca_file: Option<Spanned<PathBuf>>,
    upstream_client_cert: Option<Spanned<PathBuf>>,
    upstream_client_key: Option<Spanned<PathBuf>>,
}

/// A route already validated for a (host, lenient prefix): its prefix and methods.
type SeenRoute = (String, Option<Vec<Method>>);

pub(super) fn validate_routes(
    raw: Vec<Spanned<RawRoute>>,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Vec<RouteSettings> {
    // (host, lenient reading of the prefix) → the prefixes that have it and their methods:
    // finds duplicates and prefixes that differ only in letter case or `;` parameters.
    let mut lenient_seen: HashMap<(String, String), Vec<SeenRoute>> = HashMap::new();
    let mut routes = Vec::new();
    for spanned in raw {
        let route_offset = spanned.span().start;
        let raw = spanned.into_inner();
        let host = match &raw.host {
            None => HostPattern::Any,
            Some(h) => match HostPattern::parse(h.get_ref()) {
                Ok(p) => p,
                Err(e) => {
                    problems.add(
                        h.span().start,
                        format!("invalid route host {:?}: {e}", h.get_ref()),
                    );
                    continue;
                }
            },
        };
        let path = match &raw.path {
            None => "/".to_owned(),
            Some(p) => match parse_route_prefix(p.get_ref()) {
                Ok(p) => p,
                Err(e) => {
                    problems.add(
                        p.span().start,
                        format!("invalid route path {:?}: {e}", p.get_ref()),
                    );
                    continue;
                }
            },
        };
        let upstreams = match (raw.upstream, raw.upstreams) {
            (Some(one), None) => vec![one],
            (None, Some(many)) if many.get_ref().is_empty() => {
                problems.add(
                    many.span().start,
                    "upstreams must name at least one upstream",
                );
                continue;
            }
            (None, Some(many)) => many.into_inner(),
            (None, None) => {
                problems.add(route_offset, "route has neither upstream nor upstreams");
                continue;
            }
            (Some(_), Some(many)) => {
                problems.add(
                    many.span().start,
                    "route has both upstream and upstreams; use one",
                );
                continue;
            }
        };
        let upstream_tls = validate_upstream_tls(
            RawUpstreamTls {
                ca_file: raw.upstream_ca_file,
                client_cert: raw.upstream_client_cert,
                client_key: raw.upstream_client_key,
            },
            &upstreams,
            base_dir,
            problems,
        );
        let path_offset = raw.path.as_ref().map_or(route_offset, |s| s.span().start);
        let Some(lenient) = lenient_route_prefix(&path) else {
            problems.add(
                path_offset,
                format!(
                    "route path {path:?} climbs above `/` once its `;` parameters are cut, \
                     as Tomcat or Spring read it; no request could use it"
                ),
            );
            continue;
        };
        let Some(networks) = validate_networks(raw.networks, problems) else {
            continue;
        };
        let Some(methods) = validate_methods(raw.methods, problems) else {
            continue;
        };
        let same_lenient = lenient_seen.entry((host.to_string(), lenient)).or_default();
        if let Some((other, _)) = same_lenient.iter().find(|(other, _)| *other != path) {
            problems.add(
                path_offset,
                format!(
                    "route path {path:?} for host {host} is the same path as {other:?} to an \
                     upstream that ignores letter case or `;` parameters; requests to \
                     either would be refused as ambiguous, so use one spelling"
                ),
            );
            continue;
        }
        if let Some(shared) = same_lenient
            .iter()
            .find_map(|(_, other)| overlap(other.as_deref(), methods.as_deref()))
        {
            let offset = raw
                .path
                .as_ref()
                .or(raw.host.as_ref())
                .map_or(route_offset, |s| s.span().start);
            problems.add(
                offset,
                format!(
                    "duplicate route for host {host} and path {path:?}{shared}; give routes of \
                     the same host and path disjoint `methods`"
                ),
            );
            continue;
        }
        same_lenient.push((path.clone(), methods.clone()));
        routes.push(RouteSettings {
            host,
            path,
            upstreams,
            access: raw.access.unwrap_or(Access::AUTHENTICATED),
            networks,
            methods,
            upstream_tls,
            at: problems.locator.locate(route_offset),
        });
    }
    routes
}

/// `networks`: absent is any address; an empty list is an error (it would admit nobody).
fn validate_networks(
    raw: Option<Spanned<Vec<Cidr>>>,
    problems: &mut Problems<'_>,
) -> Option<Option<Vec<Cidr>>> {
    match raw {
        None => Some(None),
        Some(list) if list.get_ref().is_empty() => {
            problems.add(
                list.span().start,
                "route networks is empty, which admits no client; list CIDRs or leave it out",
            );
            None
        }
        Some(list) => Some(Some(list.into_inner())),
    }
}

/// Methods a route can never serve: the gateway refuses them before routing (`TRACE`,
/// `TRACK`) or has nothing to route (`CONNECT`).
const UNROUTABLE_METHODS: [&str; 3] = ["TRACE", "TRACK", "CONNECT"];

/// `methods`: absent is every method; otherwise a non-empty list of distinct upper-case
/// method tokens (`"GET"`, `"PROPFIND"`), none of [`UNROUTABLE_METHODS`].
fn validate_methods(
    raw: Option<Spanned<Vec<Spanned<String>>>>,
    problems: &mut Problems<'_>,
) -> Option<Option<Vec<Method>>> {
    let Some(list) = raw else {
        return Some(None);
    };
    if list.get_ref().is_empty() {
        problems.add(
            list.span().start,
            "route methods is empty, which matches no request; list methods or leave it out",
        );
        return None;
    }
    let mut methods: Vec<Method> = Vec::new();
    for spanned in list.into_inner() {
        let text = spanned.get_ref();
        let problem = if UNROUTABLE_METHODS.contains(&text.as_str()) {
            Some(format!(
                "route methods has {text:?}, which the gateway never forwards"
            ))
        } else if text.bytes().any(|b| b.is_ascii_lowercase()) {
            Some(format!(
                "route methods has {text:?}: methods are case-sensitive, write {:?}",
                text.to_ascii_uppercase()
            ))
        } else {
            match Method::from_bytes(text.as_bytes()) {
                Err(_) => Some(format!(
                    "route methods has {text:?}, which is not an HTTP method (e.g. \"GET\")"
                )),
                Ok(method) if methods.contains(&method) => {
                    Some(format!("route methods lists {text:?} twice"))
                }
                Ok(method) => {
                    methods.push(method);
                    None
                }
            }
        };
        if let Some(message) = problem {
            problems.add(spanned.span().start, message);
            return None;
        }
    }
    Some(Some(methods))
}

/// How two routes' method sets overlap, for the duplicate message (`None`: they are
/// disjoint). An absent set is every method.
fn overlap(a: Option<&[Method]>, b: Option<&[Method]>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let shared: Vec<&str> = a
                .iter()
                .filter(|m| b.contains(m))
                .map(Method::as_str)
                .collect();
            (!shared.is_empty()).then(|| format!(" (both serve {})", shared.join(", ")))
        }
        _ => Some(String::new()),
    }
}

/// Cross-section rules: a protected route needs `[auth]`; known users need `[users]`.
pub(super) fn check_auth_coverage(
    routes: &[RouteSettings],
    auth_offset: Option<usize>,
    users_offset: Option<usize>,
    auth: Option<&AuthSettings>,
    problems: &mut Problems<'_>,
) {
    if auth_offset.is_none() {
        for route in routes.iter().filter(|r| r.access != Access::Public) {
            problems.found.push(Problem {
                at: route.at.clone(),
                message: "route requires authentication (the default access) but there is no [auth] section; add [auth] or set access = \"public\"".to_owned(),
            });
        }
        if let Some(offset) = users_offset {
            problems.add(offset, "[users] needs an [auth] section");
        }
    }
    // With identity providers and no users file, `require_known_user` (about local users
    // only) just means no local token is accepted.
    if let (Some(offset), None, Some(auth)) = (auth_offset, users_offset, auth)
        && auth.require_known_user
        && auth.oidc.is_empty()
    {
        problems.add(offset, "require_known_user = true needs a [users] file; add [users] file = \"users.toml\" or set require_known_user = false");
    }
}
