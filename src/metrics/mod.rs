//! Counters and histograms, exposed in the Prometheus text format on the admin listener.
//!
//! One [`Metrics`] lives for the whole process (it survives config reloads, so counters
//! never reset while the process runs). The `prometheus-client` crate owns the exposition
//! format. Hot-path metrics are cheap: per-route request counters are created once when a
//! config generation is built ([`Metrics::route`]) and then only incremented; labels are
//! never built per request. Label values come from config (route names) or from fixed sets
//! (status classes, reasons), so series cannot grow without bound.
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `gateway_requests_total` | `route`, `class` | requests answered, by status class (`2xx`…) |
//! | `gateway_request_duration_seconds` | | time to the response head |
//! | `gateway_upstream_errors_total` | `kind` | `connect`, `tls`, `timeout`, `protocol` |
//! | `gateway_auth_total` | `outcome` | `valid` or the rejection reason (`expired`, `bad_signature`, `revoked`, …) |
//! | `gateway_logins_total` | `result` | `success`, `failure`, `throttled` (429: locked out, or the key's budget taken by attempts in flight), `busy` (503: the password checker's queue is full), `revocations_full` (503: the revocation list is full, so no new session starts) |
//! | `gateway_password_checks_total` | | password hashes run (at most `max_failures` per throttle key and window) |
//! | `gateway_open_connections` | | client connections open now |
//! | `gateway_tls_handshake_failures_total` | | failed or timed-out handshakes |
//! | `gateway_token_cache_total` | `result` | `hit` or `miss` of the verified-token cache |
//! | `gateway_config_reloads_total` | `result` | `success` or `failure` |
//! | `gateway_state_store_up` | | 1 while the state store is in use (memory: always), 0 while Redis is unreachable |
//! | `gateway_state_store_errors_total` | `op` | Redis failures: `connect`, `write`, `throttle` |
//! | `gateway_throttle_fallbacks_total` | | throttling steps answered by local counters because Redis was unreachable |
//! | `gateway_revocations_received_total` | | revocations learnt from Redis (messages and loads) |

mod store;

use std::fmt::Write;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use store::StoreMetrics;

