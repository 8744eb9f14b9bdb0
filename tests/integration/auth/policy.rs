//! The access policy: routes are authenticated unless they say otherwise, group routes need
//! the group, and an unauthenticated browser is sent to the login page while an API client
//! gets a 401 it can act on.

use crate::support::client::TestResponse;
use crate::support::env::{env, env_with};
use crate::support::rejections::{
    CHALLENGE, INVALID_TOKEN_CHALLENGE, assert_error, assert_unauthorized,
};
use crate::support::requests::{Req, query_param};
use crate::support::tokens::{claims, mint_hs256, now, with_claim};
use crate::support::users::{ALICE_PASSWORD, BOB_PASSWORD};

/// What Firefox sends for a top-level navigation.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn group_route_forbids_users_outside_the_group() {
    let env = env().await;
    let (bob_token, bob_cookie) = env.login("bob", BOB_PASSWORD).await;
    let (_, alice_cookie) = env.login("alice", ALICE_PASSWORD).await;

    let response = env
        .send(Req::get("app1.example.test", "/admin/panel").cookie(&bob_cookie))
        .await;
    assert_error(&response, 403, "forbidden", "bob's cookie on /admin");
    let response = env
        .send(Req::get("app1.example.test", "/admin").bearer(&bob_token))
        .await;
    assert_error(&response, 403, "forbidden", "bob's token on /admin");
    let response = env.send(Req::get("app1.example.test", "/admin")).await;
    assert_unauthorized(&response, "nobody on /admin");
    assert_eq!(env.upstream_count(), 0);

    let response = env
        .send(Req::get("app1.example.test", "/admin/panel").cookie(&alice_cookie))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last();
    assert_eq!(received.target, "/admin/panel");
    assert_eq!(received.headers["x-forwarded-user"], "alice");
    // bob is still fine on the merely authenticated part of the same host.
    let response = env
        .send(Req::get("app1.example.test", "/home").cookie(&bob_cookie))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn route_without_access_requires_authentication() {
    let app = crate::support::upstream::start("app").await;
    let env = env_with(|c| c.routes(&format!("[[route]]\nupstream = \"{}\"\n", app.url()))).await;
    let response = env.send(Req::get("app1.example.test", "/")).await;
    assert_unauthorized(&response, "a route without access");
    let response = env.send(Req::get("localhost", "/anything")).await;
    assert_unauthorized(&response, "a route without access, any host");
    assert!(app.received().is_empty(), "{:?}", app.received());

    let token = mint_hs256(&claims("bob"));
    let response = env
        .send(Req::get("localhost", "/anything").bearer(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(app.last().headers["x-forwarded-user"], "bob");
}

#[tokio::test]
async fn common_config_route_without_access_requires_authentication() {
    // app2's route in the common config has no `access` line.
    let env = env().await;
    let response = env.send(Req::get("app2.example.test", "/")).await;
    assert_unauthorized(&response, "app2 without credentials");
    assert_eq!(env.upstream_count(), 0);
}

/// What is wrong with `response` as a 401 JSON answer with `code` and `challenge`.
fn json_401_problems(
    response: &TestResponse,
    code: &str,
    challenge: &str,
    what: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    if response.status != 401 {
        problems.push(format!("{what}: status {}", response.status));
    }
    if let Some(location) = response.headers.get("location") {
        problems.push(format!("{what}: redirected to {location:?}"));
    }
    let content_type = response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        problems.push(format!("{what}: content-type {content_type:?}, not JSON"));
    }
    match serde_json::from_slice::<serde_json::Value>(&response.body) {
        Ok(body) if body["error"] == code => {}
        _ => problems.push(format!(
            "{what}: body is not {{\"error\":\"{code}\"}}: {}",
            response.text()
        )),
    }
    let www_authenticate = response
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    if www_authenticate != Some(challenge) {
        problems.push(format!("{what}: WWW-Authenticate {www_authenticate:?}"));
    }
    problems
}

/// Asserts a redirect to the login page whose `rd` is `rd`.
fn assert_login_redirect(response: &TestResponse, status: u16, rd: &str, what: &str) {
    assert_eq!(response.status, status, "{what}: {}", response.text());
    let location = response.headers["location"].to_str().expect("location");
    assert!(location.starts_with("/.auth/login?"), "{what}: {location}");
    assert_eq!(
        query_param(location, "rd").as_deref(),
        Some(rd),
        "{what}: {location}"
    );
    assert!(response.headers.get("set-cookie").is_none(), "{what}");
}

#[tokio::test]
async fn browser_navigation_without_credentials_is_redirected_to_login() {
    let env = env().await;
    let response = env
        .send(Req::get("app1.example.test", "/some/page?x=1").accept(BROWSER_ACCEPT))
        .await;
    assert_login_redirect(&response, 302, "/some/page?x=1", "GET navigation");

    let response = env
        .send(
            Req::get("app2.example.test", "/x")
                .accept(BROWSER_ACCEPT)
                .header("sec-fetch-mode", "navigate"),
        )
        .await;
    assert_login_redirect(&response, 302, "/x", "Sec-Fetch-Mode: navigate");

    let response = env
        .send(
            Req::post("app1.example.test", "/form?step=2")
                .accept(BROWSER_ACCEPT)
                .form(&[("field", "value")]),
        )
        .await;
    assert_login_redirect(&response, 303, "/form?step=2", "POST navigation");

    // An expired cookie in a browser: the same redirect.
    let expired = mint_hs256(&with_claim(
        claims("alice"),
        "exp",
        serde_json::json!(now() - 600),
    ));
    let response = env
        .send(
            Req::get("app1.example.test", "/page")
                .accept(BROWSER_ACCEPT)
                .cookie(&expired),
        )
        .await;
    assert_login_redirect(&response, 302, "/page", "navigation with an expired cookie");
    assert_eq!(env.upstream_count(), 0);
}

#[tokio::test]
async fn fetch_and_xhr_requests_get_401_json_instead_of_a_redirect() {
    let env = env().await;
    let mut problems = Vec::new();
    for (what, request) in [
        (
            "Accept: */*",
            Req::get("app1.example.test", "/api/data").accept("*/*"),
        ),
        (
            "no Accept",
            Req::get("app1.example.test", "/api/data").accept(""),
        ),
        (
            "Accept: application/json",
            Req::get("app1.example.test", "/api/data"),
        ),
        (
            "Sec-Fetch-Mode: cors",
            Req::get("app1.example.test", "/api/data")
                .accept(BROWSER_ACCEPT)
                .header("sec-fetch-mode", "cors"),
        ),
        (
            "X-Requested-With",
            Req::get("app1.example.test", "/api/data")
                .accept(BROWSER_ACCEPT)
                .header("x-requested-with", "XMLHttpRequest"),
        ),
        (
            "POST fetch",
            Req::post("app1.example.test", "/api/data")
                .accept("*/*")
                .header("sec-fetch-mode", "cors"),
        ),
    ] {
        let response = env.send(request).await;
        problems.extend(json_401_problems(
            &response,
            "unauthorized",
            CHALLENGE,
            what,
        ));
    }
    // An invalid token from a fetch: 401 invalid_token, not a redirect nor a page.
    let response = env
        .send(
            Req::get("app1.example.test", "/api/data")
                .accept(BROWSER_ACCEPT)
                .header("sec-fetch-mode", "cors")
                .bearer("not.a.token"),
        )
        .await;
    problems.extend(json_401_problems(
        &response,
        "invalid_token",
        INVALID_TOKEN_CHALLENGE,
        "cors fetch with an invalid token",
    ));
    // Every case is checked before failing, so that the report lists them all.
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(env.upstream_count(), 0);
}

/// A client uploading to a protected route without a token reads the 401, not a reset: the
/// gateway reads the body on (up to its limit) before answering, because answering and
/// closing while the client still sends makes the client's TCP stack reset the connection
/// (RFC 9112 section 9.6, lingering close).
#[tokio::test]
async fn an_unauthenticated_upload_is_answered_not_reset() {
    let env = env().await;
    for size in [64 * 1024, 2 * 1024 * 1024] {
        let upload = Req::post("app1.example.test", "/upload")
            .body("application/octet-stream", vec![b'u'; size]);
        let response = env.send(upload).await;
        assert_eq!(response.status, 401, "{size} bytes");
    }
    assert_eq!(env.upstream_count(), 0);
}
