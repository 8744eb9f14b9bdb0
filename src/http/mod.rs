//! HTTP vocabulary shared by every layer that answers a request: the body type, the
//! replies the gateway writes itself with their security headers, the lingering-close
//! drain of a refused body, and HTML escaping. A leaf: it knows nothing of routes, tokens
//! or configuration.
//!
//! | module | concept |
//! |---|---|
//! | `body` | [`Body`], the body of every response, and its constructors |
//! | `reply` | JSON, HTML, text and redirect replies with their security headers |
//! | `drain` | reading a refused request's body on before answering (RFC 9112 §9.6) |
//! | `html` | escaping text for element content and quoted attributes |
//! | `token_list` | whether a comma-separated header list (`Connection`, `Upgrade`) names a token |
//! | `upgrade` | whether a request asks to become a WebSocket |

mod body;
mod drain;
mod html;
mod reply;
mod token_list;
mod upgrade;

pub use body::{Body, empty};
pub use drain::{discard_body, discard_unread_body};
pub use html::escape_html;
pub use reply::{html, json, json_text, redirect, text};
pub use token_list::lists_token;
pub use upgrade::is_websocket_upgrade;

/// A header map of `(name, value)` pairs, in order, for unit tests.
#[cfg(test)]
pub(crate) fn test_headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            http::HeaderValue::from_str(value).expect("value"),
        );
    }
    map
}
