use http::{HeaderValue, Method};
use http_body_util::Full;

use super::*;

fn request(
    version: Version,
    body: &'static str,
    connection: Option<&'static str>,
) -> Request<Full<Bytes>> {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri("/")
        .version(version)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request");
    if let Some(value) = connection {
        request
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static(value));
    }
    request
}

#[test]
fn a_bodyless_http11_request_allows_a_rest() {
    assert!(request_allows_rest(&request(Version::HTTP_11, "", None)));
    assert!(request_allows_rest(&request(
        Version::HTTP_11,
        "",
        Some("keep-alive")
    )));
}

#[test]
fn a_body_a_close_or_another_version_forbids_it() {
    assert!(!request_allows_rest(&request(Version::HTTP_11, "x", None)));
    assert!(!request_allows_rest(&request(
        Version::HTTP_11,
        "",
        Some("close")
    )));
    assert!(!request_allows_rest(&request(
        Version::HTTP_11,
        "",
        Some("Keep-Alive, CLOSE")
    )));
    assert!(!request_allows_rest(&request(Version::HTTP_10, "", None)));
    assert!(!request_allows_rest(&request(Version::HTTP_2, "", None)));
}

#[test]
fn a_response_that_switches_protocols_or_closes_forbids_it() {
    let response = |status: StatusCode, connection: Option<&'static str>| {
        let mut response = Response::new(());
        *response.status_mut() = status;
        if let Some(value) = connection {
            response
                .headers_mut()
                .append(header::CONNECTION, HeaderValue::from_static(value));
        }
        response
    };
    assert!(response_allows_rest(&response(StatusCode::OK, None)));
    assert!(response_allows_rest(&response(
        StatusCode::UNAUTHORIZED,
        Some("closer")
    )));
    assert!(!response_allows_rest(&response(
        StatusCode::SWITCHING_PROTOCOLS,
        None
    )));
    assert!(!response_allows_rest(&response(
        StatusCode::OK,
        Some("close")
    )));
}

#[test]
fn unparsed_bytes_keep_their_order_and_not_hypers_buffer() {
    let mut buffer = BytesMut::with_capacity(8192);
    buffer.extend_from_slice(b"GET");
    let view = buffer.split().freeze();
    let kept = concat(view.clone(), Bytes::new());
    assert_eq!(kept, &b"GET"[..]);
    assert_ne!(
        kept.as_ptr(),
        view.as_ptr(),
        "a copy, not a view into hyper's buffer"
    );
    assert!(concat(buffer.freeze(), Bytes::new()).is_empty());
    assert_eq!(
        concat(Bytes::from_static(b"GET / HT"), Bytes::new()),
        &b"GET / HT"[..]
    );
    assert_eq!(
        concat(
            Bytes::from_static(b"GET / HT"),
            Bytes::from_static(b"TP/1.1\r\n")
        ),
        &b"GET / HTTP/1.1\r\n"[..]
    );
}
