//! HTTPS upstreams through the real binary: a tokio-rustls upstream with a test CA's
//! certificate, reached with the route's `upstream_ca_file` (and client certificate for
//! mutual TLS); a certificate of another CA, for another name, or not from the system's
//! roots is a 502, and nothing reaches the upstream in plain text.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::binary::BIN;
use crate::support::certs::TestCa;
use crate::support::client::Protocol;
use crate::support::process::GatewayProcess;
use crate::support::tls_upstream::{self, TLS_HANDSHAKE, TlsUpstream};
use crate::support::within;

/// Writes `ca`'s certificate as PEM to `dir/name`.
fn write_ca(dir: &Path, name: &str, ca: &TestCa) -> PathBuf {
    let base64 = base64::engine::general_purpose::STANDARD.encode(ca.cert.as_ref());
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("ascii"))
        .collect();
    let path = dir.join(name);
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    std::fs::write(&path, pem).expect("write CA");
    path
}

fn route(host: &str, upstream: &str, tls_lines: &str) -> String {
    format!(
        "[[route]]\nhost = \"{host}\"\naccess = \"public\"\nupstream = \"{upstream}\"\n{tls_lines}\n"
    )
}

/// Waits until the gateway has logged every one of `needles` (log lines are written in
/// batches, shortly after the event), and returns the log.
async fn wait_for_log(gateway: &GatewayProcess, needles: &[&str]) -> String {
    within(async {
        loop {
            let log = gateway.log();
            if needles.iter().all(|n| log.contains(n)) {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    })
    .await
}

/// Nothing but TLS handshakes reached `server`, and no request got through.
fn assert_nothing_in_plain_text(server: &TlsUpstream) {
    let first = server.first_bytes();
    assert!(!first.is_empty(), "the gateway did not even connect");
    assert!(
        first.iter().all(|b| *b == TLS_HANDSHAKE),
        "a connection did not start with a TLS handshake: {first:?}"
    );
    assert!(server.failed_handshakes() > 0);
    assert!(
        server.upstream.received().is_empty(),
        "a request got through"
    );
}

#[tokio::test]
async fn an_upstream_with_a_certificate_of_the_configured_ca_is_reached_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    let leaf = ca.leaf(dir.path(), "app", &["localhost"]);
    let server = tls_upstream::start("tls-app", &leaf, None).await;
    let ca_file = write_ca(dir.path(), "upstream-ca.pem", &ca);
    // One worker: both requests use its pool.
    let gateway = GatewayProcess::start(
        "workers = 1",
        &route(
            "localhost",
            &server.url("localhost"),
            &format!("upstream_ca_file = \"{}\"", ca_file.display()),
        ),
    )
    .await;
    for path in ["/first", "/second?q=1"] {
        let response = gateway.client().get("localhost", path).await;
        assert_eq!(response.status, 200, "{}", gateway.log());
        assert_eq!(response.json()["upstream"], "tls-app");
        assert_eq!(response.json()["path"], path);
    }
    assert!(server.first_bytes().iter().all(|b| *b == TLS_HANDSHAKE));
    assert_eq!(
        server.first_bytes().len(),
        1,
        "the second request reuses the pooled connection"
    );
}

#[tokio::test]
async fn a_certificate_the_route_does_not_trust_is_a_502_and_nothing_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (upstream_ca, other_ca) = (TestCa::new(), TestCa::new());
    let leaf = upstream_ca.leaf(dir.path(), "app", &["localhost"]);
    let other = write_ca(dir.path(), "other-ca.pem", &other_ca);
    let wrong_ca = tls_upstream::start("wrong-ca", &leaf, None).await;
    let system_roots = tls_upstream::start("system-roots", &leaf, None).await;
    let config = [
        route(
            "a.example.test",
            &wrong_ca.url("localhost"),
            &format!("upstream_ca_file = \"{}\"", other.display()),
        ),
        route("b.example.test", &system_roots.url("localhost"), ""),
    ]
    .concat();
    let gateway = GatewayProcess::start("", &config).await;
    for (host, server) in [
        ("a.example.test", &wrong_ca),
        ("b.example.test", &system_roots),
    ] {
        let response = gateway.client().get(host, "/secret").await;
        assert_eq!(response.status, 502, "{host}");
        assert_eq!(response.json()["error"], "bad_gateway");
        assert_nothing_in_plain_text(server);
    }
    wait_for_log(
        &gateway,
        &["upstream TLS handshake failed", "invalid peer certificate"],
    )
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_502() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    let leaf = ca.leaf(dir.path(), "app", &["other.internal"]);
    let server = tls_upstream::start("misnamed", &leaf, None).await;
    let ca_file = write_ca(dir.path(), "upstream-ca.pem", &ca);
    let gateway = GatewayProcess::start(
        "",
        &route(
            "localhost",
            &server.url("localhost"),
            &format!("upstream_ca_file = \"{}\"", ca_file.display()),
        ),
    )
    .await;
    let response = gateway.client().get("localhost", "/").await;
    assert_eq!(response.status, 502);
    assert_nothing_in_plain_text(&server);
    wait_for_log(
        &gateway,
        &["upstream TLS handshake failed", "not valid for name"],
    )
    .await;
}

