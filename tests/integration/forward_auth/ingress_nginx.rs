//! ingress-nginx's external auth (`auth-url`, `auth-signin`, `auth-response-headers`)
//! asking the gateway's `/.auth/verify`: the shipped `examples/ingress-nginx/ingress.yaml`,
//! and the nginx config the controller generates for it
//! (`examples/ingress-nginx/nginx-equivalent.conf`), run in real nginx with set-misc's
//! `set_escape_uri` (which the controller builds in) and the test's addresses substituted.

use std::net::SocketAddr;

use super::nginx::run_nginx;
use super::spoofing::the_client_cannot_choose_the_url_that_is_judged;
use super::{
    APP_HOST, Proxy, UNROUTED_HOST, gateway_and_app, location,
    only_the_gateways_identity_reaches_the_app, rd_of, session_cookie, substitute,
};
use crate::support::gateway::TestGateway;
use crate::support::requests::login_json;
use crate::support::upstream::Upstream;
use crate::support::users::ALICE_PASSWORD;
use crate::support::yaml::Yaml;

const EQUIVALENT: &str = include_str!("../../../examples/ingress-nginx/nginx-equivalent.conf");
const INGRESS: &str = include_str!("../../../examples/ingress-nginx/ingress.yaml");

/// What examples/ingress-nginx/README.md adds to the gateway's config.
const GATEWAY_CONFIG: &str = r#"
[auth.redirect]
allowed_domains = ["example.test"]
"#;

/// Starts nginx with the generated config in front of `gateway` and `app`.
async fn start(gateway: SocketAddr, app: SocketAddr) -> Proxy {
    run_nginx(
        &["ndk_http_module.so", "ngx_http_set_misc_module.so"],
        |listen, cert| {
            substitute(
                "examples/ingress-nginx/nginx-equivalent.conf",
                EQUIVALENT,
                &[
                    (
                        "listen 443 ssl http2;",
                        format!("listen {listen} ssl http2;"),
                    ),
                    (
                        "listen 443 ssl http2 default_server;",
                        format!("listen {listen} ssl http2 default_server;"),
                    ),
                    // The Ingress also names a host the gateway has no route for.
                    (
                        "server_name app.example.com;",
                        format!("server_name {APP_HOST} {UNROUTED_HOST};"),
                    ),
                    (
                        "/etc/ingress-controller/ssl/app-example-com-tls.crt",
                        cert.cert.display().to_string(),
                    ),
                    (
                        "/etc/ingress-controller/ssl/app-example-com-tls.key",
                        cert.key.display().to_string(),
                    ),
                    ("gateway.auth.svc.cluster.local:8443", gateway.to_string()),
                    // The test's port, which a real Ingress on 443 does not need.
                    (
                        "https://$host/.auth/login",
                        format!("https://$host:{}/.auth/login", listen.port()),
                    ),
                    ("server 127.0.0.1:9001;", format!("server {app};")),
                ],
            )
        },
    )
    .await
}

async fn setup() -> (TestGateway, Upstream, Proxy) {
    let (gateway, app) = gateway_and_app(GATEWAY_CONFIG).await;
    let proxy = start(gateway.addr, app.addr).await;
    (gateway, app, proxy)
}

#[tokio::test]
async fn ingress_nginx_sends_unauthenticated_requests_to_the_login_page() {
    let (_gateway, app, proxy) = setup().await;
    let original = "/docs/page?q=1&lang=en";
    // ingress-nginx redirects every 401 to auth-signin, browsers and API clients alike.
    for headers in [
        vec![
            ("accept", "text/html,*/*;q=0.8"),
            ("sec-fetch-mode", "navigate"),
        ],
        vec![("accept", "application/json")],
    ] {
        let response = proxy.get(original, &headers).await;
        assert_eq!(response.status, 302, "{}\n{}", response.text(), proxy.log());
        let login = location(&response.headers);
        assert_eq!(
            login.authority().map(|a| a.as_str()),
            Some(proxy.host().as_str()),
            "{login}"
        );
        assert_eq!(login.path(), "/.auth/login", "{login}");
        assert_eq!(rd_of(&login), original, "{login}");
    }
    // The login page is served on this host, through the Ingress of the gateway's pages.
    let page = proxy
        .get(
            &format!("/.auth/login?rd={}", "%2Fdocs"),
            &[("accept", "text/html")],
        )
        .await;
    assert_eq!(page.status, 200, "{}\n{}", page.text(), proxy.log());
    assert!(page.text().contains("<form"), "{}", page.text());
    assert!(app.received().is_empty(), "{:?}", app.received());
}

