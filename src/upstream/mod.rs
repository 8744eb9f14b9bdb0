//! Forwarding a request to its upstream: pooled HTTP/1.1 clients, plain or over verified
//! TLS (`clients`), URI rewrite, header hygiene ([`headers`]), round robin with failover
//! (`balancer`), WebSocket tunnels (`tunnel`), and the built-in `whoami` upstream
//! (`whoami`). Failures are a [`ForwardError`]; the edge turns them into 502, 504, 400 or
//! 408. An HTTPS upstream whose certificate is refused is a 502, logged and counted as a
//! `tls` upstream error; nothing is sent to it.
//!
//! There is one client, with its own connection pool, per server worker
//! ([`current_worker`]) and per kind of connection (plain, or each TLS profile): an
//! upstream connection is driven by a task on the worker that opened it, and only that
//! worker's requests use it, so forwarding never hands a request to another thread or
//! contends for a pool shared between threads.
//!
//! Bodies stream both ways: the client's body is handed to the upstream request as is and
//! the upstream's body back to the client, so memory does not grow with body size.
//!
//! Failover: a connection failure marks that upstream down and, when the request has no body
//! (so nothing was consumed), the request is tried on the next upstream. A request with a
//! body is not replayed — its bytes may be gone — and gets 502. A response that starts
//! arriving is never retried.
//!
//! Every attempt is bounded: `upstream_connect_timeout` for the TCP connect and
//! `upstream_timeout` until the response head, whose expiry is a 504. The client's body
//! must keep arriving ([`body`]: `body_read_timeout`, else 408 and the upstream request is
//! aborted).

mod balancer;
mod body;
mod clients;
mod error;
pub mod headers;
mod tunnel;
mod whoami;

use std::sync::Arc;
use std::time::Duration;

use http::uri::{PathAndQuery, Uri};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use hyper::body::Incoming;
use tracing::{debug, warn};

pub use balancer::Balancer;
use body::upstream_body;
use clients::{Clients, Pool};
pub use error::ForwardError;
use error::{body_timed_out, error_chain, request_body_failed, tls_failure};
use headers::{ClientSide, ProtectedHeaders};
use tunnel::tunnel;

use crate::auth::session::cookie::strip_ours;
use crate::config::{IdentityHeaders, RouteSettings, ServerSettings, Upstream};
use crate::http::{Body, empty, is_websocket_upgrade};
use crate::identity::Identity;
use crate::metrics::{Metrics, UpstreamErrorKind};
use crate::tls::TlsError;
use crate::worker::current_worker;

/// The upstream side of the gateway, built once at startup.
#[derive(Debug)]
pub struct Proxy {
    /// The pools, one per worker (indexed by [`current_worker`]) and kind of connection.
    clients: Clients,
    upstream_timeout: Duration,
    body_read_timeout: Duration,
    protected: ProtectedHeaders,
    identity_headers: IdentityHeaders,
    /// The gateway cookie, removed from every forwarded `Cookie` header.
    cookie_name: Option<String>,
    metrics: Arc<Metrics>,
}

/// The parts of a request the proxy needs besides the request itself; `'r` is the route's
/// lifetime (the config generation), `'a` the request's.
#[derive(Debug)]
pub struct Forward<'a, 'r> {
    /// The route's upstreams.
    pub balancer: &'r Balancer,
    /// Client-side facts for the forwarding headers.
    pub client: ClientSide<'a>,
    /// The normalized path and the original query: exactly what was authorized.
    pub path_and_query: PathAndQuery,
    /// The authenticated user, injected as identity headers.
    pub identity: Option<&'a Identity>,
    /// The `Authorization` header carried the gateway token: remove it.
    pub strip_authorization: bool,
}

impl Proxy {
    /// Builds the pooled clients from the server settings and the TLS settings of
    /// `routes`; `cookie_name` is the gateway cookie to keep from upstreams.
    ///
    /// # Errors
    /// A [`TlsError`] naming a route's CA or client certificate file that cannot be used.
    pub fn new(
        settings: &ServerSettings,
        routes: &[RouteSettings],
        identity_headers: IdentityHeaders,
        cookie_name: Option<String>,
        metrics: Arc<Metrics>,
    ) -> Result<Proxy, TlsError> {
        Ok(Proxy {
            clients: Clients::new(settings, routes)?,
            upstream_timeout: settings.upstream_timeout,
            body_read_timeout: settings.body_read_timeout,
            protected: ProtectedHeaders::new(&identity_headers),
            identity_headers,
            cookie_name,
            metrics,
        })
    }

    /// Loads what the routes' HTTPS upstreams need (CA and client certificate files), as
    /// [`Proxy::new`] does, for `gateway check`.
    ///
    /// # Errors
    /// A [`TlsError`] naming the configured file that cannot be used.
    pub fn check_tls(settings: &ServerSettings, routes: &[RouteSettings]) -> Result<(), TlsError> {
        Clients::new(settings, routes).map(drop)
    }

    /// The balancer of `route`, bound to the TLS profile of its `https` upstreams.
    pub fn balancer(&self, route: &RouteSettings) -> Balancer {
        Balancer::new(
            route.upstreams.clone(),
            self.clients.profile(&route.upstream_tls),
        )
    }

