//! The password checker's queue: at most `workers` checks run at once, and at most
//! `workers - 1` of them for one client (when there are two or more workers); at most
//! `max_waiting` wait (at most `max_waiting_per_client` of them from one client); a free
//! worker goes to the client that was served least recently.
//!
//! That is what keeps one client's flood from delaying everyone else's sign-in: a flood
//! cannot take every worker, so a check from another client finds one free, or (when several
//! clients flood) waits for one worker to finish, never behind a flood's queue.
//! The bounds keep the wait, and the memory held by waiting requests, finite: beyond them a
//! check is refused at once instead of queued.
//!
//! Ownership: the queue's state sits behind one `Arc<Mutex<_>>` shared by the queue and
//! every [`Permit`]. A waiting check owns the receiving half of a oneshot; the line holds the
//! sender. Dropping a [`Permit`] (the check finished, or its task was cancelled) frees its
//! worker and hands it to the next waiter at once; a waiter that went away (client
//! disconnect) is skipped and forgotten. Nothing here is async but the wait itself.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// What identifies a client in the queue (a throttle key, in the gateway).
pub(crate) trait ClientKey: Eq + Hash + Clone {}

impl<K: Eq + Hash + Clone> ClientKey for K {}

/// Why a check was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueFull {
    /// This client already has `max_waiting_per_client` checks waiting.
    Client,
    /// `max_waiting` checks are waiting.
    Everyone,
}

/// A fair, bounded queue of checks, keyed by client.
#[derive(Debug)]
pub(crate) struct FairQueue<K: ClientKey> {
    state: Arc<Mutex<State<K>>>,
}

impl<K: ClientKey> Clone for FairQueue<K> {
    fn clone(&self) -> Self {
        Self {
            state: Arc::clone(&self.state),
        }
    }
}

#[derive(Debug)]
struct State<K: ClientKey> {
    workers: usize,
    /// Most checks of one client running at once: `workers - 1`, at least 1.
    max_running_per_client: usize,
    max_waiting: usize,
    max_waiting_per_client: usize,
    running: usize,
    waiting: usize,
    /// Grants so far: a line's `last_grant` is its place in that sequence.
    grants: u64,
    lines: HashMap<K, Line<K>>,
}

/// One client's checks: how many run, when it was last served, who waits.
#[derive(Debug)]
struct Line<K: ClientKey> {
    running: usize,
    last_grant: u64,
    waiters: VecDeque<oneshot::Sender<Permit<K>>>,
}

/// A place in the queue: a worker now, or a wait for one.
#[derive(Debug)]
pub(crate) enum Ticket<K: ClientKey> {
    /// A worker was free.
    Ready(Permit<K>),
    /// Waiting; the permit arrives when a worker is handed over.
    Waiting(oneshot::Receiver<Permit<K>>),
}

impl<K: ClientKey> Ticket<K> {
    /// Waits for the worker; `None` if the queue went away meanwhile.
    pub(crate) async fn wait(self) -> Option<Permit<K>> {
        match self {
            Ticket::Ready(permit) => Some(permit),
            Ticket::Waiting(receiver) => receiver.await.ok(),
        }
    }
}

/// One running check's worker; dropping it hands the worker to the next waiter.
#[derive(Debug)]
pub(crate) struct Permit<K: ClientKey> {
    state: Arc<Mutex<State<K>>>,
    key: K,
    /// False for a permit that never reached its waiter (the accounting was undone).
    armed: bool,
}

