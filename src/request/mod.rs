//! The HTTP edge: where a request becomes an answer. Every domain below returns its own
//! typed error and knows nothing of statuses; this layer runs the pipeline in DESIGN.md's
//! order, turns each domain error into a [`RequestError`](error::RequestError) (the one place one is built), and
//! renders it as JSON, an HTML page or a login redirect.
//!
//! | module | concept |
//! |---|---|
//! | `pipeline` | [`Pipeline::handle`]: the steps, one function each, one numbering |
//! | `target` | step 1: method, host and path of a request, normalized once |
//! | `portal` | step 2: the gateway's own endpoints under `auth.prefix` |
//! | `record` | the access event and the route counters, filled as the request goes |
//! | `error` | `RequestError` and its exhaustive status and code; `From` the domain errors |
//! | `render` | a `RequestError` as JSON, HTML or a redirect to the login page |
//! | `original_url` | which request a forward-auth proxy asks about |
//!
//! [`Pipeline`] holds what one config generation needs to answer requests; the gateway's
//! snapshot owns one and the server calls [`Pipeline::handle`] for each request.

mod error;
mod original_url;
mod pipeline;
mod portal;
mod record;
mod render;
mod target;

use std::sync::Arc;

use http::HeaderValue;

pub use target::{ConnInfo, fuzz_request_target};

use crate::auth::Auth;
use crate::auth::access::RouteRule;
use crate::config::{Access, Cidr, ForwardAuthSettings};
use crate::metrics::{Metrics, RouteMetrics};
use crate::router::Router;
use crate::upstream::{Balancer, Proxy};

/// Everything one config generation needs to answer requests: routes, the upstream client,
/// authentication, and the settings the steps read. Built by the gateway from a validated
/// config; immutable afterwards.
#[derive(Debug)]
pub struct Pipeline {
    /// Host + longest prefix → route.
    pub(crate) router: Router<RouteTarget>,
    /// The pooled upstream clients.
    pub(crate) upstream: Proxy,
    /// Keys, users and state, when `[auth]` is configured.
    pub(crate) auth: Option<Auth>,
    /// How `/.auth/verify` reads the original URL and treats unrouted ones.
    pub(crate) forward_auth: ForwardAuthSettings,
    /// `Strict-Transport-Security` for every answer that has none.
    pub(crate) hsts: Option<HeaderValue>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub(crate) trusted_proxies: Vec<Cidr>,
    /// The process's metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// Requests answered by the gateway's own endpoints.
    pub(crate) endpoint_metrics: RouteMetrics,
    /// Requests that matched no route (or were refused before routing).
    pub(crate) unrouted_metrics: RouteMetrics,
}

/// What a route resolves to.
#[derive(Debug)]
pub struct RouteTarget {
    /// `host path`, for logs and metrics.
    pub(crate) name: String,
    /// The route's upstreams.
    pub(crate) balancer: Balancer,
    /// Who may pass.
    pub(crate) access: Access,
    /// The client networks it admits (`None`: any).
    pub(crate) networks: Option<Vec<Cidr>>,
    /// The route's counters.
    pub(crate) metrics: RouteMetrics,
}

impl RouteTarget {
    /// The route's access rule and networks, for the access decision.
    pub(crate) fn rule(&self) -> RouteRule<'_> {
        RouteRule {
            access: &self.access,
            networks: self.networks.as_deref(),
        }
    }
}

impl Pipeline {
    /// Whether `ip` is a trusted proxy (`[server] trusted_proxies`).
    pub(crate) fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|cidr| cidr.contains(ip))
    }
}
