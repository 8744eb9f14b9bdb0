//! TLS termination: ALPN, SNI certificate selection, 421, the HTTP → HTTPS redirect,
//! `Strict-Transport-Security`, and the TLS stream itself (TLS 1.2, key updates).

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rustls::ProtocolVersion;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::support::client::{Protocol, read, send_on};
use crate::support::gateway::{public_route, start, start_with, start_with_tls};
use crate::support::raw::{RawResponse, exchange_on, parse_responses, plain, plain_get};
use crate::support::{upstream, within};

/// Reads from `tls` until one whole HTTP/1.1 response has come.
async fn next_response<R: AsyncRead + Unpin>(tls: &mut R) -> RawResponse {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(response) = parse_responses(&bytes).into_iter().next() {
            return response;
        }
        let n = within(tls.read(&mut buf)).await.expect("read");
        assert_ne!(n, 0, "closed before a whole response: {bytes:?}");
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// A TLS 1.3 client that updates its keys between requests (and asks the server to update
/// its own, as rustls does) keeps being served: the gateway takes the `KeyUpdate` among the
/// records it reads and sends its own before the next response, which the client could not
/// decrypt otherwise.
#[tokio::test]
async fn a_key_update_between_requests_is_answered_and_serving_goes_on() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let mut tls = gateway.client().connect("localhost", Protocol::Http1).await;
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );
    for n in 0..3 {
        let request = format!("GET /key-update/{n} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        within(tls.write_all(request.as_bytes()))
            .await
            .expect("write");
        let response = next_response(&mut tls).await;
        assert_eq!(response.status, 200, "{}", response.head);
        tls.get_mut().1.refresh_traffic_keys().expect("key update");
    }
    assert_eq!(app.received().len(), 3);
}

/// A client that speaks only TLS 1.2 is served, keep-alive and all.
#[tokio::test]
async fn a_tls12_client_is_served() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let mut tls = gateway.client().connect_tls12().await;
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(ProtocolVersion::TLSv1_2)
    );
    for path in ["/tls12/a", "/tls12/b"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        within(tls.write_all(request.as_bytes()))
            .await
            .expect("write");
        assert_eq!(next_response(&mut tls).await.status, 200);
        assert_eq!(app.last().target, path);
    }
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn_and_proxied() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let client = gateway.client();
    let tls = client.connect("localhost", Protocol::Http2).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let request = Request::get(format!("https://localhost:{}/h2?x=1", gateway.addr.port()))
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = read(send_on(tls, request, Protocol::Http2).await).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["path"], "/h2?x=1");
    assert_eq!(
        app.last().headers["host"],
        format!("localhost:{}", gateway.addr.port())
    );

    let tls = client.connect("localhost", Protocol::Http1).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

/// The protocol is what ALPN chose: a client that offers none speaks HTTP/1.1, and the HTTP/2
/// connection preface without `h2` negotiated (not allowed over TLS, RFC 9113 section 3.3)
/// is refused rather than served as HTTP/2.
#[tokio::test]
async fn without_alpn_the_connection_is_http1() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let client = gateway.client();

    let tls = client.connect_without_alpn("localhost").await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let (answer, ended) = exchange_on(
        tls,
        b"GET /plain HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    ended.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(app.received().len(), 1);

    let tls = client.connect_without_alpn("localhost").await;
    let (answer, _) =
        exchange_on(tls, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await;
    // Closed, or refused the HTTP/1.1 way; an HTTP/2 server would have sent SETTINGS.
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "not refused as HTTP/1.1: {answer:?}"
    );
    assert_eq!(app.received().len(), 1);
}

#[tokio::test]
async fn sni_selects_the_hosts_own_certificate_and_others_get_the_default() {
    let gateway = start_with(
        "[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n",
        &["app1.example.test"],
        &[],
    )
    .await;
    let client = gateway.client();
    let dedicated = client.connect("app1.example.test", Protocol::Http1).await;
    let served = dedicated.get_ref().1.peer_certificates().expect("certs")[0].clone();
    assert_eq!(served, gateway.sni_certs[0].1.der);
    let other = client.connect("app2.example.test", Protocol::Http1).await;
    let served = other.get_ref().1.peer_certificates().expect("certs")[0].clone();
    assert_eq!(served, gateway.default_cert.der);
}

