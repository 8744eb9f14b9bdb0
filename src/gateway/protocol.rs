//! The HTTP protocol settings of client connections, built once per config generation:
//! one hyper builder per protocol, so a connection accepted after a reload speaks with the
//! new limits and one accepted before keeps its own.

use std::future::Future;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::TokioTimer;
use tracing::Instrument;

use crate::config::ServerSettings;

/// The hyper server settings for client connections, one builder per protocol.
pub struct HttpBuilders {
    pub(crate) http1: http1::Builder,
    pub(crate) http2: http2::Builder<StreamExecutor>,
}

/// Runs each HTTP/2 stream's task on the connection's worker inside the connection's span,
/// as HTTP/1.1 requests run inside their connection's task: the stream's log lines carry
/// `conn{peer=…}` too.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamExecutor;

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, stream: F) {
        tokio::spawn(stream.in_current_span());
    }
}

impl HttpBuilders {
    /// Both builders from `[server]`: the header-read timeout and header limits for
    /// HTTP/1.1; the header-list size and the stream and reset limits for HTTP/2 (the rapid
    /// reset and CONTINUATION defences the adversarial tests exercise).
    pub fn new(settings: &ServerSettings) -> HttpBuilders {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_buf_size(settings.max_request_header_bytes)
            .max_headers(settings.max_headers);
        let mut http2 = http2::Builder::new(StreamExecutor);
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(
                u32::try_from(settings.max_request_header_bytes).unwrap_or(u32::MAX),
            )
            .max_concurrent_streams(Some(256))
            .max_pending_accept_reset_streams(Some(64))
            .max_local_error_reset_streams(Some(256));
        HttpBuilders { http1, http2 }
    }
}