#[tokio::test]
async fn a_mutual_tls_upstream_takes_the_client_certificate_and_refuses_a_route_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, client_ca) = (TestCa::new(), TestCa::new());
    let leaf = ca.leaf(dir.path(), "app", &["localhost"]);
    let client = client_ca.leaf(dir.path(), "gateway-client", &["gateway"]);
    let server = tls_upstream::start("mtls", &leaf, Some(&client_ca)).await;
    let ca_file = write_ca(dir.path(), "upstream-ca.pem", &ca);
    let trust = format!("upstream_ca_file = \"{}\"", ca_file.display());
    let config = [
        route(
            "a.example.test",
            &server.url("localhost"),
            &format!(
                "{trust}\nupstream_client_cert = \"{}\"\nupstream_client_key = \"{}\"",
                client.cert.display(),
                client.key.display()
            ),
        ),
        route("b.example.test", &server.url("localhost"), &trust),
    ]
    .concat();
    let gateway = GatewayProcess::start("", &config).await;
    let with = gateway.client().get("a.example.test", "/with").await;
    assert_eq!(with.status, 200, "{}", gateway.log());
    assert_eq!(server.upstream.last().target, "/with");
    let without = gateway.client().get("b.example.test", "/without").await;
    assert_eq!(without.status, 502);
    assert_eq!(
        server.upstream.received().len(),
        1,
        "only the request with the certificate"
    );
}

#[tokio::test]
async fn websockets_tunnel_through_an_https_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    let leaf = ca.leaf(dir.path(), "app", &["localhost"]);
    let server = tls_upstream::start("tls-ws", &leaf, None).await;
    let ca_file = write_ca(dir.path(), "upstream-ca.pem", &ca);
    let gateway = GatewayProcess::start(
        "",
        &route(
            "localhost",
            &server.url("localhost"),
            &format!("upstream_ca_file = \"{}\"", ca_file.display()),
        ),
    )
    .await;
    let tls = gateway.client().connect("localhost", Protocol::Http1).await;
    let request = format!("wss://localhost:{}/ws", gateway.addr.port())
        .into_client_request()
        .expect("ws request");
    let (mut ws, response) = within(tokio_tungstenite::client_async(request, tls))
        .await
        .expect("ws handshake");
    assert_eq!(response.status(), 101);
    within(ws.send(Message::text("over tls")))
        .await
        .expect("send");
    let echoed = within(ws.next()).await.expect("message").expect("ok");
    assert_eq!(echoed, Message::text("over tls"));
}

#[test]
fn check_names_an_unreadable_upstream_ca_file_at_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    ca.leaf(dir.path(), "server", &["localhost"]);
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n\
         [[route]]\naccess = \"public\"\nupstream = \"https://app.internal:8443\"\n\
         upstream_ca_file = \"missing-ca.pem\"\n",
    )
    .expect("write config");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run gateway check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("gateway.toml:7:20: cannot load CA certificates"),
        "{stderr}"
    );
}
