//! nginx's `auth_request` asking the gateway's `/.auth/verify`, driven by the shipped
//! example `examples/nginx/gateway-forward-auth.conf`; the exact request nginx sends for
//! it; and a bcrypt hash made by Apache's `htpasswd -B`.
//!
//! nginx runs as one process (`master_process off`, so killing the child leaves nothing
//! behind).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use http::{Request, Uri};
use http_body_util::Full;

use super::spoofing::the_client_cannot_choose_the_url_that_is_judged;
use super::{
    APP_HOST, Proxy, UNROUTED_HOST, browsers_go_to_login_and_apis_get_a_401, gateway_and_app,
    only_the_gateways_identity_reaches_the_app, rd_of, session_cookie, start_gateway, substitute,
};
use crate::support::STEP_TIMEOUT;
use crate::support::certs::LeafFiles;
use crate::support::client::Protocol;
use crate::support::gateway::TestGateway;
use crate::support::process::tool;
use crate::support::raw::{RawResponse, raw_sni};
use crate::support::requests::login_json;
use crate::support::upstream::Upstream;
use crate::support::users::{ALICE_PASSWORD, htpasswd_bcrypt};

/// The example users copy; the nginx tests run exactly this, with addresses substituted.
const EXAMPLE: &str = include_str!("../../../examples/nginx/gateway-forward-auth.conf");

/// What examples/nginx/README.md adds to the gateway's config: login redirects may go back
/// to any host under the cookie domain.
const REDIRECT_CONFIG: &str = r#"
[auth.redirect]
allowed_domains = ["example.test"]
"#;

/// Starts nginx with the example config in front of `gateway` and `app`.
async fn start(gateway: SocketAddr, app: SocketAddr) -> Proxy {
    run_nginx(&[], |addr, cert| {
        server_config(addr, &cert.cert, &cert.key, gateway, app)
    })
    .await
}

/// Starts nginx on a free port with `server(addr, cert)` (server blocks and the
/// like) inside a minimal `nginx.conf` whose logs and temp folders are all in the proxy's
/// folder, after `load_module` of each of `modules` (files of nginx's modules folder).
pub(super) async fn run_nginx(
    modules: &[&str],
    server: impl Fn(SocketAddr, &LeafFiles) -> String,
) -> Proxy {
    let nginx = tool("nginx");
    Proxy::start("nginx", |dir, addr, cert| {
        let config = nginx_config(dir, modules, &server(addr, cert));
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config).expect("write nginx.conf");
        let mut command = Command::new(&nginx);
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config_path)
            .arg("-g")
            .arg(format!(
                "daemon off; master_process off; pid {}; error_log stderr info;",
                dir.join("nginx.pid").display()
            ));
        command
    })
    .await
}

/// The example, with the test's addresses and files.
fn server_config(
    listen: SocketAddr,
    cert: &Path,
    key: &Path,
    gateway: SocketAddr,
    app: SocketAddr,
) -> String {
    substitute(
        "examples/nginx/gateway-forward-auth.conf",
        EXAMPLE,
        &[
            (
                "listen 443 ssl http2;",
                format!("listen {listen} ssl http2;"),
            ),
            (
                "listen 443 ssl http2 default_server;",
                format!("listen {listen} ssl http2 default_server;"),
            ),
            // The operator also serves a name the gateway has no route for.
            (
                "server_name app.example.com;",
                format!("server_name {APP_HOST} {UNROUTED_HOST};"),
            ),
            (
                "/etc/nginx/tls/app.example.com.crt",
                cert.display().to_string(),
            ),
            (
                "/etc/nginx/tls/app.example.com.key",
                key.display().to_string(),
            ),
            ("app.example.com", APP_HOST.to_owned()),
            ("server 127.0.0.1:8443;", format!("server {gateway};")),
            ("server 127.0.0.1:9001;", format!("server {app};")),
        ],
    )
}

/// `server` inside a minimal `nginx.conf` whose logs and temp folders are all in `dir`.
fn nginx_config(dir: &Path, modules: &[&str], server: &str) -> String {
    let dir = dir.display();
    let modules: String = modules
        .iter()
        .map(|module| format!("load_module /usr/lib/nginx/modules/{module};\n"))
        .collect();
    format!(
        "{modules}events {{\n    worker_connections 64;\n}}\n\
         http {{\n\
         access_log {dir}/access.log;\n\
         client_body_temp_path {dir}/client_body;\n\
         proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n\
         scgi_temp_path {dir}/scgi;\n\
         {server}\n}}\n"
    )
}

/// A gateway with alice, the recording app, and nginx in front of both.
async fn nginx_setup() -> (TestGateway, Upstream, Proxy) {
    let (gateway, app) = gateway_and_app(REDIRECT_CONFIG).await;
    let nginx = start(gateway.addr, app.addr).await;
    (gateway, app, nginx)
}

