//! The request pipeline, one function per step, in the order requests flow:
//!
//! 1. [`request_target`]: the method (`TRACE`/`TRACK` → 405), the host (HTTP/1.1
//!    absolute-form and HTTP/2 `:authority` rules, SNI consistency → 421) and the path,
//!    normalized once;
//! 2. own endpoints: a path under `auth.prefix` goes to [`crate::auth`]'s handlers;
//! 3. route: host + longest prefix → route, else 404;
//! 4. [`authorize`] (steps 4–6 of DESIGN): the credential (`Authorization` first, else the
//!    cookie), its verification, the route's access rule, and the CSRF rule for
//!    cookie-authenticated unsafe methods and WebSocket upgrades; failures become 401 (or a login redirect for
//!    browsers) or 403;
//! 5. forward: header hygiene, identity injection, streaming ([`crate::proxy`]);
//! 6. [`renew`]: a fresh cookie when a cookie-authenticated token nears expiry;
//! 7. the access event, emitted once when the response head is ready: one event carrying
//!    every field, filled in from an [`AccessRecord`] the steps write to. (Recording the
//!    fields on the request span one by one made the log formatter re-render the span at
//!    each step; the span now carries only the request id, which every other event of the
//!    request shows.)
//!
//! The normalized path computed in step 1 is the only path used afterwards: the path that
//! is routed and authorized is byte for byte the path forwarded.
//! [`handle`] is the outer function: it renders any [`RequestError`] as JSON or HTML and
//! logs the request; it never fails, so the service handed to hyper is infallible.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, Version};
use hyper::body::Incoming;
use tracing::{Instrument, debug, field, info, info_span};

use std::time::SystemTime;

use crate::auth::jwt::VerifiedToken;
use crate::auth::{
    Auth, CredentialSource, EndpointContext, cookie, handle_endpoint, same_site_request,
};
use crate::config::Upstream;
use crate::error::{LoginHint, RequestError};
use crate::gateway::{Gateway, RouteTarget, Snapshot};
use crate::metrics::RouteMetrics;
use crate::policy::{Access, Decision, decide};
use crate::proxy::Forward;
use crate::proxy::headers::{ClientSide, client_ip, is_websocket_upgrade};
use crate::response::{Body, ClientKind, discard_unread_body, error_response};
use crate::router::{normalize_host, normalize_path};

/// What the gateway knows about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The SNI name when it selected a dedicated `[[tls.sni]]` certificate.
    pub dedicated_sni: Option<String>,
}

/// The request's destination, validated and normalized.
#[derive(Debug)]
struct Target {
    /// Lower-case host without port or trailing dot: what routing uses.
    host: String,
    /// The authority as the client sent it: what the upstream receives as `Host`.
    authority: HeaderValue,
    /// The normalized path plus the original query.
    path_and_query: PathAndQuery,
}

impl Target {
    fn path(&self) -> &str {
        self.path_and_query.path()
    }
}

/// Handles one request; always answers.
pub async fn handle(
    gateway: Arc<Gateway>,
    conn: Arc<ConnInfo>,
    request: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let id = gateway.next_request_id();
    // The config generation this request uses from start to finish, even across a reload.
    let snapshot = gateway.snapshot();
    let span = info_span!("request", id);
    let client = ClientKind::of(request.method(), request.headers());
    let method = request.method().clone();
    let mut record = AccessRecord::new(&snapshot.unrouted_metrics);
    let (target, result) = match request_target(&request, &conn) {
        Ok(target) => {
            let result = handle_inner(&snapshot, &conn, request, &target, &mut record)
                .instrument(span.clone())
                .await;
            (Some(target), result)
        }
        Err(error) => {
            discard_unread_body(request).await;
            (None, Err(error))
        }
    };
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            debug!(parent: &span, error = %error, cause = ?std::error::Error::source(&error), "request rejected");
            error_response(&error, client)
        }
    };
    let mut response = response;
    if let Some(hsts) = &snapshot.config().tls.hsts {
        // The upstream's own policy, if it sends one, is the one its users get.
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| hsts.clone());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    record.metrics.record(status);
    gateway.metrics().observe_duration(elapsed);
    info!(
        parent: &span,
        method = %method,
        host = target.as_ref().map(|t| t.host.as_str()),
        path = target.as_ref().map(Target::path),
        route = record.route,
        user = record.user.as_ref().map(|identity| identity.user.as_str()),
        upstream = record.upstream.map(field::display),
        status,
        duration_ms = elapsed * 1000.0,
        "access"
    );
    response
}

