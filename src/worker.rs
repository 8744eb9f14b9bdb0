//! Which server worker the running thread is: the one piece of per-thread state, kept
//! here so that code below the server (the upstream pools) can index its per-worker state
//! without knowing how workers are started.

use std::cell::Cell;

thread_local! {
    /// The index of the worker whose thread this is; 0 off the worker threads.
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running the caller (0 for worker 0 and off the worker threads),
/// for state kept per worker such as the upstream connection pools.
pub fn current_worker() -> usize {
    WORKER.with(Cell::get)
}

/// Marks the calling thread as worker `index`; the server calls it once per worker thread
/// before the worker's runtime starts.
pub(crate) fn set_current(index: usize) {
    WORKER.with(|worker| worker.set(index));
}
