//! `upstream = "builtin:whoami"`: a diagnostic upstream inside the gateway.
//!
//! It answers with the request exactly as an upstream would receive it — after path
//! normalization, header hygiene and identity injection — so an operator can see what their
//! apps see without deploying one. The body is plain text in HTTP/1.1 request layout; it never
//! reads the request body (the connection layer discards it).

use std::fmt::Write;

use http::{Request, Response, StatusCode};

use crate::http::{Body, text as reply};

/// Renders the whoami page for a request prepared for an upstream.
pub fn respond<B>(request: &Request<B>) -> Response<Body> {
    let mut text = String::with_capacity(512);
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    // Writing to a String cannot fail.
    let _ = writeln!(text, "{} {} HTTP/1.1", request.method(), target);
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        let _ = writeln!(text, "{name}: {value}");
    }
    reply(StatusCode::OK, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn whoami_lists_method_target_and_headers() {
        let request = Request::builder()
            .method("POST")
            .uri("http://upstream/a/b?x=1")
            .header("x-forwarded-user", "alice")
            .body(())
            .expect("request");
        let response = respond(&request);
        assert_eq!(response.status(), StatusCode::OK);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(text.starts_with("POST /a/b?x=1 HTTP/1.1\n"), "{text}");
        assert!(text.contains("x-forwarded-user: alice\n"), "{text}");
    }
}