impl<K: ClientKey> FairQueue<K> {
    /// A queue of `workers` (at least 1) running checks and the given waiting bounds.
    pub(crate) fn new(workers: usize, max_waiting: usize, max_waiting_per_client: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                workers: workers.max(1),
                max_running_per_client: workers.saturating_sub(1).max(1),
                max_waiting,
                max_waiting_per_client,
                running: 0,
                waiting: 0,
                grants: 0,
                lines: HashMap::new(),
            })),
        }
    }

    /// Takes a place for one check by `key`'s client.
    ///
    /// # Errors
    /// [`QueueFull`] when the check would wait beyond a bound.
    pub(crate) fn acquire(&self, key: K) -> Result<Ticket<K>, QueueFull> {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let line_running = state.lines.get(&key).map_or(0, |line| line.running);
        if state.running < state.workers && line_running < state.max_running_per_client {
            state.grants += 1;
            let grant = state.grants;
            state.running += 1;
            let line = state.lines.entry(key.clone()).or_insert_with(Line::new);
            line.running += 1;
            line.last_grant = grant;
            return Ok(Ticket::Ready(Permit {
                state: Arc::clone(&self.state),
                key,
                armed: true,
            }));
        }
        if state.waiting >= state.max_waiting {
            state.forget_gone_waiters();
            if state.waiting >= state.max_waiting {
                return Err(QueueFull::Everyone);
            }
        }
        let per_client = state.max_waiting_per_client;
        let line = state.lines.entry(key).or_insert_with(Line::new);
        let before = line.waiters.len();
        line.waiters.retain(|waiter| !waiter.is_closed());
        let gone = before - line.waiters.len();
        if line.waiters.len() >= per_client {
            state.waiting -= gone;
            return Err(QueueFull::Client);
        }
        let (sender, receiver) = oneshot::channel();
        line.waiters.push_back(sender);
        state.waiting = state.waiting - gone + 1;
        Ok(Ticket::Waiting(receiver))
    }

    /// Checks running now.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        lock(&self.state).running
    }

    /// Checks waiting now (waiters that went away but are not yet noticed included).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.state).waiting
    }
}

impl<K: ClientKey> Line<K> {
    fn new() -> Self {
        Self {
            running: 0,
            last_grant: 0,
            waiters: VecDeque::new(),
        }
    }
}

impl<K: ClientKey> State<K> {
    fn forget_gone_waiters(&mut self) {
        let mut gone = 0;
        for line in self.lines.values_mut() {
            let before = line.waiters.len();
            line.waiters.retain(|waiter| !waiter.is_closed());
            gone += before - line.waiters.len();
        }
        self.waiting -= gone;
        self.lines
            .retain(|_, line| line.running > 0 || !line.waiters.is_empty());
    }

    /// Hands free workers to waiters, the least recently served client first (among the
    /// clients below their own bound).
    fn dispatch(&mut self, shared: &Arc<Mutex<State<K>>>) {
        while self.running < self.workers {
            let cap = self.max_running_per_client;
            let next = self
                .lines
                .iter()
                .filter(|(_, line)| !line.waiters.is_empty() && line.running < cap)
                .min_by_key(|(_, line)| line.last_grant)
                .map(|(key, _)| key.clone());
            let Some(key) = next else {
                break;
            };
            self.grants += 1;
            let grant = self.grants;
            let Some(line) = self.lines.get_mut(&key) else {
                break;
            };
            let Some(waiter) = line.waiters.pop_front() else {
                continue;
            };
            self.waiting -= 1;
            line.last_grant = grant;
            line.running += 1;
            self.running += 1;
            let permit = Permit {
                state: Arc::clone(shared),
                key: key.clone(),
                armed: true,
            };
            if let Err(mut unsent) = waiter.send(permit) {
                // The waiter went away: undo, without the permit's drop taking the lock again.
                unsent.armed = false;
                self.running -= 1;
                line.running -= 1;
            }
            if line.running == 0 && line.waiters.is_empty() {
                self.lines.remove(&key);
            }
        }
    }
}

impl<K: ClientKey> Drop for Permit<K> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = lock(&self.state);
        state.running = state.running.saturating_sub(1);
        if let Some(line) = state.lines.get_mut(&self.key) {
            line.running = line.running.saturating_sub(1);
            if line.running == 0 && line.waiters.is_empty() {
                state.lines.remove(&self.key);
            }
        }
        state.dispatch(&self.state);
    }
}

