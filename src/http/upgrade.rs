//! Whether a request asks to become a WebSocket (RFC 6455 §4.1: `Upgrade: websocket` and
//! `Connection: upgrade`, tokens matched case-insensitively in comma lists). Both the access
//! decision (a handshake needs an allowed `Origin`) and the upstream tunnel ask.

use http::header::{self, HeaderMap, HeaderValue};

/// Whether the request asks for a WebSocket upgrade (the only upgrade passed through).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade_websocket = headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|v| has_token(v, "websocket"));
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| has_token(v, "upgrade"));
    upgrade_websocket && connection_upgrade
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        .unwrap_or(false)
}
