//! The request pipeline, in DESIGN.md's order and with its numbering, one function per
//! step:
//!
//! 1. [`request_target`](super::target): the request head — method (`TRACE`/`TRACK` →
//!    405), host (HTTP/1.1 absolute-form and HTTP/2 `:authority` rules, SNI consistency →
//!    421) and path, normalized once (TLS and HTTP parsing happened in `server/`);
//! 2. [`own_endpoint`](Pipeline::own_endpoint): a path under `auth.prefix` goes to the
//!    portal;
//! 3. [`route`](Pipeline::route): host + longest prefix + the route's `methods` → route,
//!    else 404 (or 405 with `Allow` when routes match the path but not the method);
//! 4. and 5. [`authorize`](Pipeline::authorize): the access decision (`auth::access`: the
//!    client address against the route's `networks` first, before any token work, then
//!    credential, verification, the route's rule, CSRF), whose refusal becomes 401 or 403;
//! 6. unauthenticated: the 401 carries a [`LoginHint`] back to this exact page, which
//!    `render` turns into a redirect for a browser navigation;
//! 7. [`forward`](Pipeline::forward): header hygiene, identity injection, streaming
//!    (`upstream/`);
//! 8. [`renew`]: a fresh cookie when a cookie-authenticated token nears expiry;
//! 9. the access event, emitted once when the response head is ready, from the
//!    [`AccessRecord`] the steps fill in.
//!
//! [`Pipeline::handle`] is the outer function: it renders any [`RequestError`] (JSON, HTML
//! or a login redirect) and logs the request; it never fails, so the service handed to
//! hyper is infallible. Steps 1–6 ([`admit`](Pipeline::admit)) read only the head; a request
//! they refuse has what is left of its body drained (`http::discard_unread_body`) in one
//! place, [`answer`](Pipeline::answer).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response};
use hyper::body::Incoming;
use tracing::debug;

use super::error::{LoginHint, RequestError};
use super::portal::{self, EndpointContext};
use super::record::AccessRecord;
use super::render::{ClientKind, error_response};
use super::target::{ConnInfo, Target, request_target};
use super::{Pipeline, RouteTarget};
use crate::auth::Auth;
use crate::auth::access::{AccessRequest, Granted, decide};
use crate::auth::session::CredentialSource;
use crate::auth::session::cookie;
use crate::config::Upstream;
use crate::http::{Body, discard_unread_body};
use crate::log_format::{in_request, within_request};
use crate::router::Routed;
use crate::upstream::Forward;
use crate::upstream::headers::{ClientSide, client_ip};

