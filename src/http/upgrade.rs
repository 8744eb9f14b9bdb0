//! Whether a request asks to become a WebSocket (RFC 6455 §4.1: `Upgrade: websocket` and
//! `Connection: upgrade`, tokens matched case-insensitively in comma lists). Both the access
//! decision (a handshake needs an allowed `Origin`) and the upstream tunnel ask.

use http::header::{self, HeaderMap};

use super::token_list::lists_token;

/// Whether the request asks for a WebSocket upgrade (the only upgrade passed through).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    lists_token(headers, header::UPGRADE, "websocket")
        && lists_token(headers, header::CONNECTION, "upgrade")
}
