//! Caddy's `forward_auth`, with the real Caddy: `examples/caddy/Caddyfile` with the test's
//! addresses substituted, run with its own temp HOME and the admin endpoint off.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::spoofing::the_client_cannot_choose_the_url_that_is_judged;
use super::{
    APP_HOST, Proxy, UNROUTED_HOST, browsers_go_to_login_and_apis_get_a_401, gateway_and_app,
    only_the_gateways_identity_reaches_the_app, substitute,
};
use crate::support::gateway::TestGateway;
use crate::support::process::tool;
use crate::support::upstream::Upstream;

const CADDYFILE: &str = include_str!("../../../examples/caddy/Caddyfile");

/// Starts Caddy with the example Caddyfile in front of `gateway` (whose certificate
/// `gateway_ca` verifies) and `app`.
async fn start(gateway: SocketAddr, gateway_ca: &Path, app: SocketAddr) -> Proxy {
    let caddy = tool("caddy");
    Proxy::start("caddy", |dir, addr, cert| {
        let site = substitute(
            "examples/caddy/Caddyfile",
            CADDYFILE,
            &[
                // The operator also serves a name the gateway has no route for.
                (
                    "app.example.com {",
                    format!(
                        "https://{APP_HOST}:{port}, https://{UNROUTED_HOST}:{port} {{\n\ttls {} {}",
                        cert.cert.display(),
                        cert.key.display(),
                        port = addr.port(),
                    ),
                ),
                ("https://127.0.0.1:8443", format!("https://{gateway}")),
                (
                    "/etc/caddy/gateway-ca.crt",
                    gateway_ca.display().to_string(),
                ),
                ("127.0.0.1:9001", app.to_string()),
            ],
        );
        // Nothing outside the temp folder: no admin endpoint, no automatic HTTPS (the test
        // CA's certificate instead), storage and autosaved config in the folder.
        let config = format!(
            "{{\n\tadmin off\n\tauto_https off\n\
             \tstorage file_system {}\n}}\n\n{site}",
            dir.join("data").display()
        );
        let config_path = dir.join("Caddyfile");
        std::fs::write(&config_path, config).expect("write Caddyfile");
        let mut command = Command::new(&caddy);
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config_path)
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_DATA_HOME", dir.join("data"));
        command
    })
    .await
}

/// A gateway with alice, the recording app, and Caddy in front of both, as
/// examples/caddy/README.md sets them up.
async fn caddy_setup() -> (TestGateway, Upstream, Proxy) {
    let (gateway, app) = gateway_and_app("").await;
    // Caddy trusts the gateway's certificate itself (Go accepts a certificate in its root
    // pool as its own anchor); in production it would be the CA that signed it.
    let caddy = start(gateway.addr, &gateway.default_cert.cert, app.addr).await;
    (gateway, app, caddy)
}

#[tokio::test]
async fn caddy_forward_auth_sends_browsers_to_login_and_apis_a_401() {
    let (_gateway, app, caddy) = caddy_setup().await;
    browsers_go_to_login_and_apis_get_a_401(&caddy, &app, true).await;
}

#[tokio::test]
async fn caddy_forward_auth_passes_the_gateways_identity_never_the_clients() {
    let (_gateway, app, caddy) = caddy_setup().await;
    only_the_gateways_identity_reaches_the_app(&caddy, &app).await;
}

#[tokio::test]
async fn caddy_forward_auth_judges_the_url_caddy_routed_not_the_one_the_client_wrote() {
    let (_gateway, app, caddy) = caddy_setup().await;
    the_client_cannot_choose_the_url_that_is_judged(&caddy, &app, 401).await;
}
