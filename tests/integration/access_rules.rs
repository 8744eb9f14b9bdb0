//! Route access rules through the real binary: `{ users, groups, email_domains }` (any one
//! admits), `networks` (the client address after `trusted_proxies`, checked before any
//! token work) and `methods` (other methods go on to the next matching route, else 405 with
//! `Allow`).

use serde_json::json;

use crate::support::auth_config::auth_config;
use crate::support::client::{Protocol, TestResponse};
use crate::support::gateway::TestGateway;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256, with_claim};
use crate::support::upstream;

const HOST: &str = "app1.example.test";

async fn send(gateway: &TestGateway, request: Req) -> TestResponse {
    gateway
        .client()
        .send(request.build(), Protocol::Http1)
        .await
}

fn assert_answer(response: &TestResponse, status: u16, error: Option<&str>, what: &str) {
    assert_eq!(
        response.status.as_u16(),
        status,
        "{what}: {}",
        response.text()
    );
    if let Some(error) = error {
        assert_eq!(response.json()["error"], error, "{what}");
    }
}

#[tokio::test]
async fn listed_users_groups_and_email_domains_admit_and_everyone_else_gets_403() {
    let gateway = auth_config("builtin:whoami", "builtin:whoami")
        .routes(&format!(
            "[[route]]\nhost = \"{HOST}\"\npath = \"/users\"\nupstream = \"builtin:whoami\"\n\
             access = {{ users = [\"bob\"] }}\n\
             [[route]]\nhost = \"{HOST}\"\npath = \"/email\"\nupstream = \"builtin:whoami\"\n\
             access = {{ email_domains = [\"Example.Test\"] }}\n\
             [[route]]\nhost = \"{HOST}\"\npath = \"/mixed\"\nupstream = \"builtin:whoami\"\n\
             access = {{ users = [\"bob\"], groups = [\"ops\"], email_domains = [\"ops.example.test\"] }}\n"
        ))
        .start()
        .await;
    // alice: groups admins, dev; alice@example.test. bob: no groups, no email.
    let alice = mint_hs256(&claims("alice"));
    let bob = mint_hs256(&claims("bob"));
    let alice_elsewhere = mint_hs256(&with_claim(
        claims("alice"),
        "email",
        json!("alice@example.test.evil.net"),
    ));
    let cases = [
        ("/users/x", &bob, 200, None, "bob is listed"),
        (
            "/users/x",
            &alice,
            403,
            Some("forbidden"),
            "alice is not listed",
        ),
        (
            "/email/x",
            &alice,
            200,
            None,
            "alice's email domain is listed",
        ),
        ("/email/x", &bob, 403, Some("forbidden"), "bob has no email"),
        (
            "/email/x",
            &alice_elsewhere,
            403,
            Some("forbidden"),
            "a lookalike email domain",
        ),
        ("/mixed/x", &bob, 200, None, "bob by name"),
        (
            "/mixed/x",
            &alice,
            403,
            Some("forbidden"),
            "alice matches no criterion",
        ),
    ];
    for (path, token, status, error, what) in cases {
        let response = send(
            &gateway,
            Req::get(HOST, path)
                .accept("application/json")
                .bearer(token),
        )
        .await;
        assert_answer(&response, status, error, what);
        if status == 200 {
            let line = format!("GET {path} HTTP/1.1");
            assert!(
                response.text().starts_with(&line),
                "{what}: {}",
                response.text()
            );
        }
    }
    // No credential: 401, as for any protected route.
    let response = send(
        &gateway,
        Req::get(HOST, "/users/x").accept("application/json"),
    )
    .await;
    assert_answer(&response, 401, Some("unauthorized"), "anonymous");
}