/// What the access event reports and which route's counters count the response, filled in
/// by the pipeline's steps as far as the request gets.
struct AccessRecord<'s> {
    /// The route's metrics, the endpoints', or (until routed) "no route".
    metrics: &'s RouteMetrics,
    /// The route's name, or `auth` for the gateway's own endpoints.
    route: Option<&'s str>,
    /// The authenticated user.
    user: Option<Arc<VerifiedToken>>,
    /// The upstream tried last.
    upstream: Option<&'s Upstream>,
}

impl<'s> AccessRecord<'s> {
    fn new(metrics: &'s RouteMetrics) -> Self {
        Self {
            metrics,
            route: None,
            user: None,
            upstream: None,
        }
    }
}

/// The pipeline proper, from step 2 on; `record` learns the route (whose metrics then count
/// the response, errors included), the user and the upstream.
async fn handle_inner<'s>(
    snapshot: &'s Snapshot,
    conn: &ConnInfo,
    request: Request<Incoming>,
    target: &Target,
    record: &mut AccessRecord<'s>,
) -> Result<Response<Body>, RequestError> {
    let peer = conn.peer.ip();
    let client_ip = client_ip(request.headers(), peer, |ip| snapshot.is_trusted_proxy(ip));

    if let Some(auth) = &snapshot.auth
        && let Some(endpoint) = under_prefix(target.path(), &auth.settings().prefix)
    {
        record.route = Some("auth");
        record.metrics = &snapshot.endpoint_metrics;
        let context = EndpointContext {
            host: &target.host,
            endpoint,
            client_ip,
        };
        // Boxed: the endpoints' state (reading a login form, checking a password) is the
        // largest part of this future, and proxied requests would otherwise carry it too.
        return Box::pin(handle_endpoint(snapshot, auth, request, context)).await;
    }

    let (route, authorized) = match route_and_authorize(snapshot, &request, target, record) {
        Ok(passed) => passed,
        Err(error) => {
            discard_unread_body(request).await;
            return Err(error);
        }
    };
    let forward = Forward {
        balancer: &route.balancer,
        client: ClientSide {
            peer,
            peer_trusted: snapshot.is_trusted_proxy(peer),
            host: &target.authority,
        },
        path_and_query: target.path_and_query.clone(),
        identity: authorized.identity.as_deref(),
        strip_authorization: authorized.source == Some(CredentialSource::Header),
    };
    let mut response = snapshot
        .proxy
        .forward(request, forward, &mut record.upstream)
        .await?;
    if let Some(auth) = &snapshot.auth {
        renew(auth, &authorized, &target.host, &mut response);
    }
    Ok(response)
}

/// Steps 3–6: the route, then whether the request may pass; `record` learns the route and
/// the user.
fn route_and_authorize<'s, B>(
    snapshot: &'s Snapshot,
    request: &Request<B>,
    target: &Target,
    record: &mut AccessRecord<'s>,
) -> Result<(&'s RouteTarget, Authorized), RequestError> {
    let route = snapshot
        .router
        .route(&target.host, target.path())
        .map_err(RequestError::InvalidPath)?
        .ok_or(RequestError::NoRoute)?;
    record.route = Some(route.name.as_str());
    record.metrics = &route.metrics;
    let authorized = authorize(snapshot.auth.as_ref(), route, request, target)?;
    record.user.clone_from(&authorized.identity);
    Ok((route, authorized))
}

/// The endpoint part of `path` when it is under `prefix` (`/.auth/login` → `/login`).
fn under_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The outcome of steps 4–6 for a request that may pass.
#[derive(Debug, Default)]
struct Authorized {
    /// The verified token, when the route checked one.
    identity: Option<Arc<VerifiedToken>>,
    /// Where the credential came from.
    source: Option<CredentialSource>,
}

