//! Responses the gateway writes itself: the body type shared with proxied responses, and
//! error pages.
//!
//! An error is JSON (`{"error":"<code>"}`) unless the client is a browser navigating —
//! `Accept` prefers `text/html` — in which case it is a small self-contained HTML page with
//! the same code. Neither ever names an upstream or the reason behind the error.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

use crate::error::RequestError;

/// The body of every response the gateway sends: proxied bodies stream through it.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// A complete in-memory body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Whether the client prefers HTML over JSON: `text/html` appears in `Accept` before any
/// JSON type. Browsers' navigations send `text/html` first; `fetch` sends `*/*`.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    for media in accept.split(',') {
        let media = media.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("text/html") {
            return true;
        }
        if media.eq_ignore_ascii_case("application/json") {
            return false;
        }
    }
    false
}

/// Renders `error` for a client; `html` picks the page over JSON.
pub fn error_response(error: &RequestError, html: bool) -> Response<Body> {
    let (content_type, body) = if html {
        ("text/html; charset=utf-8", error_page(error))
    } else {
        (
            "application/json",
            format!("{{\"error\":\"{}\"}}", error.code()),
        )
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn error_page(error: &RequestError) -> String {
    let status = error.status().as_u16();
    let title = error.title();
    let code = error.code();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{status} {title}</title>\
<style>body{{font:16px/1.5 system-ui,sans-serif;color:#1f2328;background:#f6f8fa;margin:0;\
display:grid;place-items:center;min-height:100vh}}main{{background:#fff;border:1px solid #d0d7de;\
border-radius:8px;padding:2rem 2.5rem;max-width:28rem}}h1{{font-size:1.25rem;margin:0 0 .5rem}}\
code{{color:#57606a}}</style></head>\
<body><main><h1>{title}</h1><p>HTTP {status} · <code>{code}</code></p></main></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::ACCEPT, HeaderValue::from_str(value).expect("value"));
        map
    }

    #[test]
    fn browser_navigation_prefers_html_and_fetch_does_not() {
        assert!(prefers_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json, text/html")));
        assert!(!prefers_html(&HeaderMap::new()));
    }

    #[test]
    fn error_bodies_carry_only_the_stable_code() {
        let json = error_response(&RequestError::NoRoute, false);
        assert_eq!(json.status(), 404);
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
        let html = error_response(&RequestError::UpstreamTimeout, true);
        assert_eq!(html.status(), 504);
        assert!(
            html.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
    }
}
