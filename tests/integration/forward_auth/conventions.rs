//! `/.auth/verify` and the conventions other forward-auth services set: a browser
//! navigation, or any request with a safe `rd=`, is redirected to the login page (302), so
//! Traefik and Caddy pass the redirect on; the route is chosen with the original method
//! (`X-Forwarded-Method` / `X-Original-Method`) and the route's `networks` apply to the
//! address a trusted proxy reports; a 200 also carries `X-Auth-Request-*` (ingress-nginx,
//! oauth2-proxy).

use http::Request;
use http_body_util::Full;

use super::sources::{alice_cookie, assert_status, verify, with, x_forwarded};
use super::{APP_HOST, gateway_and_app, rd_of};
use crate::support::client::Protocol;

/// Routes added to the forward-auth gateway: `/readonly` serves GET and HEAD only (other
/// methods go on to app.example.test's `/` route); `ro.example.test` has nothing but a GET
/// route; `/office` admits 10.0.0.0/8 only.
const ROUTES: &str = r#"
[auth.redirect]
allowed_domains = ["example.test"]

[[route]]
host = "app.example.test"
path = "/readonly"
methods = ["GET", "HEAD"]
access = "public"
upstream = "builtin:whoami"

[[route]]
host = "ro.example.test"
methods = ["GET"]
access = "public"
upstream = "builtin:whoami"

[[route]]
host = "app.example.test"
path = "/office"
networks = ["10.0.0.0/8"]
upstream = "builtin:whoami"
"#;

const NAVIGATION: [(&str, &str); 2] = [
    ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ("sec-fetch-mode", "navigate"),
];

#[tokio::test]
async fn verify_redirects_browser_navigations_to_the_login_page() {
    let (gateway, _app) = gateway_and_app(ROUTES).await;
    let docs = x_forwarded("GET", "app.example.test:8443", "/docs/page?q=1");
    let response = verify(&gateway, &with(docs.clone(), &NAVIGATION)).await;
    assert_status(&response, 302, None, "navigation");
    let login = super::location(&response.headers);
    assert_eq!(
        login.to_string(),
        "https://app.example.test:8443/.auth/login?rd=%2Fdocs%2Fpage%3Fq%3D1"
    );
    assert_eq!(rd_of(&login), "/docs/page?q=1");
    // An invalid token is redirected the same way.
    let response = verify(
        &gateway,
        &with(
            docs.clone(),
            &[NAVIGATION[0], ("cookie", "gateway_token=x.y.z")],
        ),
    )
    .await;
    assert_status(&response, 302, None, "navigation with a stale cookie");

    // fetch/XHR and API clients keep the 401 and its challenge, with Location.
    for headers in [
        vec![("accept", "application/json")],
        vec![("accept", "text/html"), ("sec-fetch-mode", "cors")],
        vec![
            ("accept", "text/html"),
            ("x-requested-with", "XMLHttpRequest"),
        ],
    ] {
        let response = verify(&gateway, &with(docs.clone(), &headers)).await;
        assert_status(
            &response,
            401,
            Some("unauthorized"),
            &format!("{headers:?}"),
        );
        assert!(response.headers.contains_key("www-authenticate"));
        assert!(response.headers.contains_key("location"));
    }
    // A signed-in browser is let through, with no redirect.
    let cookie = alice_cookie(&gateway).await;
    let response = verify(&gateway, &with(docs, &[NAVIGATION[0], ("cookie", &cookie)])).await;
    assert_status(&response, 200, None, "signed in");
}

/// `GET /.auth/verify?<query>` with `headers`.
async fn verify_with_query(
    gateway: &super::TestGateway,
    query: &str,
    headers: &[(&str, &str)],
) -> crate::support::client::TestResponse {
    let mut request = Request::get(format!("/.auth/verify?{query}")).header("host", APP_HOST);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::default()).expect("request");
    gateway.client().send(request, Protocol::Http1).await
}

#[tokio::test]
async fn verify_redirects_any_request_with_a_safe_rd_and_never_to_an_unsafe_one() {
    let (gateway, _app) = gateway_and_app(ROUTES).await;
    let api = with(
        x_forwarded("GET", "app.example.test", "/docs/page"),
        &[("accept", "application/json")],
    );
    for rd in [
        "https://app.example.test/back?x=1",
        "https://other.example.test/",
        "/docs/page",
    ] {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("rd", rd)
            .finish();
        let response = verify_with_query(&gateway, &query, &api).await;
        assert_status(&response, 302, None, rd);
        let login = super::location(&response.headers);
        assert_eq!(login.path(), "/.auth/login", "{rd}");
        assert_eq!(rd_of(&login), rd);
    }
    // An rd the redirect rules refuse: no redirect at all; the 401's login URL returns to
    // the original page, never to the refused target.
    for rd in [
        "https://evil.test/",
        "//evil.test/",
        "https://example.test.evil.net/",
        "http://app.example.test/",
        "/\\evil.test",
    ] {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("rd", rd)
            .finish();
        for headers in [api.clone(), with(api.clone(), &NAVIGATION)] {
            let response = verify_with_query(&gateway, &query, &headers).await;
            assert_status(&response, 401, None, rd);
            let login = super::location(&response.headers);
            assert_eq!(rd_of(&login), "/docs/page", "{rd}");
        }
    }
}