impl Pipeline {
    /// Handles one request; always answers. `id` is the request's id for the logs.
    pub async fn handle(
        &self,
        id: u64,
        conn: Arc<ConnInfo>,
        request: Request<Incoming>,
    ) -> Response<Body> {
        let started = Instant::now();
        let client = ClientKind::of(request.method(), request.headers());
        let mut record = AccessRecord::new(request.method().clone(), &self.unrouted_metrics);
        let result = in_request(id, self.answer(&conn, request, &mut record)).await;
        let mut response = result.unwrap_or_else(|error| {
            within_request(id, || {
                debug!(error = %error, cause = ?std::error::Error::source(&error), "request rejected");
            });
            error_response(&error, client)
        });
        if let Some(hsts) = &self.hsts {
            // The upstream's own policy, if it sends one, is the one its users get.
            response
                .headers_mut()
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| hsts.clone());
        }
        // Step 9.
        within_request(id, || {
            record.emit(&self.metrics, response.status(), started.elapsed());
        });
        response
    }

    /// Steps 1–8. Steps 1–6 read only the request head; a refusal there drains what is left
    /// of the body (here, the one place), so an HTTP/1.1 client reads the answer instead of
    /// a reset.
    async fn answer<'s>(
        &'s self,
        conn: &ConnInfo,
        request: Request<Incoming>,
        record: &mut AccessRecord<'s>,
    ) -> Result<Response<Body>, RequestError> {
        let admitted = match self.admit(conn, &request, record).await {
            Ok(admitted) => admitted,
            Err(error) => {
                discard_unread_body(request).await;
                return Err(error);
            }
        };
        let target = record
            .target
            .as_ref()
            .expect("admit records the target of every request it admits");
        match admitted {
            Admitted::Portal(auth) => {
                let context = EndpointContext {
                    host: &target.host,
                    endpoint: &target.path()[auth.settings().prefix.len()..],
                    client_ip: self.client_ip(request.headers(), conn),
                };
                // Boxed: the endpoints' state (reading a login form, checking a password)
                // is the largest part of this future, and proxied requests would otherwise
                // carry it.
                Box::pin(portal::handle(self, auth, request, context)).await
            }
            Admitted::Upstream(route, granted) => {
                let upstream = &mut record.upstream;
                let mut response = self
                    .forward(conn, route, request, target, &granted, upstream)
                    .await?;
                if let Some(auth) = &self.auth {
                    renew(auth, &granted, &target.host, &mut response);
                }
                Ok(response)
            }
        }
    }

    /// Steps 1–6 on the request head: its target, then the gateway's own endpoints or the
    /// route and the access decision. `record` learns the target, the route (whose metrics
    /// then count the response, errors included) and the user.
    async fn admit<'s>(
        &'s self,
        conn: &ConnInfo,
        request: &Request<Incoming>,
        record: &mut AccessRecord<'s>,
    ) -> Result<Admitted<'s>, RequestError> {
        let target = record.target.insert(request_target(request, conn)?);
        if let Some(auth) = self.own_endpoint(target) {
            record.route = Some("auth");
            record.metrics = &self.endpoint_metrics;
            return Ok(Admitted::Portal(auth));
        }
        let route = self.route(target, request.method())?;
        record.route = Some(route.name.as_str());
        record.metrics = &route.metrics;
        let client = self.client_ip(request.headers(), conn);
        let granted = self.authorize(route, request, target, client).await?;
        record.user.clone_from(&granted.token);
        Ok(Admitted::Upstream(route, granted))
    }

    /// Step 2: the auth state when the path is under `auth.prefix` (`/.auth/login`, or the
    /// prefix itself).
    fn own_endpoint(&self, target: &Target) -> Option<&Auth> {
        let auth = self.auth.as_ref()?;
        let rest = target
            .path()
            .strip_prefix(auth.settings().prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(auth)
    }

    /// The client address to judge, log and throttle by: the peer, or with a trusted
    /// proxy as the peer the address its `X-Forwarded-For` names.
    fn client_ip(&self, headers: &HeaderMap, conn: &ConnInfo) -> std::net::IpAddr {
        client_ip(headers, conn.peer.ip(), |ip| self.is_trusted_proxy(ip))
    }

    /// Step 3: the route of the target's host and path that serves `method`.
    fn route(&self, target: &Target, method: &Method) -> Result<&RouteTarget, RequestError> {
        match self.router.route(&target.host, target.path(), method) {
            Ok(Routed::Found(route)) => Ok(route),
            Ok(Routed::MethodNotAllowed(methods)) => Err(RequestError::not_routed(&methods)),
            Ok(Routed::NotFound) => Err(RequestError::NoRoute),
            Err(error) => Err(RequestError::InvalidPath(error)),
        }
    }

    /// Steps 4–6: the access decision for `route`; a 401 knows the way back to this page.
    async fn authorize<B>(
        &self,
        route: &RouteTarget,
        request: &Request<B>,
        target: &Target,
        client: std::net::IpAddr,
    ) -> Result<Granted, RequestError> {
        let asked = AccessRequest {
            headers: request.headers(),
            method: request.method(),
            host: &target.host,
            client,
        };
        decide(self.auth.as_ref(), route.rule(), asked)
            .await
            .map_err(|error| {
                RequestError::denied(error, || {
                    let prefix = self
                        .auth
                        .as_ref()
                        .map_or("", |a| a.settings().prefix.as_str());
                    LoginHint::Navigate(login_url(prefix, &target.path_and_query))
                })
            })
    }

    /// Step 7: the request, cleaned and with the identity injected, to one of the route's
    /// upstreams.
    async fn forward<'s>(
        &'s self,
        conn: &ConnInfo,
        route: &'s RouteTarget,
        request: Request<Incoming>,
        target: &Target,
        granted: &Granted,
        tried: &mut Option<&'s Upstream>,
    ) -> Result<Response<Body>, RequestError> {
        let peer = conn.peer.ip();
        let forward = Forward {
            balancer: &route.balancer,
            client: ClientSide {
                peer,
                peer_trusted: self.is_trusted_proxy(peer),
                host: &target.authority,
            },
            path_and_query: target.path_and_query.clone(),
            identity: granted.identity(),
            strip_authorization: granted.source == Some(CredentialSource::Header),
        };
        Ok(self.upstream.forward(request, forward, tried).await?)
    }
}

/// What steps 1–6 let through.
enum Admitted<'s> {
    /// One of the gateway's own endpoints.
    Portal(&'s Auth),
    /// A request for `route`'s upstream, with what the access decision found.
    Upstream(&'s RouteTarget, Granted),
}

/// `<prefix>/login?rd=<path?query>`: back to exactly this page after signing in.
fn login_url(prefix: &str, path_and_query: &PathAndQuery) -> String {
    let rd: String = form_urlencoded::byte_serialize(path_and_query.as_str().as_bytes()).collect();
    format!("{prefix}/login?rd={rd}")
}

/// Step 8: a cookie whose token has less than `renew_before` left is replaced.
fn renew(auth: &Auth, granted: &Granted, host: &str, response: &mut Response<Body>) {
    let (Some(token), Some(CredentialSource::Cookie)) = (&granted.token, granted.source) else {
        return;
    };
    let now = SystemTime::now();
    if !auth.needs_renewal(token, now) {
        return;
    }
    let ttl = auth.settings().token_ttl;
    let renewed = auth
        .issue_for(&token.identity.user, Some(token), ttl, now)
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
