//! `[[route]]` entries: host pattern, path prefix, upstreams and access rule, and the rules
//! that span sections (a protected route needs `[auth]`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

use super::access::Access;
use super::auth::AuthSettings;
use super::location::{Location, Problem, Problems};
use super::upstream::Upstream;
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
    access: Option<RawAccess>,
}

/// `access = "public" | "authenticated" | { groups = [...], second_factor = bool }` (either
/// key may be alone), parsed in `Deserialize` so a
/// bad value is reported at its position.
#[derive(Debug, Clone)]
struct RawAccess(Access);

impl<'de> Deserialize<'de> for RawAccess {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AccessVisitor;
        impl<'de> Visitor<'de> for AccessVisitor {
            type Value = RawAccess;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"public\", \"authenticated\", { groups = [\"…\"] } or { second_factor = true }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAccess, E> {
                match v {
                    "public" => Ok(RawAccess(Access::Public)),
                    "authenticated" => Ok(RawAccess(Access::AUTHENTICATED)),
                    other => Err(E::custom(format!(
                        "invalid access {other:?}: expected \"public\", \"authenticated\" or {{ groups = [\"…\"] }}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAccess, A::Error> {
                let mut groups: Option<Vec<String>> = None;
                let mut second_factor: Option<bool> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "groups" => groups = Some(map.next_value()?),
                        "second_factor" => second_factor = Some(map.next_value()?),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["groups", "second_factor"],
                            ));
                        }
                    }
                }
                match (groups, second_factor) {
                    (Some(groups), second_factor)
                        if !groups.is_empty()
                            && groups.iter().all(|g| !g.is_empty() && !g.contains(',')) =>
                    {
                        let second_factor = second_factor.unwrap_or(false);
                        Ok(RawAccess(Access::Groups {
                            groups,
                            second_factor,
                        }))
                    }
                    (Some(_), _) => Err(de::Error::custom(
                        "access groups must be a non-empty list of names without ','",
                    )),
                    (None, Some(second_factor)) => {
                        Ok(RawAccess(Access::Authenticated { second_factor }))
                    }
                    (None, None) => Err(de::Error::missing_field("groups")),
                }
            }
        }
        deserializer.deserialize_any(AccessVisitor)
    }
}

pub(super) fn validate_routes(
    raw: Vec<Spanned<RawRoute>>,
    problems: &mut Problems<'_>,
) -> Vec<RouteSettings> {
    // (host, lenient reading of the prefix) → the prefix that has it: finds duplicates and
    // prefixes that differ only in letter case or `;` parameters.
    let mut lenient_seen: HashMap<(String, String), String> = HashMap::new();
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
        match lenient_seen.entry((host.to_string(), lenient)) {
            Entry::Occupied(other) if *other.get() == path => {
                let offset = raw
                    .path
                    .as_ref()
                    .or(raw.host.as_ref())
                    .map_or(route_offset, |s| s.span().start);
                problems.add(
                    offset,
                    format!("duplicate route for host {host} and path {path:?}"),
                );
                continue;
            }
            Entry::Occupied(other) => {
                problems.add(
                    path_offset,
                    format!(
                        "route path {path:?} for host {host} is the same path as {:?} to an \
                         upstream that ignores letter case or `;` parameters; requests to \
                         either would be refused as ambiguous, so use one spelling",
                        other.get()
                    ),
                );
                continue;
            }
            Entry::Vacant(slot) => {
                slot.insert(path.clone());
            }
        }
        routes.push(RouteSettings {
            host,
            path,
            upstreams,
            access: raw.access.map_or(Access::AUTHENTICATED, |a| a.0),
            at: problems.locator.locate(route_offset),
        });
    }
    routes
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