    /// Sends `request` to one of the route's upstreams and returns its response;
    /// `tried` is set to each upstream as it is tried (for the access event).
    ///
    /// # Errors
    /// A [`ForwardError`]: the upstream could not be reached (502) or timed out (504), or
    /// the client's body failed (400) or stopped arriving (408).
    pub async fn forward<'r>(
        &self,
        mut request: Request<Incoming>,
        forward: Forward<'_, 'r>,
        tried: &mut Option<&'r Upstream>,
    ) -> Result<Response<Body>, ForwardError> {
        let websocket =
            request.version() == Version::HTTP_11 && is_websocket_upgrade(request.headers());
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        headers::prepare_upstream_request(
            &mut parts.headers,
            &self.protected,
            forward.client,
            websocket,
        );
        if let Some(cookie_name) = &self.cookie_name {
            strip_ours(&mut parts.headers, cookie_name);
        }
        if forward.strip_authorization {
            parts.headers.remove(http::header::AUTHORIZATION);
        }
        if let Some(identity) = forward.identity {
            headers::inject_identity(&mut parts.headers, &self.identity_headers, identity)
                .map_err(|e| ForwardError::Internal(Box::new(e)))?;
        }

        let replayable = body.is_end_stream();
        let mut body = Some(upstream_body(body, self.body_read_timeout));
        let mut last_error = None;
        let worker = current_worker();
        let mut order = forward.balancer.pick_order();
        while let Some((index, upstream)) = order.next() {
            *tried = Some(upstream);
            let (authority, pool) = match upstream {
                Upstream::Whoami => {
                    return Ok(whoami_response(
                        &parts.method,
                        &forward.path_and_query,
                        &parts.headers,
                    ));
                }
                Upstream::Http { authority } => (authority, Pool::Plain),
                Upstream::Https { authority } => {
                    let profile = forward.balancer.tls_profile().ok_or_else(|| {
                        ForwardError::Internal("https upstream without a TLS profile".into())
                    })?;
                    (authority, Pool::Tls(profile))
                }
            };
            let uri = Uri::builder()
                .scheme(upstream.scheme())
                .authority(authority.clone())
                .path_and_query(forward.path_and_query.clone())
                .build()
                .map_err(|e| ForwardError::Internal(Box::new(e)))?;
            let Some(attempt_body) = body.take().or_else(|| replayable.then(body::empty)) else {
                break;
            };
            let mut attempt = Request::new(attempt_body);
            *attempt.method_mut() = parts.method.clone();
            *attempt.uri_mut() = uri;
            *attempt.version_mut() = Version::HTTP_11;
            // A copy only when another attempt may need the headers again.
            *attempt.headers_mut() = if replayable && order.len() > 0 {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            };

            let sent = self
                .clients
                .request(pool, worker, attempt)
                .ok_or_else(|| ForwardError::Internal("no client for the TLS profile".into()))?;
            match tokio::time::timeout(self.upstream_timeout, sent).await {
                Err(_) => {
                    warn!(upstream = %upstream, "upstream timed out");
                    self.metrics.upstream_error(UpstreamErrorKind::Timeout);
                    return Err(ForwardError::Timeout);
                }
                Ok(Ok(response)) => {
                    forward.balancer.mark_up(index);
                    return Ok(self.client_response(response, client_upgrade));
                }
                Ok(Err(e)) if e.is_connect() => {
                    if let Some(tls) = tls_failure(&e) {
                        warn!(upstream = %upstream, error = %tls, "upstream TLS handshake failed (certificate not accepted?); nothing was sent to it");
                        self.metrics.upstream_error(UpstreamErrorKind::Tls);
                    } else {
                        warn!(upstream = %upstream, error = %error_chain(&e), "upstream connect failed");
                        self.metrics.upstream_error(UpstreamErrorKind::Connect);
                    }
                    forward.balancer.mark_down(index);
                    last_error = Some(e);
                }
                Ok(Err(e)) if body_timed_out(&e) => {
                    debug!(upstream = %upstream, "request body stopped arriving; upstream request aborted");
                    return Err(ForwardError::RequestBodyTimeout);
                }
                Ok(Err(e)) if request_body_failed(&e) => {
                    debug!(upstream = %upstream, error = %error_chain(&e), "request body failed");
                    return Err(ForwardError::RequestBodyFailed(Box::new(e)));
                }
                Ok(Err(e)) => {
                    warn!(upstream = %upstream, error = %error_chain(&e), "upstream request failed");
                    self.metrics.upstream_error(UpstreamErrorKind::Protocol);
                    return Err(ForwardError::Unreachable(Box::new(e)));
                }
            }
        }
        Err(ForwardError::Unreachable(match last_error {
            Some(e) => Box::new(e),
            None => "no upstream could take the request".into(),
        }))
    }

    fn client_response(
        &self,
        response: Response<Incoming>,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    ) -> Response<Body> {
        let mut response = response;
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        match (switching, client_upgrade) {
            (true, Some(client_upgrade)) => {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
            }
            (true, None) => {
                // The client did not ask for an upgrade we pass through: refuse the switch.
                warn!("upstream switched protocols without a websocket request");
                let mut refused = Response::new(empty());
                *refused.status_mut() = StatusCode::BAD_GATEWAY;
                return refused;
            }
            (false, _) => {}
        }
        let (mut parts, body) = response.into_parts();
        headers::prepare_client_response(&mut parts.headers, switching);
        Response::from_parts(parts, body.boxed())
    }
}

fn whoami_response(
    method: &Method,
    path_and_query: &PathAndQuery,
    headers: &HeaderMap,
) -> Response<Body> {
    let mut request = Request::new(());
    *request.method_mut() = method.clone();
    *request.uri_mut() = Uri::from(path_and_query.clone());
    *request.headers_mut() = headers.clone();
    whoami::respond(&request)
}
