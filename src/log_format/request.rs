//! The request a log line belongs to: `request{id=7}` in the text line, the innermost span
//! of the JSON line.
//!
//! It used to be a `tracing` span per request, which cost about 3,500 instructions a
//! request, a third of the access log's price: the registry allocates and frees a slot,
//! the fmt layer formats the span's fields into an allocated string and stores it in the
//! slot's extensions, and `EnvFilter` and the registry do their bookkeeping each time the
//! request's future is polled. The request id needs none of that: [`in_request`] wraps the
//! request's future and puts its id in a thread-local for the duration of each poll (the
//! workers run one future at a time per thread), [`within_request`] does the same for a
//! closure, and the formatters write it after the spans of the registry, exactly as they
//! wrote the span. A request never opens a span of its own, so the order is the one the
//! span had.
//!
//! What changes for `RUST_LOG`: `request` is no longer a span, so a directive that names
//! it (`[request]=debug`) matches nothing; levels and targets work as before, and so does
//! the connection span (`conn`).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

thread_local! {
    /// The id of the request whose code runs on this thread, if any.
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The id of the request whose code is running, for the formatters.
pub(super) fn current() -> Option<u64> {
    CURRENT.get()
}

/// Puts back the id that was current before, also when the code in between panics.
struct Restore(Option<u64>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

fn enter(id: u64) -> Restore {
    Restore(CURRENT.replace(Some(id)))
}

/// Runs `f` as part of request `id`: its log lines carry `request{id=…}`.
pub fn within_request<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let _restore = enter(id);
    f()
}

/// `future`, whose log lines carry `request{id=…}` wherever it is polled.
pub fn in_request<F: Future>(id: u64, future: F) -> InRequest<F> {
    InRequest { id, future }
}

pin_project! {
    /// The future of [`in_request`].
    pub struct InRequest<F> {
        id: u64,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InRequest<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _restore = enter(*this.id);
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_current_only_inside_and_nesting_restores_the_outer_one() {
        assert_eq!(current(), None);
        within_request(1, || {
            assert_eq!(current(), Some(1));
            within_request(2, || assert_eq!(current(), Some(2)));
            assert_eq!(current(), Some(1));
        });
        assert_eq!(current(), None);
    }

    #[test]
    fn a_panic_inside_does_not_leave_the_id_behind() {
        let caught = std::panic::catch_unwind(|| within_request(3, || panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(current(), None);
    }

    #[test]
    fn a_future_carries_its_id_into_every_poll_and_not_after_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let seen = in_request(4, async {
                let first = current();
                tokio::task::yield_now().await;
                (first, current())
            })
            .await;
            assert_eq!(seen, (Some(4), Some(4)));
            assert_eq!(current(), None);
        });
    }
}