#[tokio::test]
async fn ingress_nginx_passes_the_gateways_identity_never_the_clients() {
    let (_gateway, app, proxy) = setup().await;
    only_the_gateways_identity_reaches_the_app(&proxy, &app).await;

    // The X-Auth-Request-* convention, from the gateway's answer only, in every spelling.
    let login = login_json(&proxy.client(), &proxy.host(), "alice", ALICE_PASSWORD).await;
    let cookie = session_cookie(&login);
    let forged = [
        ("x-auth-request-user", "mallory"),
        ("X-Auth-Request-Groups", "ops"),
        ("x-auth-request-email", "mallory@evil.test"),
        ("x-auth-request-preferred-username", "mallory"),
        ("x_auth_request_user", "mallory"),
        ("X.Auth.Request.Groups", "ops"),
    ];
    for (path, signed_in) in [("/docs/x", true), ("/public/x", false)] {
        let mut headers = vec![("accept", "application/json")];
        if signed_in {
            headers.push(("cookie", &cookie));
        }
        headers.extend(forged);
        let response = proxy.get(path, &headers).await;
        assert_eq!(
            response.status,
            200,
            "{path}: {}\n{}",
            response.text(),
            proxy.log()
        );
        let received = app.last();
        assert_eq!(received.target, path);
        let expected: &[(&str, &str)] = if signed_in {
            &[
                ("x-auth-request-user", "alice"),
                ("x-auth-request-preferred-username", "alice"),
                ("x-auth-request-groups", "admins"),
                ("x-auth-request-email", "alice@example.test"),
            ]
        } else {
            &[]
        };
        for name in received.headers.keys() {
            let canonical = name.as_str().replace(['_', '.'], "-");
            if canonical.starts_with("x-auth-request-") {
                assert!(
                    expected.iter().any(|(n, _)| *n == name.as_str()),
                    "{path}: {name} reached the app: {:?}",
                    received.headers
                );
            }
        }
        for (name, value) in expected {
            let values: Vec<_> = received.headers.get_all(*name).iter().collect();
            assert_eq!(values, [*value], "{path} {name}: {:?}", received.headers);
        }
    }
}

#[tokio::test]
async fn ingress_nginx_judges_the_url_the_client_asked_for() {
    let (_gateway, app, proxy) = setup().await;
    // ingress-nginx redirects every 401 to auth-signin.
    the_client_cannot_choose_the_url_that_is_judged(&proxy, &app, 302).await;
}

/// The Ingress's annotations are the ones the equivalent config was generated from.
#[test]
fn ingress_yaml_annotations_match_the_generated_config() {
    let documents: Vec<Yaml> = INGRESS.split("\n---\n").map(Yaml::parse).collect();
    let annotation = |name: &str| -> String {
        let key = format!("metadata.annotations.nginx.ingress.kubernetes.io/{name}");
        let values: Vec<&str> = documents.iter().flat_map(|d| d.values(&key)).collect();
        assert_eq!(values.len(), 1, "{key}: {values:?}");
        values[0].to_owned()
    };
    let auth_url = annotation("auth-url");
    assert!(
        EQUIVALENT.contains(&format!("proxy_pass {auth_url};")),
        "{auth_url}"
    );
    let signin = annotation("auth-signin");
    assert!(
        EQUIVALENT.contains(&format!("return 302 {signin};")),
        "{signin}"
    );
    for header in annotation("auth-response-headers").split(',') {
        let variable = header.to_ascii_lowercase().replace('-', "_");
        assert!(
            EQUIVALENT.contains(&format!("$upstream_http_{variable};"))
                && EQUIVALENT.contains(&format!("proxy_set_header '{header}'")),
            "{header}"
        );
    }
    assert_eq!(
        annotation("auth-proxy-set-headers"),
        "apps/gateway-auth-request"
    );
    // Every header of the ConfigMap is set on the auth request, as the controller writes it.
    let document = documents
        .iter()
        .find(|d| d.values("metadata.name") == ["gateway-auth-request"])
        .expect("the ConfigMap of auth-proxy-set-headers");
    for (name, value) in [
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Forwarded-Host", "$host"),
        ("X-Forwarded-Uri", "$request_uri"),
        ("X-Forwarded-Method", "$request_method"),
        ("Accept", "application/json"),
    ] {
        assert_eq!(document.values(&format!("data.{name}")), [value], "{name}");
        let line = format!("proxy_set_header '{name}' '{value}';");
        assert!(EQUIVALENT.contains(&line), "{line}");
    }
}
