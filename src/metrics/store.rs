//! The state store's series (`[state]`): whether Redis is in use, its failures, the
//! throttling steps answered locally meanwhile, and the revocations learnt from it.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The state store's series, registered once with the process's [`super::Metrics`].
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    up: Gauge,
    errors: Family<[(&'static str, &'static str); 1], Counter>,
    throttle_fallbacks: Counter,
    revocations_received: Counter,
}

impl StoreMetrics {
    pub(super) fn register(registry: &mut Registry) -> StoreMetrics {
        let metrics = StoreMetrics {
            up: Gauge::default(),
            errors: Family::default(),
            throttle_fallbacks: Counter::default(),
            revocations_received: Counter::default(),
        };
        metrics.up.set(1);
        registry.register(
            "state_store_up",
            "1 while the state store is in use (memory: always), 0 while Redis is unreachable",
            metrics.up.clone(),
        );
        registry.register(
            "state_store_errors",
            "State store failures, by operation (connect, write, throttle)",
            metrics.errors.clone(),
        );
        registry.register(
            "throttle_fallbacks",
            "Throttling steps answered by local counters because the store was unreachable",
            metrics.throttle_fallbacks.clone(),
        );
        registry.register(
            "revocations_received",
            "Revocations learnt from the shared store (messages and loads)",
            metrics.revocations_received.clone(),
        );
        metrics
    }

    /// Whether the state store is in use.
    pub fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    /// Counts a state store failure (`connect`, `write`, `throttle`).
    pub fn error(&self, op: &'static str) {
        self.errors.get_or_create(&[("op", op)]).inc();
    }

    /// Counts a throttling step answered locally because the store was unreachable.
    pub fn throttle_fallback(&self) {
        self.throttle_fallbacks.inc();
    }

    /// Counts a revocation learnt from the shared store.
    pub fn revocation_seen(&self) {
        self.revocations_received.inc();
    }
}
