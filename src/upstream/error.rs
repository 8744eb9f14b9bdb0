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

/// The TLS error (rustls's, e.g. an unknown issuer or a name the certificate does not
/// have) that made connecting fail, when one did. The connectors report it as the inner
/// error of an `io::Error` (hyper-rustls wraps tokio-rustls's `io::Error` in another),
/// which `source()` does not reach, so each `io::Error`'s inner errors are followed too.
pub(super) fn tls_failure<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    std::iter::successors(Some(error), |e| e.source()).find_map(rustls_inside)
}

fn rustls_inside<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut current = error;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = current.downcast_ref::<std::io::Error>()?.get_ref()?;
        current = inner;
    }
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
