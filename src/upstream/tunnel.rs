//! The WebSocket tunnel: once the upstream answers `101 Switching Protocols` to a
//! handshake the client asked for, bytes are copied both ways until either side closes.
//! The tunnel is a task of its own; the request that opened it has already been answered.

use hyper_util::rt::TokioIo;
use tracing::debug;

/// Copies bytes both ways between the client and the upstream once both sides upgraded.
pub(super) async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                Ok((up, down)) => {
                    debug!(bytes_up = up, bytes_down = down, "websocket tunnel closed")
                }
                Err(e) => debug!(error = %e, "websocket tunnel ended with an error"),
            }
        }
        Err(e) => debug!(error = %e, "websocket upgrade failed"),
    }
}