/// Steps 4–6: credential, verification, access rule, CSRF.
fn authorize<B>(
    auth: Option<&Auth>,
    route: &RouteTarget,
    request: &Request<B>,
    target: &Target,
) -> Result<Authorized, RequestError> {
    if route.access == Access::Public {
        // Nothing is checked, but the gateway's own bearer token is still a credential for
        // every protected route: a public upstream must not be handed one to replay.
        let own_token = auth.is_some_and(|auth| {
            matches!(auth.credential(request.headers()), Ok(Some(c))
                if c.source == CredentialSource::Header && auth.is_own_token(c.token))
        });
        return Ok(Authorized {
            identity: None,
            source: own_token.then_some(CredentialSource::Header),
        });
    }
    // Config validation refuses protected routes without [auth]; fail closed regardless.
    let auth = auth.ok_or(RequestError::Unauthenticated(LoginHint::None))?;
    let hint = || LoginHint::Navigate(login_url(auth, &target.path_and_query));
    let credential = auth.credential(request.headers())?;
    let identity = match &credential {
        None => None,
        Some(credential) => {
            Some(auth.verify_credential(credential, request.headers(), SystemTime::now(), hint)?)
        }
    };
    match decide(&route.access, identity.as_deref()) {
        Decision::Allow => {}
        Decision::Unauthenticated => return Err(RequestError::Unauthenticated(hint())),
        Decision::Forbidden => return Err(RequestError::Forbidden),
    }
    let source = credential.map(|c| c.source);
    let safe_method = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // A WebSocket handshake is a GET, but it opens a channel a cross-site page can read and
    // write with the user's cookie (cross-site WebSocket hijacking): it needs an allowed
    // `Origin` like an unsafe method. Browsers always send one on the handshake.
    let needs_same_site = !safe_method || is_websocket_upgrade(request.headers());
    if source == Some(CredentialSource::Cookie)
        && needs_same_site
        && !same_site_request(auth, request.headers(), &target.host)
    {
        return Err(RequestError::CsrfRejected);
    }
    Ok(Authorized { identity, source })
}

/// `/.auth/login?rd=<path?query>`: back to exactly this page after signing in.
fn login_url(auth: &Auth, path_and_query: &PathAndQuery) -> String {
    let rd: String = form_urlencoded::byte_serialize(path_and_query.as_str().as_bytes()).collect();
    format!("{}/login?rd={rd}", auth.settings().prefix)
}

/// Step 8: a cookie whose token has less than `renew_before` left is replaced.
fn renew(auth: &Auth, authorized: &Authorized, host: &str, response: &mut Response<Body>) {
    let (Some(identity), Some(CredentialSource::Cookie)) =
        (&authorized.identity, authorized.source)
    else {
        return;
    };
    let now = SystemTime::now();
    if !auth.needs_renewal(identity, now) {
        return;
    }
    let ttl = auth.settings().token_ttl;
    let renewed = auth
        .issue_for(&identity.user, Some(identity), ttl, now)
        .map_err(|e| e.to_string())
        .and_then(|token| {
            cookie::set_cookie(&auth.settings().cookie, host, &token, ttl)
                .map_err(|e| e.to_string())
        });
    match renewed {
        Ok(set_cookie) => {
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie);
        }
        Err(error) => tracing::warn!(%error, "cookie renewal failed"),
    }
}

/// Step 1 for the fuzz targets: the routing host and the normalized path and query, for a
/// connection without a dedicated SNI certificate.
///
/// # Errors
/// The [`RequestError`] the request would be answered with.
pub fn fuzz_request_target<B>(
    request: &Request<B>,
) -> Result<(String, PathAndQuery), RequestError> {
    let conn = ConnInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        dedicated_sni: None,
    };
    request_target(request, &conn).map(|target| (target.host, target.path_and_query))
}