#[tokio::test]
async fn verify_chooses_the_route_by_the_original_method() {
    let (gateway, _app) = gateway_and_app(ROUTES).await;
    let json = ("accept", "application/json");
    // GET /readonly is the public route; POST falls through to the host's `/` route.
    let get = x_forwarded("GET", "app.example.test", "/readonly/x");
    assert_status(
        &verify(&gateway, &with(get, &[json])).await,
        200,
        None,
        "GET",
    );
    let post = x_forwarded("POST", "app.example.test", "/readonly/x");
    let response = verify(&gateway, &with(post, &[json])).await;
    assert_status(&response, 401, Some("unauthorized"), "POST falls through");
    // A host with only a GET route: any other method is refused (403, which every proxy
    // passes on; nginx's auth_request would turn a 405 into a 500).
    for (method, status) in [("GET", 200), ("HEAD", 403), ("DELETE", 403)] {
        let headers = x_forwarded(method, "ro.example.test", "/x");
        let response = verify(&gateway, &with(headers, &[json])).await;
        assert_status(&response, status, None, method);
    }
}

#[tokio::test]
async fn verify_reads_x_original_method_under_url_from_x_original_url() {
    let config = format!("{ROUTES}\n[forward_auth]\nurl_from = \"x-original-url\"\n");
    let (gateway, _app) = gateway_and_app(&config).await;
    for (method, status) in [("GET", 200), ("PUT", 403)] {
        let headers = [
            ("x-original-url", "https://ro.example.test/x"),
            ("x-original-method", method),
            ("x-forwarded-method", "GET"),
            ("accept", "application/json"),
        ];
        let response = verify(&gateway, &headers).await;
        assert_status(&response, status, None, method);
    }
}

#[tokio::test]
async fn verify_applies_networks_to_the_address_a_trusted_proxy_reports() {
    // The forward-auth gateway trusts 127.0.0.1, where the test connects from.
    let (gateway, _app) = gateway_and_app(ROUTES).await;
    let cookie = alice_cookie(&gateway).await;
    let office = x_forwarded("GET", "app.example.test", "/office/plan");
    let json = ("accept", "application/json");
    for (xff, status) in [("10.9.8.7", 200), ("203.0.113.5", 403)] {
        let headers = with(
            office.clone(),
            &[json, ("cookie", &cookie), ("x-forwarded-for", xff)],
        );
        let response = verify(&gateway, &headers).await;
        let error = (status == 403).then_some("network_not_allowed");
        assert_status(&response, status, error, xff);
    }
    // Outside, not even a browser is sent to sign in: the address is the reason.
    let headers = with(office, &[NAVIGATION[0], ("x-forwarded-for", "203.0.113.5")]);
    assert_status(
        &verify(&gateway, &headers).await,
        403,
        None,
        "navigation outside",
    );
}

#[tokio::test]
async fn verify_answers_the_x_auth_request_headers_beside_the_configured_ones() {
    let (gateway, _app) = gateway_and_app(ROUTES).await;
    let cookie = alice_cookie(&gateway).await;
    let headers = with(
        x_forwarded("GET", "app.example.test", "/docs"),
        &[("cookie", &cookie), ("accept", "application/json")],
    );
    let response = verify(&gateway, &headers).await;
    assert_status(&response, 200, None, "signed in");
    for (name, value) in [
        ("x-forwarded-user", "alice"),
        ("x-forwarded-groups", "admins"),
        ("x-forwarded-email", "alice@example.test"),
        ("x-auth-request-user", "alice"),
        ("x-auth-request-preferred-username", "alice"),
        ("x-auth-request-groups", "admins"),
        ("x-auth-request-email", "alice@example.test"),
    ] {
        let values: Vec<_> = response.headers.get_all(name).iter().collect();
        assert_eq!(values, [value], "{name}: {:?}", response.headers);
    }
    // A public route answers no identity at all.
    let headers = with(
        x_forwarded("GET", "app.example.test", "/public/x"),
        &[("cookie", &cookie)],
    );
    let response = verify(&gateway, &headers).await;
    assert_status(&response, 200, None, "public");
    assert!(
        response
            .headers
            .keys()
            .all(|name| !name.as_str().starts_with("x-auth-request-")),
        "{:?}",
        response.headers
    );
}
