//! Round robin over a route's upstreams, skipping the ones that just failed.
//!
//! Health is passive: when connecting to an upstream fails, it is marked down for
//! [`DOWN_FOR`] and the rotation skips it until then. When every upstream is down, the
//! rotation is used as if all were up — a request that might succeed beats a certain 502.
//! State is a few atomics per upstream; nothing is locked on the request path.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::config::Upstream;

/// How long an upstream that refused a connection is skipped.
pub const DOWN_FOR: Duration = Duration::from_secs(5);

/// A route's upstreams with their rotation and health, and the TLS profile (of the
/// proxy's clients) its `https` upstreams are reached with.
#[derive(Debug)]
pub struct Balancer {
    upstreams: Vec<Upstream>,
    tls_profile: Option<usize>,
    /// Milliseconds since `epoch` until which each upstream is considered down.
    down_until_ms: Vec<AtomicU64>,
    next: AtomicUsize,
    epoch: Instant,
}

impl Balancer {
    /// A balancer over `upstreams` (at least one; config validation guarantees it), whose
    /// `https` ones use the TLS profile `tls_profile`.
    pub(super) fn new(upstreams: Vec<Upstream>, tls_profile: Option<usize>) -> Balancer {
        let down_until_ms = upstreams.iter().map(|_| AtomicU64::new(0)).collect();
        Balancer {
            upstreams,
            tls_profile,
            down_until_ms,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// The order in which to try upstreams for one request: healthy ones in rotation order
    /// first, then the ones marked down (so a request is tried everywhere before failing).
    /// Decided once, up front: marking an upstream down while trying it must not make it
    /// come round a second time.
    pub fn pick_order(&self) -> impl ExactSizeIterator<Item = (usize, &Upstream)> {
        let count = self.upstreams.len();
        let start = if count > 1 {
            self.next.fetch_add(1, Ordering::Relaxed) % count
        } else {
            0
        };
        let now = self.now_ms();
        let rotation = (0..count).map(|i| (start + i) % count);
        let is_down = |i: &usize| self.down_until_ms[*i].load(Ordering::Relaxed) > now;
        let mut order: Vec<usize> = rotation.clone().filter(|i| !is_down(i)).collect();
        order.extend(rotation.filter(is_down));
        order.into_iter().map(|i| (i, &self.upstreams[i]))
    }

    /// The TLS profile of the route's `https` upstreams.
    pub(super) fn tls_profile(&self) -> Option<usize> {
        self.tls_profile
    }

    /// Records that connecting to upstream `index` failed.
    pub fn mark_down(&self, index: usize) {
        let until = self.now_ms() + DOWN_FOR.as_millis() as u64;
        if let Some(slot) = self.down_until_ms.get(index) {
            slot.store(until, Ordering::Relaxed);
        }
    }

    /// Records that upstream `index` answered.
    pub fn mark_up(&self, index: usize) {
        // Read before writing: the common case (already up) then stays a shared cache line.
        if let Some(slot) = self.down_until_ms.get(index)
            && slot.load(Ordering::Relaxed) != 0
        {
            slot.store(0, Ordering::Relaxed);
        }
    }

    fn now_ms(&self) -> u64 {
        // Offset by 1 so that "0" always means "never marked down".
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balancer(n: usize) -> Balancer {
        Balancer::new(
            (0..n)
                .map(|i| Upstream::parse(&format!("http://127.0.0.1:{}", 9000 + i)).expect("url"))
                .collect(),
            None,
        )
    }

    fn first(b: &Balancer) -> usize {
        b.pick_order()
            .next()
            .map(|(i, _)| i)
            .expect("one upstream at least")
    }

    #[test]
    fn rotation_visits_every_upstream_in_turn() {
        let b = balancer(3);
        let picks: Vec<usize> = (0..6).map(|_| first(&b)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn down_upstream_is_skipped_then_tried_last() {
        let b = balancer(3);
        b.mark_down(1);
        for _ in 0..6 {
            let order: Vec<usize> = b.pick_order().map(|(i, _)| i).collect();
            assert_eq!(order.len(), 3);
            assert_eq!(order[2], 1, "down upstream last: {order:?}");
        }
        b.mark_up(1);
        assert!((0..3).any(|_| first(&b) == 1));
    }

    #[test]
    fn marking_down_during_a_request_does_not_repeat_the_upstream() {
        for n in [1, 3] {
            let b = balancer(n);
            let mut tried = Vec::new();
            for (i, _) in b.pick_order() {
                b.mark_down(i);
                tried.push(i);
            }
            tried.sort_unstable();
            assert_eq!(
                tried,
                (0..n).collect::<Vec<_>>(),
                "each upstream exactly once"
            );
        }
    }

    #[test]
    fn single_upstream_is_always_picked_even_when_down() {
        let b = balancer(1);
        b.mark_down(0);
        assert_eq!(first(&b), 0);
    }
}
