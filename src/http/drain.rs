//! Lingering close: a refused HTTP/1.1 request that still has a body coming is read on and
//! dropped before it is answered. hyper closes such a connection after the answer, and
//! closing while the client still sends makes the client's TCP stack reset the connection,
//! so the client would see a reset (or a broken pipe) instead of the 401 or 400 (RFC 9112
//! section 9.6).
//!
//! This is the one place a refused body is drained: the pipeline calls
//! [`discard_unread_body`] for every refusal, the login endpoint [`discard_body`] for a body
//! it stopped reading. The reading is bounded in bytes, in time and in pauses, so draining
//! can never be used to hold the gateway busy.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};

/// Most of a refused request's body that is read and dropped before the answer.
pub const MAX_DISCARDED_BODY: usize = 4 * 1024 * 1024;
/// How long the gateway keeps reading a refused request's body before it answers anyway.
pub const DISCARD_BODY_TIMEOUT: Duration = Duration::from_secs(2);
/// A pause in a refused request's body this long ends the reading: a client sending at
/// full speed never pauses like that, and one trickling its body (slowloris) is answered at
/// once instead of being waited for.
pub const DISCARD_BODY_PAUSE: Duration = Duration::from_millis(150);

/// Reads and drops what is left of a refused HTTP/1.1 request's body while it keeps
/// arriving — up to [`MAX_DISCARDED_BODY`] bytes, [`DISCARD_BODY_TIMEOUT`] in all, and no
/// pause longer than [`DISCARD_BODY_PAUSE`] — so that the client reads the answer rather
/// than a reset (see the module docs). A request without a body returns at once; HTTP/2
/// needs none of this (the stream is reset, the connection lives on).
pub async fn discard_unread_body(request: Request<Incoming>) {
    if request.version() > Version::HTTP_11 || request.body().is_end_stream() {
        return;
    }
    discard_body(request.into_body()).await;
}

/// Reads and drops what is left of `body` under the limits of [`discard_unread_body`]
/// (for a caller that has read part of a body and refuses the rest).
pub async fn discard_body(mut body: Incoming) {
    let drain = async {
        let mut read = 0usize;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(DISCARD_BODY_PAUSE, body.frame()).await
        {
            read = read.saturating_add(frame.data_ref().map_or(0, Bytes::len));
            if read > MAX_DISCARDED_BODY {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_BODY_TIMEOUT, drain).await;
}
