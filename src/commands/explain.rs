//! `gateway explain URL [--user NAME] [--method M] [--from IP]`: what the gateway would do
//! with one request, and why — like `authelia access-control check-policy`, for our rules.
//!
//! It takes the same steps as the pipeline, from the same code: the URL's host and path are
//! normalized by `router::normalize`, the route is chosen by the [`Router`] built from the
//! config's routes (exact host, wildcard, any host; the longest prefix; `methods`), the
//! client address is checked against the route's `networks` and the rule applied by
//! `auth::access` ([`within_networks`], [`evaluate`]). Only the identity is assumed instead
//! of read from a token: the named user as the users file describes them (groups, email),
//! signed in with their second factor when they have one enrolled. The report lists every
//! route that matches the host and path in the order they are tried, marks the one chosen,
//! and ends with the decision and the part of the rule that made it.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use http::{Method, Uri};

use super::error::{Error, Result};
use crate::auth::Auth;
use crate::auth::access::{Decision, Factor, evaluate, within_networks};
use crate::config::{Config, RouteSettings};
use crate::identity::Identity;
use crate::router::{HostPattern, Routed, Router, normalize_host, normalize_path};

/// What `gateway explain` asks about.
#[derive(Debug, Clone)]
pub struct ExplainRequest<'a> {
    /// `https://host/path?query`.
    pub url: &'a str,
    /// The signed-in user, if any.
    pub user: Option<&'a str>,
    /// The request's method.
    pub method: Method,
    /// The client address (after `trusted_proxies`), if known.
    pub from: Option<IpAddr>,
}

/// The report: printed as it is; [`Explanation::allowed`] chooses the exit code.
#[derive(Debug)]
pub struct Explanation {
    text: String,
    allowed: bool,
}

