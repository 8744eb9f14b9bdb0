//! The request body on its way to the upstream, under `body_read_timeout`: a client that
//! stops sending mid-way (a chunked body without its last chunk, a `Content-Length` never
//! reached) fails the body, which aborts the upstream request, and the client gets 408
//! instead of waiting for `upstream_timeout` to blame the upstream with a 504.
//!
//! The deadline is for progress, not for the whole body: it restarts with every frame, so
//! a large upload at any steady speed is never cut.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// Why a request body sent upstream failed: the client's own body error, or
/// [`BodyReadTimeout`].
pub(super) type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of upstream requests.
pub(super) type UpstreamBody = BoxBody<Bytes, BodyError>;

/// The request body made no progress for `body_read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("request body made no progress within body_read_timeout")]
pub(super) struct BodyReadTimeout;

pin_project_lite::pin_project! {
    /// The client's body, failing with [`BodyReadTimeout`] when no frame arrives for
    /// `timeout`.
    pub(super) struct TimedBody {
        #[pin]
        inner: Incoming,
        timeout: Duration,
        #[pin]
        deadline: Sleep,
    }
}

impl TimedBody {
    /// `inner` under `timeout`; the first frame is due `timeout` from now.
    pub(super) fn new(inner: Incoming, timeout: Duration) -> TimedBody {
        TimedBody {
            inner,
            timeout,
            deadline: tokio::time::sleep(timeout),
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.deadline.reset(Instant::now() + *this.timeout);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimeout)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An empty upstream request body (a replayed bodiless request).
pub(super) fn empty() -> UpstreamBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// The client's body for the upstream: under the read deadline unless it is already
/// complete (nothing left to wait for).
pub(super) fn upstream_body(body: Incoming, timeout: Duration) -> UpstreamBody {
    if body.is_end_stream() {
        return empty();
    }
    TimedBody::new(body, timeout).boxed()
}