#[tokio::test]
async fn request_for_another_host_on_a_dedicated_sni_connection_gets_421() {
    let app = upstream::start("app").await;
    let gateway = start_with(&public_route(&app.url()), &["app1.example.test"], &[]).await;
    let client = gateway.client();
    let tls = client.connect("app1.example.test", Protocol::Http1).await;
    let request = Request::get("/")
        .header("host", "app2.example.test")
        .body(Full::<Bytes>::default())
        .expect("request");
    let response = read(send_on(tls, request, Protocol::Http1).await).await;
    assert_eq!(response.status, 421);
    assert_eq!(response.json()["error"], "misdirected_request");
    let same = client.get("app1.example.test", "/").await;
    assert_eq!(same.status, 200);
    assert_eq!(app.received().len(), 1);
}

#[tokio::test]
async fn plain_http_listener_redirects_to_https_with_308() {
    let gateway = start("[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    let out = plain_get(gateway.redirect_addr, "app.example.test", "/a/b?c=1").await;
    assert!(out.starts_with("HTTP/1.1 308"), "{out}");
    let expected = format!(
        "location: https://app.example.test:{}/a/b?c=1\r\n",
        gateway.addr.port()
    );
    assert!(out.to_ascii_lowercase().contains(&expected), "{out}");
}

#[tokio::test]
async fn failed_handshake_does_not_stop_the_listener() {
    let gateway = start("[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n").await;
    plain(gateway.addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(gateway.client().get("localhost", "/").await.status, 200);
}

/// `[tls] hsts` is sent on every HTTPS response the gateway produces — proxied ones and its
/// own errors (one header added at the end of the pipeline, so its endpoints too) — unless the upstream sent its own, and never on plain HTTP (RFC 6797
/// §7.2: a browser ignores it there, and it would vouch for a connection that is not secure).
#[tokio::test]
async fn hsts_is_sent_on_every_https_response_unless_the_upstream_sets_its_own() {
    const HSTS: &str = "max-age=31536000; includeSubDomains";
    let app = upstream::start("app").await;
    let gateway = start_with_tls(
        &format!(
            "[[route]]\naccess = \"public\"\nhost = \"public.example.test\"\nupstream = \"{}\"\n",
            app.url()
        ),
        &format!("hsts = \"{HSTS}\""),
        &[],
        &[],
    )
    .await;
    let client = gateway.client();
    for (host, path, status) in [
        ("public.example.test", "/", 200),
        ("unrouted.example.test", "/", 404),
        ("public.example.test", "/a/../../b", 400),
    ] {
        for protocol in [Protocol::Http1, Protocol::Http2] {
            let request = Request::get(format!("https://{host}:{}{path}", gateway.addr.port()))
                .header("host", host)
                .body(Full::<Bytes>::default())
                .expect("request");
            let response = within(client.send(request, protocol)).await;
            assert_eq!(response.status, status, "{host}{path} {protocol:?}");
            assert_eq!(
                response
                    .headers
                    .get_all("strict-transport-security")
                    .iter()
                    .collect::<Vec<_>>(),
                [HSTS],
                "{host}{path} {protocol:?}"
            );
        }
    }
    let upstream_policy = within(client.get("public.example.test", "/hsts")).await;
    assert_eq!(
        upstream_policy
            .headers
            .get_all("strict-transport-security")
            .iter()
            .collect::<Vec<_>>(),
        [upstream::UPSTREAM_HSTS],
        "the upstream's own policy is kept, not doubled"
    );

    let out = plain_get(gateway.redirect_addr, "public.example.test", "/").await;
    assert!(out.starts_with("HTTP/1.1 308"), "{out}");
    assert!(
        !out.to_ascii_lowercase()
            .contains("strict-transport-security"),
        "HSTS over plain HTTP: {out}"
    );

    let without = start(&public_route(&app.url())).await;
    let response = within(without.client().get("localhost", "/")).await;
    assert!(response.headers.get("strict-transport-security").is_none());
}
