//! CSRF: unsafe methods and WebSocket upgrades authenticated by the cookie, and login/logout
//! posts, need an `Origin` (or, lacking one, a `Referer`) on an allowed https origin; Bearer
//! requests and non-browser JSON logins do not.

use crate::support::cookies::{gateway_set_cookie, sets_gateway_cookie};
use crate::support::env::env;
use crate::support::rejections::assert_error;
use crate::support::requests::{Req, form_encode, json_login};
use crate::support::tokens::{claims, mint_hs256};
use crate::support::users::ALICE_PASSWORD;

#[tokio::test]
async fn cookie_authenticated_post_needs_an_allowed_origin_or_referer() {
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    let post = || {
        Req::post("app1.example.test", "/submit")
            .cookie(&token)
            .body("application/x-www-form-urlencoded", "amount=100")
    };
    for (what, request) in [
        ("neither Origin nor Referer", post()),
        ("foreign Origin", post().origin("https://evil.test")),
        ("Origin null", post().origin("null")),
        ("http Origin", post().origin("http://app1.example.test")),
        (
            "look-alike Origin",
            post().origin("https://example.test.evil.test"),
        ),
        ("suffix Origin", post().origin("https://evilexample.test")),
        (
            "foreign Referer",
            post().header("referer", "https://evil.test/app1.example.test/"),
        ),
        (
            "foreign Origin beats a good Referer",
            post()
                .origin("https://evil.test")
                .header("referer", "https://app1.example.test/form"),
        ),
    ] {
        let response = env.send(request).await;
        assert_error(&response, 403, "csrf_rejected", what);
    }
    for method in [http::Method::PUT, http::Method::DELETE, http::Method::PATCH] {
        let response = env
            .send(Req::new(method.clone(), "app1.example.test", "/item").cookie(&token))
            .await;
        assert_error(&response, 403, "csrf_rejected", method.as_str());
    }
    assert_eq!(env.upstream_count(), 0, "{:?}", env.app1.received());

    let response = env.send(post().origin("https://app1.example.test")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(env.app1.last().method, "POST");
    let response = env.send(post().origin("https://app2.example.test")).await;
    assert_eq!(
        response.status,
        200,
        "a sibling subdomain: {}",
        response.text()
    );
    let response = env
        .send(post().header("referer", "https://app1.example.test/form?x=1"))
        .await;
    assert_eq!(response.status, 200, "a good Referer: {}", response.text());
    // Safe methods need no Origin.
    let response = env
        .send(Req::get("app1.example.test", "/page").cookie(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(env.app1.received().len(), 4);
}

/// Cross-site WebSocket hijacking: a page on another site can open a WebSocket to the app,
/// and the browser sends the cookie with the handshake (a GET). Browsers always send
/// `Origin` on it, so a cookie-authenticated upgrade needs an allowed one.
#[tokio::test]
async fn cookie_authenticated_websocket_upgrade_needs_an_allowed_origin() {
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    let upgrade = || {
        Req::get("app1.example.test", "/ws")
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    };
    for (what, request) in [
        (
            "foreign Origin",
            upgrade().cookie(&token).origin("https://evil.test"),
        ),
        ("no Origin", upgrade().cookie(&token)),
        (
            "http Origin",
            upgrade().cookie(&token).origin("http://app1.example.test"),
        ),
    ] {
        let response = env.send(request).await;
        assert_error(&response, 403, "csrf_rejected", what);
    }
    assert_eq!(env.upstream_count(), 0, "{:?}", env.app1.received());

    let same_site = env
        .send(upgrade().cookie(&token).origin("https://app1.example.test"))
        .await;
    assert_eq!(same_site.status, 101, "{}", same_site.text());
    // A token in the header is no ambient credential: any origin may use it.
    let bearer = env
        .send(upgrade().bearer(&token).origin("https://evil.test"))
        .await;
    assert_eq!(bearer.status, 101, "{}", bearer.text());
    assert_eq!(env.upstream_count(), 2);
}

#[tokio::test]
async fn bearer_authenticated_post_needs_no_origin() {
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    let response = env
        .send(
            Req::post("app1.example.test", "/api/items")
                .bearer(&token)
                .json(&serde_json::json!({ "name": "x" })),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last();
    assert_eq!(received.method, "POST");
    assert_eq!(received.headers["x-forwarded-user"], "alice");
}

#[tokio::test]
async fn login_form_post_needs_an_allowed_origin() {
    let env = env().await;
    let body = form_encode(&[
        ("username", "alice"),
        ("password", ALICE_PASSWORD),
        ("rd", "/"),
    ]);
    let form = || {
        Req::post("app1.example.test", "/.auth/login")
            .accept("text/html")
            .body("application/x-www-form-urlencoded", body.clone())
    };
    for (what, request) in [
        ("no Origin", form()),
        ("foreign Origin", form().origin("https://evil.test")),
        ("Origin null", form().origin("null")),
        (
            "foreign Referer",
            form().header("referer", "https://evil.test/login"),
        ),
    ] {
        let response = env.send(request).await;
        assert_eq!(response.status, 403, "{what}: {}", response.text());
        assert!(response.text().contains("csrf_rejected"), "{what}");
        assert!(
            !sets_gateway_cookie(&response.headers),
            "{what}: a login CSRF must not log the victim in"
        );
    }
    let response = env.send(form().origin("https://app1.example.test")).await;
    assert_eq!(response.status, 303, "{}", response.text());
    gateway_set_cookie(&response.headers);
}

#[tokio::test]
async fn json_login_without_origin_is_allowed_but_a_foreign_origin_is_rejected() {
    let env = env().await;
    let response = env
        .send(json_login("app1.example.test", "alice", ALICE_PASSWORD))
        .await;
    assert_eq!(response.status, 200, "no Origin: {}", response.text());
    gateway_set_cookie(&response.headers);

    for (what, request) in [
        (
            "foreign Origin",
            json_login("app1.example.test", "alice", ALICE_PASSWORD).origin("https://evil.test"),
        ),
        (
            "Origin null",
            json_login("app1.example.test", "alice", ALICE_PASSWORD).origin("null"),
        ),
    ] {
        let response = env.send(request).await;
        assert_error(&response, 403, "csrf_rejected", what);
        assert!(!sets_gateway_cookie(&response.headers), "{what}");
    }
    let response = env
        .send(
            json_login("app1.example.test", "alice", ALICE_PASSWORD)
                .origin("https://app2.example.test"),
        )
        .await;
    assert_eq!(response.status, 200, "allowed Origin: {}", response.text());
}

#[tokio::test]
async fn logout_without_an_allowed_origin_is_rejected_and_the_session_survives() {
    let env = env().await;
    let (_, cookie) = env.login("alice", ALICE_PASSWORD).await;
    for (what, request) in [
        (
            "no Origin",
            Req::post("app1.example.test", "/.auth/logout").cookie(&cookie),
        ),
        (
            "foreign Origin",
            Req::post("app1.example.test", "/.auth/logout")
                .cookie(&cookie)
                .origin("https://evil.test"),
        ),
    ] {
        let response = env.send(request).await;
        assert_error(&response, 403, "csrf_rejected", what);
        assert!(!sets_gateway_cookie(&response.headers), "{what}");
    }
    let response = env
        .send(Req::get("app2.example.test", "/").cookie(&cookie))
        .await;
    assert_eq!(
        response.status,
        200,
        "the session survived: {}",
        response.text()
    );
}
