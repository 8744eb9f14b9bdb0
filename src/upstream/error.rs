//! Why forwarding failed ([`ForwardError`]), told apart by who caused it: the upstream (it
//! refused, broke or timed out) or the client (its body broke or stopped arriving), which
//! hyper reports the same way unless the error's causes are read.

use super::body::BodyReadTimeout;

/// A boxed error cause.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The upstream refused the connection or broke it before answering.
    #[error("upstream unreachable")]
    Unreachable(#[source] Cause),
    /// The upstream did not send its response head within `upstream_timeout`.
    #[error("upstream timed out")]
    Timeout,
    /// The request body broke while it was streamed to the upstream (a malformed chunk, a
    /// client that stopped sending); the upstream is not at fault.
    #[error("request body failed")]
    RequestBodyFailed(#[source] Cause),
    /// The request body stopped arriving mid-way for `body_read_timeout`; the upstream
    /// request was aborted.
    #[error("request body timed out")]
    RequestBodyTimeout,
    /// The upstream request could not be built (a bug, not a client's fault).
    #[error("cannot build the upstream request")]
    Internal(#[source] Cause),
}

/// True when the client's request body made no progress for `body_read_timeout`
/// ([`BodyReadTimeout`], the cause hyper reports for the body it was sending).
pub(super) fn body_timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<BodyReadTimeout>())
}

/// True when the client's request body, not the upstream, broke the exchange: hyper
/// reports an error of the body it was sending as a "user" error whose cause is the error
/// the incoming body (itself a `hyper::Error`) returned.
pub(super) fn request_body_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| {
        e.downcast_ref::<hyper::Error>().is_some_and(|hyper_error| {
            hyper_error.is_user()
                && std::error::Error::source(hyper_error)
                    .is_some_and(|cause| cause.is::<hyper::Error>())
        })
    })
}

/// `error: cause: cause…` for one log field.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
