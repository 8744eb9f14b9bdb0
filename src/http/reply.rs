//! The replies the gateway writes itself, each with its security headers, so that no
//! endpoint or error page can forget one: JSON, HTML pages and redirects are never cached
//! (`no-store`) and never sniffed (`nosniff`); HTML pages also carry a Content Security
//! Policy that lets nothing but inline styles load, refuse framing, and keep the referrer
//! on this site.

use http::{HeaderValue, Response, StatusCode, header};

use super::body::{Body, empty, full};

/// Security headers of the HTML pages: nothing but inline styles may load, no framing.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

/// A JSON reply of `body` (already serialized).
pub fn json_text(status: StatusCode, body: String) -> Response<Body> {
    reply(status, body, "application/json")
}

/// `body` as `content_type`, never cached, never sniffed.
fn reply(status: StatusCode, body: String, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A plain-text reply of `body`.
pub fn text(status: StatusCode, body: String) -> Response<Body> {
    reply(status, body, "text/plain; charset=utf-8")
}

/// A JSON reply of `value`.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    json_text(status, value.to_string())
}

/// An HTML page, whose every interpolated value the caller has escaped.
pub fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut response = reply(status, page, "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A redirect to `location` with an empty body.
pub fn redirect(status: StatusCode, location: HeaderValue) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_is_never_cached_and_never_sniffed() {
        let replies = [
            json(StatusCode::OK, &serde_json::json!({})),
            html(StatusCode::OK, String::new()),
            text(StatusCode::OK, String::new()),
        ];
        for reply in &replies {
            assert_eq!(reply.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(reply.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        let page = &replies[1];
        assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert!(
            page.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .is_ok_and(|csp| csp.contains("frame-ancestors 'none'"))
        );
        let moved = redirect(StatusCode::SEE_OTHER, HeaderValue::from_static("/x"));
        assert_eq!(moved.headers()[header::LOCATION], "/x");
        assert_eq!(moved.headers()[header::CACHE_CONTROL], "no-store");
    }
}
