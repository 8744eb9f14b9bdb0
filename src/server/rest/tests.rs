use std::time::Duration;

use http::{HeaderValue, Method};
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::activity::Activity;
use super::*;
use crate::http::text;
use crate::tls::test_pair::{Pair, pair};

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
fn a_bodyless_http11_request_or_any_http2_request_allows_a_rest() {
    assert!(request_allows_rest(&request(Version::HTTP_11, "", None)));
    assert!(request_allows_rest(&request(
        Version::HTTP_11,
        "",
        Some("keep-alive")
    )));
    // HTTP/2 rests only its TLS stream's empty buffers: a body changes nothing.
    assert!(request_allows_rest(&request(Version::HTTP_2, "x", None)));
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

/// A connection serving `ok` to every request, on the gateway's end of `pair`.
fn serving(server: TlsStream) -> RestingConnection<impl ClientService + use<>> {
    let activity = Activity::for_tests("");
    let service = service_fn(move |_: Request<Incoming>| {
        let in_flight = activity.request_started();
        async move {
            let response = text(StatusCode::OK, "ok".to_owned());
            Ok::<_, Infallible>(response.map(|body| Guarded::new(body, in_flight)))
        }
    });
    let stream = WriteTimeout::new(server, Duration::from_secs(10));
    RestingConnection::new(&http1::Builder::new(), stream, service)
}

/// Sends a request and drives `connection` until the client has read the whole response.
async fn request_and_response(
    client: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    connection: &mut RestingConnection<impl ClientService>,
) -> String {
    let exchange = async {
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut response = Vec::new();
        while !response.ends_with(b"\r\n\r\nok") {
            let mut chunk = [0u8; 512];
            let read = client.read(&mut chunk).await.expect("read");
            assert!(read > 0, "the connection closed mid-response");
            response.extend_from_slice(&chunk[..read]);
        }
        String::from_utf8(response).expect("text")
    };
    tokio::select! {
        response = exchange => response,
        ended = &mut *connection => panic!("the connection ended: {ended:?}"),
    }
}

/// A resting connection keeps no buffer: hyper's connection is dropped and the TLS stream
/// frees its own. Then the next request on the same stream is served.
#[tokio::test]
async fn a_resting_connection_holds_no_buffers_and_serves_on() {
    let Pair { mut client, server } = pair(&[b"http/1.1"]).await;
    let mut connection = serving(server);
    for round in 0..2 {
        let response = request_and_response(&mut client, &mut connection).await;
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "round {round}: {response}"
        );
        connection.rest();
        let rested = std::future::poll_fn(|cx| {
            if let Poll::Ready(ended) = Pin::new(&mut connection).poll(cx) {
                panic!("round {round}: the connection ended instead of resting: {ended:?}");
            }
            match &connection.state {
                State::Resting { .. } => Poll::Ready(()),
                _ => Poll::Pending,
            }
        });
        tokio::time::timeout(Duration::from_secs(10), rested)
            .await
            .expect("the connection rests");
        let State::Resting { stream, unparsed } = &connection.state else {
            unreachable!("resting, above");
        };
        assert!(unparsed.is_empty(), "round {round}: nothing was pipelined");
        let held = stream.get_ref().held_buffer_bytes();
        assert_eq!(
            held, 0,
            "round {round}: a resting stream holds {held} bytes of buffers"
        );
    }
}

/// hyper's HTTP/2 connection reads on every poll, so a release its stream is asked for
/// while it idles is carried out by its next poll, which the driver makes right after
/// asking.
#[tokio::test]
async fn an_idle_http2_connection_rests_its_stream_on_its_next_poll() {
    use hyper_util::rt::TokioExecutor;
    let Pair { client, mut server } = pair(&[b"h2"]).await;
    let idle_release = server.idle_release();
    let stream = WriteTimeout::new(server, Duration::from_secs(10));
    let service = service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let mut connection = std::pin::pin!(
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
    );
    let exchange = async {
        let (mut sender, client_connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client))
                .await
                .expect("client handshake");
        tokio::spawn(client_connection);
        let request = Request::get("https://localhost/")
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        sender // kept: the connection stays open
    };
    let _sender = tokio::select! {
        sender = exchange => sender,
        ended = connection.as_mut() => panic!("the connection ended: {ended:?}"),
    };
    idle_release.ask();
    let rested = std::future::poll_fn(|cx| {
        if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
            panic!("the connection ended instead of resting: {ended:?}");
        }
        if idle_release.is_asked() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    });
    tokio::time::timeout(Duration::from_secs(10), rested)
        .await
        .expect("the idle connection's next poll read and rested its stream");
}