#[tokio::test]
async fn htpasswd_bcrypt_hash_logs_in() {
    let hash = htpasswd_bcrypt("dave", "s3cret pass");
    assert!(hash.starts_with("$2y$05$"), "not a bcrypt hash: {hash}");

    let users = format!(
        "[[user]]\nname = \"dave\"\npassword = '{hash}'\ngroups = []\nemail = \"dave@example.test\"\n"
    );
    let gateway = start_gateway(&users, REDIRECT_CONFIG).await;
    let client = gateway.client();

    let response = login_json(&client, APP_HOST, "dave", "s3cret pass").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    let token = body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token: {body}"))
        .to_owned();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    // The login also sets the cookie (checked inside: our name, the parent domain).
    session_cookie(&response);

    // The token is dave's.
    let request = Request::get("/.auth/me")
        .header("host", APP_HOST)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .expect("request");
    let me = client.send(request, Protocol::Http1).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["user"], "dave", "{}", me.text());

    let response = login_json(&client, APP_HOST, "dave", "s3cret pasS").await;
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.json()["error"], "invalid_credentials");
    assert!(response.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn nginx_forward_auth_sends_browsers_to_login_and_apis_a_401() {
    let (_gateway, app, nginx) = nginx_setup().await;
    browsers_go_to_login_and_apis_get_a_401(&nginx, &app, false).await;
}

#[tokio::test]
async fn nginx_forward_auth_passes_the_gateways_identity_never_the_clients() {
    let (_gateway, app, nginx) = nginx_setup().await;
    only_the_gateways_identity_reaches_the_app(&nginx, &app).await;
}

#[tokio::test]
async fn nginx_forward_auth_judges_the_url_nginx_routed_not_the_one_the_client_wrote() {
    let (_gateway, app, nginx) = nginx_setup().await;
    the_client_cannot_choose_the_url_that_is_judged(&nginx, &app, 401).await;
}

/// Sends `request` byte for byte on a TLS connection with SNI `app.example.test` (what
/// nginx's `proxy_ssl_name $host` sends) and reads until the gateway closes it.
async fn send_raw(gateway: &TestGateway, request: &str) -> RawResponse {
    raw_sni(
        &gateway.client(),
        APP_HOST,
        request.as_bytes(),
        STEP_TIMEOUT,
    )
    .await
    .first()
    .clone()
}

/// What nginx sends for `auth_request /.auth/verify` with the example's verify location
/// (captured from nginx 1.22): HTTP/1.0, the `proxy_set_header` lines in order (the blanked
/// `X-Original-*` are left out; `Accept` replaces the browser's), then the browser's own
/// headers; no body and no `Content-Length`.
fn nginx_verify_request(original_host: &str, original_uri: &str, cookie: Option<&str>) -> String {
    let mut request = format!(
        "GET /.auth/verify HTTP/1.0\r\n\
         Host: {APP_HOST}\r\n\
         X-Forwarded-Proto: https\r\n\
         X-Forwarded-Host: {original_host}\r\n\
         X-Forwarded-Uri: {original_uri}\r\n\
         X-Forwarded-Method: GET\r\n\
         X-Forwarded-For: 127.0.0.1\r\n\
         Accept: application/json\r\n\
         Connection: close\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    );
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: theme=dark; {cookie}\r\n"));
    }
    request.push_str("\r\n");
    request
}

#[tokio::test]
async fn verify_accepts_the_exact_request_shape_nginx_sends() {
    let (gateway, _app) = gateway_and_app(REDIRECT_CONFIG).await;
    let login = login_json(&gateway.client(), APP_HOST, "alice", ALICE_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text());
    let cookie = session_cookie(&login);
    let original_host = format!("{APP_HOST}:8443");
    let original_uri = "/docs/page?q=1&lang=en";

    // Logged in: 200 with the identity headers nginx copies with auth_request_set.
    let response = send_raw(
        &gateway,
        &nginx_verify_request(&original_host, original_uri, Some(&cookie)),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(
        response.all("x-forwarded-user"),
        ["alice"],
        "{}",
        response.head
    );
    assert_eq!(
        response.all("x-forwarded-groups"),
        ["admins"],
        "{}",
        response.head
    );
    assert_eq!(
        response.all("x-forwarded-email"),
        ["alice@example.test"],
        "{}",
        response.head
    );

    // Not logged in: 401, never the redirect a browser's navigation gets (auth_request
    // treats anything but 2xx, 401 and 403 as an error; the example replaces the browser's
    // Accept with application/json for that), with the login URL for nginx to redirect to: on the
    // original host and port, carrying the original path and query.
    let response = send_raw(
        &gateway,
        &nginx_verify_request(&original_host, original_uri, None),
    )
    .await;
    assert_eq!(response.status, 401, "{}", response.head);
    assert!(
        response.all("x-forwarded-user").is_empty(),
        "{}",
        response.head
    );
    let locations = response.all("location");
    assert_eq!(locations.len(), 1, "{}", response.head);
    let login_url: Uri = locations[0].parse().expect("Location is a URL");
    assert_eq!(login_url.scheme_str(), Some("https"), "{login_url}");
    assert_eq!(
        login_url.authority().map(|a| a.as_str()),
        Some(original_host.as_str()),
        "{login_url}"
    );
    assert_eq!(login_url.path(), "/.auth/login", "{login_url}");
    assert_eq!(rd_of(&login_url), original_uri, "{login_url}");
}