#[tokio::test]
async fn networks_refuse_clients_outside_them_before_any_token_work() {
    let app = upstream::start("app").await;
    let url = app.url();
    let gateway = auth_config(&url, &url)
        .server("trusted_proxies = [\"127.0.0.1/32\"]")
        .routes(&format!(
            "[[route]]\nhost = \"{HOST}\"\npath = \"/office\"\nupstream = \"{url}\"\n\
             access = \"public\"\nnetworks = [\"10.0.0.0/8\", \"2001:db8::/32\"]\n\
             [[route]]\nhost = \"{HOST}\"\npath = \"/local\"\nupstream = \"{url}\"\n\
             access = \"authenticated\"\nnetworks = [\"127.0.0.0/8\"]\n"
        ))
        .start()
        .await;
    let alice = mint_hs256(&claims("alice"));

    // The test client connects from 127.0.0.1, a trusted proxy: the client address is the
    // nearest untrusted X-Forwarded-For hop, or the peer itself without one.
    for (xff, status, what) in [
        (Some("10.1.2.3"), 200, "inside 10.0.0.0/8"),
        (Some("2001:db8::7"), 200, "inside 2001:db8::/32"),
        (Some("10.1.2.3, 127.0.0.1"), 200, "a trusted hop is skipped"),
        (Some("11.0.0.1"), 403, "outside"),
        (
            Some("10.1.2.3, 11.0.0.1"),
            403,
            "the nearest untrusted hop counts",
        ),
        (None, 403, "the proxy's own address"),
    ] {
        let mut request = Req::get(HOST, "/office/plan").accept("application/json");
        if let Some(xff) = xff {
            request = request.header("x-forwarded-for", xff);
        }
        let response = send(&gateway, request).await;
        let error = (status == 403).then_some("network_not_allowed");
        assert_answer(&response, status, error, what);
    }
    let reached = app.received().len();
    assert_eq!(reached, 3, "{:?}", app.received());

    // Outside, a token is never looked at: an invalid one is not a 401, a valid one does
    // not open the route.
    for token in ["not.a.token", alice.as_str()] {
        let response = send(
            &gateway,
            Req::get(HOST, "/office/plan")
                .accept("application/json")
                .header("x-forwarded-for", "192.0.2.1")
                .bearer(token),
        )
        .await;
        assert_answer(&response, 403, Some("network_not_allowed"), token);
    }
    // A browser gets the HTML page, not a login redirect: signing in would not help.
    let response = send(
        &gateway,
        Req::get(HOST, "/office/plan")
            .accept("text/html")
            .header("x-forwarded-for", "192.0.2.1"),
    )
    .await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert!(
        response.text().contains("network_not_allowed"),
        "{}",
        response.text()
    );
    assert_eq!(app.received().len(), reached, "{:?}", app.received());

    // Inside, the access rule still applies.
    let response = send(
        &gateway,
        Req::get(HOST, "/local/x").accept("application/json"),
    )
    .await;
    assert_answer(&response, 401, Some("unauthorized"), "inside, anonymous");
    let response = send(
        &gateway,
        Req::get(HOST, "/local/x")
            .accept("application/json")
            .bearer(&alice),
    )
    .await;
    assert_answer(&response, 200, None, "inside, signed in");
}

