//! Reading what the login and logout endpoints are sent: the body, bounded in size
//! ([`MAX_LOGIN_BODY`]) and in time ([`LOGIN_BODY_TIMEOUT`]), its kind by `Content-Type`,
//! and its fields; the query's `rd`.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Uri, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::http::discard_body;
use crate::request::error::RequestError;

/// Largest login or logout body read.
pub const MAX_LOGIN_BODY: usize = 16 * 1024;
/// Time a client has to send the login body.
pub const LOGIN_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How the credentials arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FormKind {
    /// `application/x-www-form-urlencoded`: a browser's form.
    Form,
    /// `application/json`: a script or an API client.
    Json,
}

/// The kind of the body by its `Content-Type`; `None` for any other type.
pub(super) fn content_kind(headers: &HeaderMap) -> Option<FormKind> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = content_type.split(';').next()?.trim();
    if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Some(FormKind::Form)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(FormKind::Json)
    } else {
        None
    }
}

/// The headers and the whole body, within the limits.
///
/// # Errors
/// [`RequestError::MalformedLogin`] for a body too large, broken or too slow.
pub(super) async fn read_body(
    request: Request<Incoming>,
) -> Result<(HeaderMap, Bytes), RequestError> {
    let (parts, body) = request.into_parts();
    let body = tokio::time::timeout(LOGIN_BODY_TIMEOUT, read_at_most(body, MAX_LOGIN_BODY))
        .await
        .map_err(|_| RequestError::MalformedLogin("body not received in time"))??;
    Ok((parts.headers, body))
}

/// Collects `body` up to `limit` bytes. A longer body is refused, after what is left of it
/// has been read on and dropped ([`discard_body`]): answering and closing while the client
/// is still sending would make its TCP stack reset the connection, and the client would see
/// a reset instead of the 400 (the lingering close of RFC 9112 §9.6).
async fn read_at_most(mut body: Incoming, limit: usize) -> Result<Bytes, RequestError> {
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| RequestError::MalformedLogin("body broken"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing a login reads
        };
        if collected.len().saturating_add(data.len()) > limit {
            discard_body(body).await;
            return Err(RequestError::MalformedLogin("body too large"));
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

/// The first value of the urlencoded field `name` in `body`.
pub(super) fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The first value of the query parameter `name`.
pub(super) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_field(uri.query()?.as_bytes(), name)
}