/// The state stays consistent across a panic (every update is a few integer steps), so a
/// poisoned lock is used as it is.
fn lock<K: ClientKey>(state: &Mutex<State<K>>) -> MutexGuard<'_, State<K>> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::{FairQueue, QueueFull, Ticket};

    fn ready<K: super::ClientKey>(ticket: Ticket<K>) -> super::Permit<K> {
        match ticket {
            Ticket::Ready(permit) => permit,
            Ticket::Waiting(_) => panic!("expected a free worker"),
        }
    }

    fn waiting<K: super::ClientKey>(
        ticket: Ticket<K>,
    ) -> tokio::sync::oneshot::Receiver<super::Permit<K>> {
        match ticket {
            Ticket::Waiting(receiver) => receiver,
            Ticket::Ready(_) => panic!("expected to wait"),
        }
    }

    #[test]
    fn a_client_with_nothing_running_goes_before_a_flood() {
        let queue = FairQueue::new(1, 100, 100);
        let first = ready(queue.acquire("flood").expect("free"));
        let mut flood: Vec<_> = (0..4)
            .map(|_| waiting(queue.acquire("flood").expect("queued")))
            .collect();
        let mut other = waiting(queue.acquire("other").expect("queued"));
        drop(first);
        let permit = other.try_recv().expect("the other client is served next");
        assert!(flood.iter_mut().all(|r| r.try_recv().is_err()));
        drop(permit);
        let _flood = flood[0].try_recv().expect("then the flood, in order");
        assert!(flood[1].try_recv().is_err());
    }

    #[test]
    fn clients_take_turns() {
        let queue = FairQueue::new(1, 100, 100);
        let running = ready(queue.acquire("a").expect("free"));
        let mut a1 = waiting(queue.acquire("a").expect("queued"));
        let mut a2 = waiting(queue.acquire("a").expect("queued"));
        let mut b1 = waiting(queue.acquire("b").expect("queued"));
        let mut b2 = waiting(queue.acquire("b").expect("queued"));
        drop(running);
        let p = b1.try_recv().expect("b has not been served");
        drop(p);
        let p = a1.try_recv().expect("a's turn");
        drop(p);
        let p = b2.try_recv().expect("b's turn");
        drop(p);
        let _last = a2.try_recv().expect("a's turn again");
        assert_eq!(queue.running(), 1);
    }

    #[test]
    fn one_client_cannot_take_every_worker() {
        let queue = FairQueue::new(2, 100, 100);
        let _a = ready(queue.acquire("a").expect("free"));
        let mut a2 = waiting(queue.acquire("a").expect("a waits: one worker stays free"));
        let b = ready(
            queue
                .acquire("b")
                .expect("another client finds the free worker"),
        );
        assert!(a2.try_recv().is_err());
        drop(b);
        assert!(a2.try_recv().is_err(), "a still holds its one worker");
        let one = FairQueue::new(1, 100, 100);
        let _only = ready(
            one.acquire("a")
                .expect("with one worker, a client may take it"),
        );
    }

    #[test]
    fn waiting_is_bounded_per_client_and_overall() {
        let queue = FairQueue::new(1, 3, 2);
        let _running = ready(queue.acquire("a").expect("free"));
        let _a1 = waiting(queue.acquire("a").expect("queued"));
        let _a2 = waiting(queue.acquire("a").expect("queued"));
        assert_eq!(queue.acquire("a").err(), Some(QueueFull::Client));
        let _b1 = waiting(queue.acquire("b").expect("queued"));
        assert_eq!(queue.acquire("c").err(), Some(QueueFull::Everyone));
        assert_eq!(queue.waiting(), 3);
    }

    #[test]
    fn a_waiter_that_went_away_is_skipped_and_frees_its_place() {
        let queue = FairQueue::new(1, 1, 1);
        let running = ready(queue.acquire("a").expect("free"));
        drop(waiting(queue.acquire("b").expect("queued")));
        // The place of the waiter that went away is reused.
        let mut c = waiting(queue.acquire("c").expect("the gone waiter is forgotten"));
        drop(running);
        let permit = c.try_recv().expect("c is served; b is skipped");
        assert_eq!(queue.running(), 1);
        assert_eq!(queue.waiting(), 0);
        drop(permit);
        assert_eq!(queue.running(), 0);
        assert!(ready(queue.acquire("d").expect("free")).armed);
    }

    #[test]
    fn a_permit_whose_waiter_left_after_it_was_sent_is_given_back() {
        let queue = FairQueue::new(1, 10, 10);
        let running = ready(queue.acquire("a").expect("free"));
        let b = waiting(queue.acquire("b").expect("queued"));
        drop(running);
        assert_eq!(queue.running(), 1, "b holds the worker, in its channel");
        drop(b);
        assert_eq!(queue.running(), 0);
    }
}