impl Explanation {
    /// Whether the request would be let through.
    pub fn allowed(&self) -> bool {
        self.allowed
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a route's host pattern matched, for the report.
fn host_match(pattern: &HostPattern) -> String {
    match pattern {
        HostPattern::Exact(host) => format!("exact host {host}"),
        HostPattern::Wildcard(suffix) => format!("wildcard host *.{suffix}"),
        HostPattern::Any => "any host".to_owned(),
    }
}

fn methods_text(methods: Option<&[Method]>) -> String {
    methods.map_or_else(
        || "all methods".to_owned(),
        |methods| {
            let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
            names.join(", ")
        },
    )
}

/// The normalized host and path of `url`.
fn target(url: &str) -> Result<(String, String)> {
    let invalid = |problem: String| Error::ExplainUrl {
        url: url.to_owned(),
        problem,
    };
    let uri: Uri = url.parse().map_err(|_| invalid("not a URL".to_owned()))?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) {
        return Err(invalid("expected an https:// (or http://) URL".to_owned()));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("no host".to_owned()))?;
    let host = normalize_host(authority.as_str()).map_err(|e| invalid(e.to_string()))?;
    let path = normalize_path(uri.path()).map_err(|e| invalid(e.to_string()))?;
    Ok((host, path))
}

/// The identity `user` stands for, and what the report says about it.
fn identity(
    config: &Config,
    auth_users: Option<&crate::auth::users::Users>,
    user: &str,
) -> (Option<(Identity, Factor)>, String) {
    let require_known = config.auth.as_ref().is_none_or(|a| a.require_known_user);
    match auth_users.and_then(|users| users.get(user)) {
        Some(found) if found.disabled => (
            None,
            format!("{user} is disabled in the users file: their tokens are refused"),
        ),
        Some(found) => {
            let factor = if found.has_second_factor() {
                Factor::Passed
            } else {
                Factor::None
            };
            let email = found.email.as_deref().unwrap_or("none");
            let note = format!(
                "{} (groups {}; email {email}; second factor {})",
                found.name,
                if found.groups.is_empty() {
                    "none".to_owned()
                } else {
                    found.groups.join(", ")
                },
                if factor == Factor::Passed {
                    "enrolled, assumed used at sign-in"
                } else {
                    "none"
                }
            );
            let identity = Identity {
                user: found.name.clone(),
                groups: found.groups.clone(),
                email: found.email.clone(),
            };
            (Some((identity, factor)), note)
        }
        None if require_known => (
            None,
            format!(
                "{user} is unknown: not in the users file, so their tokens are refused (require_known_user)"
            ),
        ),
        None => {
            let identity = Identity {
                user: user.to_owned(),
                groups: Vec::new(),
                email: None,
            };
            (
                Some((identity, Factor::None)),
                format!(
                    "{user} is not in the users file; assumed signed in elsewhere, without groups or email (require_known_user = false)"
                ),
            )
        }
    }
}

/// Explains `request` against `config` (and its users file).
///
/// # Errors
/// [`Error::ExplainUrl`] for a URL that is not an absolute http(s) URL with a valid host
/// and path; the error that stopped keys or users from loading.
pub fn explain(
    config: &Config,
    request: &ExplainRequest<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Explanation> {
    let (host, path) = target(request.url)?;
    let users = match &config.auth {
        Some(settings) => Auth::check(settings, config.users.as_ref(), env)?,
        None => None,
    };
    let mut text = String::new();
    let out = &mut text;
    let _ = writeln!(out, "request:  {} {}", request.method, request.url);
    let _ = writeln!(out, "host:     {host}");
    let _ = writeln!(out, "path:     {path}");
    let _ = writeln!(
        out,
        "client:   {}",
        request
            .from
            .map_or_else(|| "not given (--from)".to_owned(), |ip| ip.to_string())
    );
    let signed_in = match request.user {
        None => {
            let _ = writeln!(out, "user:     none (not signed in)");
            None
        }
        Some(user) => {
            let (signed_in, note) = identity(config, users.as_ref(), user);
            let _ = writeln!(out, "user:     {note}");
            signed_in
        }
    };

    let allowed = decide(config, &host, &path, request, signed_in.as_ref(), out);
    Ok(Explanation { text, allowed })
}

/// Routes and decides, writing the reasons to `out`; whether the request passes.
fn decide(
    config: &Config,
    host: &str,
    path: &str,
    request: &ExplainRequest<'_>,
    signed_in: Option<&(Identity, Factor)>,
    out: &mut String,
) -> bool {
    if let Some(auth) = &config.auth {
        let prefix = auth.prefix.as_str();
        if path == prefix || path.starts_with(&format!("{prefix}/")) {
            let _ = writeln!(
                out,
                "route:    the gateway's own endpoints (auth.prefix = {prefix:?}), on every host"
            );
            let _ = writeln!(out, "decision: allowed: served by the gateway itself");
            return true;
        }
    }
    let router: Router<&RouteSettings> = Router::new(
        config
            .routes
            .iter()
            .map(|r| (r.host.clone(), r.path.clone(), r.methods.clone(), r))
            .collect(),
    );
    let routed = router.route(host, path, &request.method);
    let _ = writeln!(
        out,
        "routes matching host and path, in the order they are tried (exact host, wildcard, any host; longest prefix first):"
    );
    let chosen = match &routed {
        Ok(Routed::Found(route)) => Some(**route),
        _ => None,
    };
    let mut any = false;
    for (methods, route) in router.matching(host, path) {
        any = true;
        let mark = if chosen.is_some_and(|chosen| std::ptr::eq(chosen, *route)) {
            "chosen"
        } else if methods.is_some_and(|m| !m.contains(&request.method)) {
            "skipped: not for this method"
        } else {
            "not reached"
        };
        let _ = writeln!(
            out,
            "  {}: {}, prefix {}, {} — {mark}",
            route.at,
            host_match(&route.host),
            route.path,
            methods_text(methods),
        );
    }
    if !any {
        let _ = writeln!(out, "  none");
    }
    let route = match routed {
        Ok(Routed::Found(route)) => *route,
        Ok(Routed::MethodNotAllowed(methods)) => {
            let _ = writeln!(
                out,
                "decision: denied: 405 method_not_allowed (Allow: {}): no matching route serves {}",
                methods_text(Some(&methods)),
                request.method
            );
            return false;
        }
        Ok(Routed::NotFound) => {
            let _ = writeln!(out, "decision: denied: 404 not_found: no route matches");
            return false;
        }
        Err(error) => {
            let _ = writeln!(out, "decision: denied: 400 bad_request: {error}");
            return false;
        }
    };
    let _ = writeln!(
        out,
        "route:    {} ({}, prefix {}, {})",
        route.at,
        host_match(&route.host),
        route.path,
        methods_text(route.methods.as_deref())
    );
    let _ = writeln!(out, "access:   {}", route.access);
    match (&route.networks, request.from) {
        (None, _) => {
            let _ = writeln!(out, "networks: any address");
        }
        (Some(networks), from) => {
            let list: Vec<String> = networks.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "networks: {}", list.join(", "));
            match from {
                Some(ip) if !within_networks(Some(networks), ip) => {
                    let _ = writeln!(
                        out,
                        "decision: denied: 403 network_not_allowed: {ip} is outside the route's networks"
                    );
                    return false;
                }
                Some(_) => {}
                None => {
                    let _ = writeln!(
                        out,
                        "          (not checked: give the client address with --from)"
                    );
                }
            }
        }
    }
    let verdict = evaluate(
        &route.access,
        signed_in.map(|(identity, _)| identity),
        signed_in.map(|(_, factor)| *factor),
    );
    let outcome = match verdict.decision {
        Decision::Allow => "allowed",
        Decision::Unauthenticated => {
            "denied: 401 unauthorized (a browser is sent to the login page)"
        }
        Decision::Forbidden => "denied: 403 forbidden",
        Decision::StepUp => {
            "denied: 401 insufficient_user_authentication (sign in again with the second factor)"
        }
    };
    let _ = writeln!(out, "decision: {outcome}: {}", verdict.reason);
    verdict.decision == Decision::Allow
}
