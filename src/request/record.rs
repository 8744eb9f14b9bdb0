//! Step 9 of the pipeline: one access event per request, and the route counters.
//!
//! The steps fill an [`AccessRecord`] as far as the request gets (its route, user and
//! upstream); the event is emitted once, when the response head is ready, carrying every
//! field. (Recording the fields on a request span one by one made the log formatter
//! re-render the span at each step; the request id, which every other event of the
//! request shows too, comes from [`crate::log_format::in_request`].)

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use tracing::{field, info};

use super::target::Target;
use crate::auth::token::VerifiedToken;
use crate::config::Upstream;
use crate::metrics::{Metrics, RouteMetrics};

/// What the access event reports and which route's counters count the response.
pub(super) struct AccessRecord<'s> {
    /// The request's method.
    method: Method,
    /// The target, once step 1 accepted it.
    pub(super) target: Option<Target>,
    /// The route's metrics, the endpoints', or (until routed) "no route".
    pub(super) metrics: &'s RouteMetrics,
    /// The route's name, or `auth` for the gateway's own endpoints.
    pub(super) route: Option<&'s str>,
    /// The authenticated user.
    pub(super) user: Option<Arc<VerifiedToken>>,
    /// The upstream tried last.
    pub(super) upstream: Option<&'s Upstream>,
}

impl<'s> AccessRecord<'s> {
    /// A record of a request that has not been routed yet.
    pub(super) fn new(method: Method, metrics: &'s RouteMetrics) -> Self {
        Self {
            method,
            target: None,
            metrics,
            route: None,
            user: None,
            upstream: None,
        }
    }

    /// Counts the response and emits the access event (in the request's log scope,
    /// [`crate::log_format::within_request`]).
    pub(super) fn emit(&self, metrics: &Metrics, status: StatusCode, elapsed: Duration) {
        let status = status.as_u16();
        self.metrics.record(status);
        metrics.observe_duration(elapsed.as_secs_f64());
        // Whole microseconds: `12.345`, not the binary fraction's `12.345000000000001`.
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        info!(
            method = %self.method,
            host = self.target.as_ref().map(|t| t.host.as_str()),
            path = self.target.as_ref().map(Target::path),
            route = self.route,
            user = self.user.as_ref().map(|token| token.identity.user.as_str()),
            issuer = self.user.as_ref().and_then(|token| token.issuer.as_deref()),
            amr = self
                .user
                .as_ref()
                .filter(|token| !token.amr.is_empty())
                .map(|token| field::display(Amr(&token.amr))),
            idp = self
                .user
                .as_ref()
                .and_then(|token| token.session.as_ref())
                .and_then(|session| session.idp.as_deref()),
            upstream = self.upstream.map(field::display),
            status,
            duration_ms,
            "access"
        );
    }
}

/// A token's `amr` for the access log, space-separated (`pwd otp`), written without
/// allocating.
struct Amr<'a>(&'a [String]);

impl std::fmt::Display for Amr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, method) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(method)?;
        }
        Ok(())
    }
}