#[tokio::test]
async fn methods_go_on_to_the_next_matching_route_or_get_405_with_allow() {
    let reader = upstream::start("reader").await;
    let writer = upstream::start("writer").await;
    let fallback = upstream::start("fallback").await;
    let gateway = auth_config("builtin:whoami", "builtin:whoami")
        .routes(&format!(
            "[[route]]\nhost = \"{HOST}\"\npath = \"/api\"\nupstream = \"{}\"\n\
             access = \"public\"\nmethods = [\"GET\", \"HEAD\"]\n\
             [[route]]\nhost = \"{HOST}\"\npath = \"/api\"\nupstream = \"{}\"\n\
             methods = [\"POST\"]\n\
             [[route]]\nhost = \"{HOST}\"\nupstream = \"{}\"\naccess = \"public\"\n\
             [[route]]\nhost = \"app2.example.test\"\npath = \"/docs\"\nupstream = \"{}\"\n\
             access = \"public\"\nmethods = [\"GET\", \"HEAD\"]\n",
            reader.url(),
            writer.url(),
            fallback.url(),
            reader.url(),
        ))
        .start()
        .await;
    let alice = mint_hs256(&claims("alice"));
    let get = send(
        &gateway,
        Req::get(HOST, "/api/items").accept("application/json"),
    )
    .await;
    assert_answer(&get, 200, None, "GET");
    assert_eq!(get.json()["upstream"], "reader");
    // POST is the writer's, whose rule (authenticated) applies to it.
    let post = |token: Option<&str>| {
        let request = Req::post(HOST, "/api/items")
            .accept("application/json")
            .json(&json!({ "a": 1 }));
        match token {
            Some(token) => request.bearer(token),
            None => request,
        }
    };
    let response = send(&gateway, post(None)).await;
    assert_answer(&response, 401, Some("unauthorized"), "POST anonymous");
    let response = send(&gateway, post(Some(&alice))).await;
    assert_answer(&response, 200, None, "POST signed in");
    assert_eq!(response.json()["upstream"], "writer");
    assert_eq!(writer.last().method, "POST");
    // DELETE: neither /api route serves it, so the host's / route does.
    let response = send(
        &gateway,
        Req::new(http::Method::DELETE, HOST, "/api/items").accept("application/json"),
    )
    .await;
    assert_answer(&response, 200, None, "DELETE falls through");
    assert_eq!(response.json()["upstream"], "fallback");

    // On app2 no other route matches: 405 with the methods the route serves.
    let before = reader.received().len();
    for method in [
        http::Method::DELETE,
        http::Method::POST,
        http::Method::OPTIONS,
    ] {
        let response = send(
            &gateway,
            Req::new(method.clone(), "app2.example.test", "/docs/a").accept("application/json"),
        )
        .await;
        assert_answer(&response, 405, Some("method_not_allowed"), method.as_str());
        assert_eq!(response.headers["allow"], "GET, HEAD", "{method}");
    }
    assert_eq!(reader.received().len(), before, "{:?}", reader.received());
    let response = send(
        &gateway,
        Req::get("app2.example.test", "/docs/a").accept("application/json"),
    )
    .await;
    assert_answer(&response, 200, None, "app2 GET");
    // A path none of app2's routes match stays a 404.
    let response = send(
        &gateway,
        Req::get("app2.example.test", "/other").accept("application/json"),
    )
    .await;
    assert_answer(&response, 404, Some("not_found"), "app2 unrouted");
}

#[tokio::test]
async fn no_spelling_of_the_x_auth_request_headers_reaches_a_proxied_app() {
    let app = upstream::start("app").await;
    let url = app.url();
    let gateway = auth_config(&url, &url).start().await;
    let alice = mint_hs256(&claims("alice"));
    let forged = [
        ("x-auth-request-user", "mallory"),
        ("X-Auth-Request-Email", "mallory@evil.test"),
        ("x_auth_request_groups", "admins"),
        ("X.Auth.Request.Preferred-Username", "mallory"),
        ("X-AUTH-REQUEST-USER", "mallory"),
    ];
    for (path, token) in [("/docs", Some(alice.as_str())), ("/public/x", None)] {
        let mut request = Req::get(HOST, path).accept("application/json");
        for (name, value) in forged {
            request = request.header(name, value);
        }
        if let Some(token) = token {
            request = request.bearer(token);
        }
        let response = send(&gateway, request).await;
        assert_answer(&response, 200, None, path);
        let received = app.last();
        for name in received.headers.keys() {
            let canonical = name.as_str().replace(['_', '.'], "-");
            assert!(
                !canonical.starts_with("x-auth-request-"),
                "{path}: {name} reached the app: {:?}",
                received.headers
            );
        }
    }
}