/// Step 1: the host and normalized path (DESIGN: Precise rules → Host, Path normalization).
fn request_target<B>(request: &Request<B>, conn: &ConnInfo) -> Result<Target, RequestError> {
    let uri = request.uri();
    if request.method() == Method::CONNECT || uri.path() == "*" {
        return Err(RequestError::UnsupportedTarget);
    }
    // Cross-site tracing: an upstream that echoes a TRACE would hand a script the request's
    // headers. Refused before routing, so no route or upstream can opt back in.
    if request.method() == Method::TRACE || request.method().as_str() == "TRACK" {
        return Err(RequestError::MethodNotAllowed);
    }
    let mut host_headers = request.headers().get_all(header::HOST).iter();
    let host_header = host_headers.next();
    if host_headers.next().is_some() {
        return Err(RequestError::DuplicateHost);
    }
    let authority = match (request.version(), uri.authority()) {
        // HTTP/2 `:authority` wins; a disagreeing `Host` is refused (RFC 9113 §8.3.1).
        (Version::HTTP_2, Some(authority)) => {
            if let Some(host_header) = host_header {
                let host_header = host_header
                    .to_str()
                    .map_err(|_| RequestError::ConflictingHost)?;
                let same =
                    normalize_host(host_header).ok() == normalize_host(authority.as_str()).ok();
                if !same {
                    return Err(RequestError::ConflictingHost);
                }
            }
            HeaderValue::from_str(authority.as_str()).map_err(|_| RequestError::MissingHost)?
        }
        // HTTP/1.1 absolute-form: the target's authority replaces `Host` (RFC 9112 §3.2.2).
        (_, Some(authority)) => {
            HeaderValue::from_str(authority.as_str()).map_err(|_| RequestError::MissingHost)?
        }
        (_, None) => host_header.cloned().ok_or(RequestError::MissingHost)?,
    };
    let authority_text = authority.to_str().map_err(|_| RequestError::MissingHost)?;
    let host = normalize_host(authority_text).map_err(RequestError::InvalidHost)?;
    if conn.dedicated_sni.as_ref().is_some_and(|sni| *sni != host) {
        return Err(RequestError::MisdirectedRequest);
    }
    let path = normalize_path(uri.path()).map_err(RequestError::InvalidPath)?;
    let path_and_query = match uri.query() {
        Some(query) => PathAndQuery::try_from(format!("{path}?{query}")),
        None => PathAndQuery::try_from(path),
    }
    .map_err(|e| RequestError::Internal(Box::new(e)))?;
    Ok(Target {
        host,
        authority,
        path_and_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(sni: Option<&str>) -> ConnInfo {
        ConnInfo {
            peer: "127.0.0.1:5000".parse().expect("addr"),
            dedicated_sni: sni.map(String::from),
        }
    }

    fn request(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::builder().version(version).uri(uri);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).expect("request")
    }

    #[test]
    fn http1_host_header_is_normalized_and_kept_for_forwarding() {
        let target = request_target(
            &request(Version::HTTP_11, "/a/./b?x=1", &["App.Example.com.:8443"]),
            &conn(None),
        )
        .expect("valid");
        assert_eq!(target.host, "app.example.com");
        assert_eq!(target.authority, "App.Example.com.:8443");
        assert_eq!(target.path_and_query.as_str(), "/a/b?x=1");
    }

    #[test]
    fn absolute_form_authority_replaces_host_header() {
        let target = request_target(
            &request(
                Version::HTTP_11,
                "http://app1.example.com/x",
                &["app2.example.com"],
            ),
            &conn(None),
        )
        .expect("valid");
        assert_eq!(target.host, "app1.example.com");
    }

    #[test]
    fn missing_or_duplicate_host_is_rejected() {
        let missing = request_target(&request(Version::HTTP_11, "/", &[]), &conn(None));
        assert!(matches!(missing, Err(RequestError::MissingHost)));
        let duplicate = request_target(&request(Version::HTTP_11, "/", &["a", "b"]), &conn(None));
        assert!(matches!(duplicate, Err(RequestError::DuplicateHost)));
    }

    #[test]
    fn http2_authority_disagreeing_with_host_is_rejected() {
        let conflicting = request_target(
            &request(
                Version::HTTP_2,
                "https://a.example.com/",
                &["b.example.com"],
            ),
            &conn(None),
        );
        assert!(matches!(conflicting, Err(RequestError::ConflictingHost)));
        let agreeing = request_target(
            &request(
                Version::HTTP_2,
                "https://a.example.com/",
                &["A.example.com:443"],
            ),
            &conn(None),
        );
        assert!(agreeing.is_ok());
    }

    #[test]
    fn host_other_than_dedicated_sni_is_misdirected() {
        let misdirected = request_target(
            &request(Version::HTTP_11, "/", &["b.example.com"]),
            &conn(Some("a.example.com")),
        );
        assert!(matches!(misdirected, Err(RequestError::MisdirectedRequest)));
        let same = request_target(
            &request(Version::HTTP_11, "/", &["A.example.com"]),
            &conn(Some("a.example.com")),
        );
        assert!(same.is_ok());
    }

    #[test]
    fn ambiguous_paths_and_unroutable_targets_are_rejected() {
        let above_root = request_target(&request(Version::HTTP_11, "/../etc", &["h"]), &conn(None));
        assert!(matches!(above_root, Err(RequestError::InvalidPath(_))));
        let encoded_slash =
            request_target(&request(Version::HTTP_11, "/a%2fb", &["h"]), &conn(None));
        assert!(matches!(encoded_slash, Err(RequestError::InvalidPath(_))));
        let asterisk = Request::builder()
            .method("OPTIONS")
            .uri("*")
            .header("host", "h")
            .body(())
            .expect("request");
        assert!(matches!(
            request_target(&asterisk, &conn(None)),
            Err(RequestError::UnsupportedTarget)
        ));
    }
}