/// One label with a fixed value set.
type Kind = [(&'static str, &'static str); 1];
/// A route and a status class.
type RouteClass = [(&'static str, String); 2];
/// An identity provider's name (and, for logins, the result).
type ProviderLabels = Vec<(&'static str, String)>;

/// Status classes, indexed by `status / 100 - 1`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Every metric the gateway records.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteClass, Counter>,
    duration: Histogram,
    upstream_errors: Family<Kind, Counter>,
    auth: Family<Kind, Counter>,
    logins: Family<Kind, Counter>,
    password_checks: Counter,
    open_connections: Gauge,
    handshake_failures: Counter,
    reloads: Family<Kind, Counter>,
    oidc_logins: Family<ProviderLabels, Counter>,
    oidc_up: Family<ProviderLabels, Gauge>,
    store: StoreMetrics,
    /// The series every authenticated request touches, resolved once: a `Family` lookup
    /// takes a read lock and hashes the label set.
    auth_valid: Counter,
    cache_hit: Counter,
    cache_miss: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A route's request counters, one per status class, created once per config generation.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    by_class: [Counter; 5],
}

impl RouteMetrics {
    /// Counts one answered request.
    pub fn record(&self, status: u16) {
        let index = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[index].inc();
    }
}

/// Why an upstream attempt failed.
#[derive(Debug, Clone, Copy)]
pub enum UpstreamErrorKind {
    /// The TCP connection could not be made.
    Connect,
    /// The TLS handshake with an `https` upstream failed (its certificate was refused).
    Tls,
    /// No response head within `upstream_timeout`.
    Timeout,
    /// The connection broke or the response was malformed.
    Protocol,
}

/// A login attempt's result.
#[derive(Debug, Clone, Copy)]
pub enum LoginResult {
    /// Credentials accepted.
    Success,
    /// Wrong user name or password.
    Failure,
    /// Refused by throttling before checking (429).
    Throttled,
    /// Refused because the password checker's queue is full (503).
    Busy,
    /// Refused because the revocation list is full (503): no new session could be revoked.
    RevocationsFull,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every series.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gateway");
        let requests = Family::<RouteClass, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and status class",
            requests.clone(),
        );
        let duration = Histogram::new(exponential_buckets(0.000_25, 2.5, 14));
        registry.register(
            "request_duration_seconds",
            "Time from the request head to the response head",
            duration.clone(),
        );
        let upstream_errors = Family::<Kind, Counter>::default();
        registry.register(
            "upstream_errors",
            "Failed upstream attempts, by kind",
            upstream_errors.clone(),
        );
        let auth = Family::<Kind, Counter>::default();
        registry.register("auth", "Token checks, by outcome", auth.clone());
        let logins = Family::<Kind, Counter>::default();
        registry.register("logins", "Login attempts, by result", logins.clone());
        let password_checks = Counter::default();
        registry.register(
            "password_checks",
            "Password hashes run for logins",
            password_checks.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Client connections open now",
            open_connections.clone(),
        );
        let handshake_failures = Counter::default();
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out",
            handshake_failures.clone(),
        );
        let token_cache = Family::<Kind, Counter>::default();
        registry.register(
            "token_cache",
            "Verified-token cache lookups, by result",
            token_cache.clone(),
        );
        let reloads = Family::<Kind, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads, by result",
            reloads.clone(),
        );
        let oidc_logins = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "oidc_logins",
            "OpenID Connect logins finished at the callback, by provider and result",
            oidc_logins.clone(),
        );
        let oidc_up = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "oidc_provider_up",
            "Whether the OpenID Connect provider's discovery has succeeded (1) or not (0)",
            oidc_up.clone(),
        );
        let store = StoreMetrics::register(&mut registry);
        let auth_valid = auth.get_or_create(&[("outcome", "valid")]).clone();
        let cache_hit = token_cache.get_or_create(&[("result", "hit")]).clone();
        let cache_miss = token_cache.get_or_create(&[("result", "miss")]).clone();
        Metrics {
            auth_valid,
            cache_hit,
            cache_miss,
            registry,
            requests,
            duration,
            upstream_errors,
            auth,
            logins,
            password_checks,
            open_connections,
            handshake_failures,
            reloads,
            oidc_logins,
            oidc_up,
            store,
        }
    }

    /// The state store's series.
    pub fn store(&self) -> &StoreMetrics {
        &self.store
    }

    /// The counters of one route (`name` is the route's `host path`).
    pub fn route(&self, name: &str) -> RouteMetrics {
        RouteMetrics {
            by_class: CLASSES.map(|class| {
                self.requests
                    .get_or_create(&[("route", name.to_owned()), ("class", class.to_owned())])
                    .clone()
            }),
        }
    }

    /// Records how long a request took to its response head.
    pub fn observe_duration(&self, seconds: f64) {
        self.duration.observe(seconds);
    }

    /// Counts a failed upstream attempt.
    pub fn upstream_error(&self, kind: UpstreamErrorKind) {
        let kind = match kind {
            UpstreamErrorKind::Connect => "connect",
            UpstreamErrorKind::Tls => "tls",
            UpstreamErrorKind::Timeout => "timeout",
            UpstreamErrorKind::Protocol => "protocol",
        };
        self.upstream_errors.get_or_create(&[("kind", kind)]).inc();
    }

    /// Counts a token check: `valid` or a rejection reason.
    pub fn auth_outcome(&self, outcome: &'static str) {
        if outcome == "valid" {
            self.auth_valid.inc();
        } else {
            self.auth.get_or_create(&[("outcome", outcome)]).inc();
        }
    }

    /// Counts a finished OpenID Connect login at `provider`.
    pub fn oidc_login(&self, provider: &str, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.oidc_logins
            .get_or_create(&vec![
                ("provider", provider.to_owned()),
                ("result", result.to_owned()),
            ])
            .inc();
    }

    /// Sets whether `provider`'s discovery has succeeded (1) or not (0).
    pub fn oidc_provider_up(&self, provider: &str, up: bool) {
        self.oidc_up
            .get_or_create(&vec![("provider", provider.to_owned())])
            .set(i64::from(up));
    }

    /// Counts a login attempt.
    pub fn login(&self, result: LoginResult) {
        let result = match result {
            LoginResult::Success => "success",
            LoginResult::Failure => "failure",
            LoginResult::Throttled => "throttled",
            LoginResult::Busy => "busy",
            LoginResult::RevocationsFull => "revocations_full",
        };
        self.logins.get_or_create(&[("result", result)]).inc();
    }

    /// Counts a password hash run for a login.
    pub fn password_checked(&self) {
        self.password_checks.inc();
    }

    /// Counts a verified-token cache lookup.
    pub fn token_cache(&self, hit: bool) {
        if hit {
            self.cache_hit.inc();
        } else {
            self.cache_miss.inc();
        }
    }

    /// Counts a config reload.
    pub fn reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&[("result", result)]).inc();
    }

    /// Counts a failed TLS handshake.
    pub fn handshake_failed(&self) {
        self.handshake_failures.inc();
    }

    /// Marks a client connection open until the guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.open_connections.inc();
        OpenConnection(self.open_connections.clone())
    }

    /// The Prometheus text exposition of every series.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(4096);
        if encode(&mut text, &self.registry).is_err() {
            // Writing to a String cannot fail; keep the scrape well-formed regardless.
            text.clear();
            let _ = writeln!(text, "# EOF");
        }
        text
    }
}

/// Decrements the open-connection gauge when dropped.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests;
