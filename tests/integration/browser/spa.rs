//! `examples/spa/`, a single-page app behind the gateway, driven through its whole token
//! loop: JSON login, the token in `sessionStorage`, `Authorization: Bearer` on every
//! `fetch`, a 401 when the token expires, the sign-in view with the page to come back to,
//! and back.
//!
//! The app's files are served from a public route (the shell of a single-page app is no
//! secret); its API is a protected route. For the expiry, the token the app holds is
//! swapped for the same token issued long enough ago to have expired (see
//! [`expired_copy`]), so the gateway refuses it as expired without the test waiting for a
//! lifetime to pass.

use serde_json::{Value, json};

use crate::support::auth_config::{AuthConfig, auth_config};
use crate::support::browser::{Browser, SentRequest};
use crate::support::client::Protocol;
use crate::support::rejections::assert_invalid_token;
use crate::support::requests::Req;
use crate::support::tokens::expired_copy;
use crate::support::upstream;
use crate::support::users::ALICE_PASSWORD;

use super::site::{self, File};
use super::{assert_forwarded_as_alice, gateway_cookie, origin, requests_to, save_screenshot};

const INDEX_HTML: &str = include_str!("../../../examples/spa/index.html");
const APP_JS: &str = include_str!("../../../examples/spa/app.js");
const TOKEN_KEY: &str = "gateway.access_token";

/// The app at `spa.example.test`: its files on a public route, its API on a protected one.
fn spa_config(site: &str, api: &str) -> AuthConfig {
    auth_config(api, api).routes(&format!(
        "[[route]]\nhost = \"spa.example.test\"\nupstream = \"{site}\"\naccess = \"public\"\n\n\
         [[route]]\nhost = \"spa.example.test\"\npath = \"/api\"\nupstream = \"{api}\"\n"
    ))
}

/// The token the app holds (`null` when signed out).
async fn held_token(browser: &Browser) -> Value {
    browser
        .eval(&format!("sessionStorage.getItem('{TOKEN_KEY}')"))
        .await
}

/// Signs in through the app's own sign-in view.
async fn sign_in(browser: &Browser, password: &str) {
    browser.fill("#username", "alice").await;
    browser.fill("#password", password).await;
    browser.click("#login-form button").await;
}

/// The app's API and `/.auth/me` calls among `requests`.
fn api_calls(requests: &[SentRequest]) -> Vec<&SentRequest> {
    requests
        .iter()
        .filter(|r| r.url.contains("/api/") || r.url.ends_with("/.auth/me"))
        .collect()
}

/// Asserts every call in `calls` carried `Authorization: Bearer {token}`.
fn assert_bearer(calls: &[&SentRequest], token: &str) {
    assert!(!calls.is_empty(), "no API calls were made");
    for call in calls {
        assert_eq!(
            call.header("authorization"),
            Some(format!("Bearer {token}").as_str()),
            "{call:?}"
        );
    }
}

#[tokio::test]
async fn spa_signs_in_with_json_calls_the_api_with_bearer_and_after_expiry_signs_in_again_and_returns()
 {
    let api = upstream::start("api").await;
    let site = site::start(vec![
        File::new("/app.js", "text/javascript; charset=utf-8", APP_JS),
        File::new("*", "text/html; charset=utf-8", INDEX_HTML),
    ])
    .await;
    let config = spa_config(&site, &api.url());
    let gateway = config.start().await;
    let browser = Browser::launch(&gateway).await;
    let spa = origin(&gateway, "spa.example.test");

    // A deep link without a token: the app's API call gets a 401 (JSON: fetch is never
    // redirected to an HTML page), so it shows its sign-in view, remembering the page.
    browser.goto(&format!("{spa}/orders?page=2")).await;
    browser.wait_for_path("/login").await;
    assert_eq!(
        browser.url().await,
        format!("{spa}/login?rd=%2Forders%3Fpage%3D2")
    );
    assert_eq!(browser.eval("document.activeElement.id").await, "username");
    let first = browser.sent_requests().await;
    let calls = api_calls(&first);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "GET", "{calls:?}");
    assert!(calls[0].url.ends_with("/api/orders?page=2"), "{calls:?}");
    assert_eq!(calls[0].header("authorization"), None, "{calls:?}");
    assert!(api.received().is_empty(), "{:?}", api.received());

    // A wrong password: the message, no token.
    sign_in(&browser, "not-her-password").await;
    let error = browser
        .wait_for(
            "!document.getElementById('login-error').hidden && document.getElementById('login-error').innerText",
            "the sign-in error",
        )
        .await;
    assert_eq!(error, "Incorrect username or password.");
    assert_eq!(held_token(&browser).await, Value::Null);
    assert_eq!(browser.eval("document.activeElement.id").await, "password");
    save_screenshot(&browser, "spa-sign-in-error.png").await;

    // Signed in: back on exactly the page, which shows what the API answered.
    sign_in(&browser, ALICE_PASSWORD).await;
    browser.wait_for_path("/orders").await;
    assert_eq!(browser.url().await, format!("{spa}/orders?page=2"));
    let shown = browser.text("#api-response").await;
    let shown: Value = serde_json::from_str(&shown).expect("the API's JSON");
    assert_eq!(shown["upstream"], "api", "{shown}");
    assert_eq!(shown["path"], "/api/orders?page=2", "{shown}");
    assert_eq!(browser.text("#who").await, "alice");
    assert_forwarded_as_alice(&api, "GET", "/api/orders?page=2");
    save_screenshot(&browser, "spa-orders.png").await;
    let token = held_token(&browser).await;
    let token = token
        .as_str()
        .expect("a token in sessionStorage")
        .to_owned();

    // In-app navigation: the home view asks the gateway who is signed in, with the token.
    browser.click("nav a[href='/']").await;
    browser
        .wait_for(
            "document.querySelector('[data-field=user]') && document.querySelector('[data-field=user]').textContent === 'alice'",
            "the home view",
        )
        .await;
    assert_eq!(browser.url().await, format!("{spa}/"));
    let signed_in = browser.sent_requests().await;
    assert_bearer(&api_calls(&signed_in), &token);
    // The app relies on its token alone: the login's Set-Cookie was ignored (credentials:
    // "omit"), so the calls above were authenticated by the Bearer header.
    assert!(gateway_cookie(&browser).await.is_none());

    // The token expires; the next API call gets a 401 and the app asks to sign in again,
    // remembering the page it was going to. The API never sees that call.
    let expired_token = expired_copy(&token);
    browser
        .script(
            "sessionStorage.setItem(arguments[0], arguments[1]);",
            json!([TOKEN_KEY, expired_token]),
        )
        .await;
    assert_eq!(held_token(&browser).await, expired_token.as_str());
    browser.click("nav a[href='/orders?page=1']").await;
    browser.wait_for_path("/login").await;
    assert_eq!(
        browser.url().await,
        format!("{spa}/login?rd=%2Forders%3Fpage%3D1")
    );
    assert_eq!(held_token(&browser).await, Value::Null);
    let expired = browser.sent_requests().await;
    let calls = api_calls(&expired);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].url.ends_with("/api/orders?page=1"), "{calls:?}");
    assert_bearer(&calls, &expired_token);
    assert!(requests_to(&api, "/api/orders?page=1").is_empty());

    // Signing in again returns to that page with a new token.
    sign_in(&browser, ALICE_PASSWORD).await;
    browser.wait_for_path("/orders").await;
    assert_eq!(browser.url().await, format!("{spa}/orders?page=1"));
    assert!(
        browser
            .text("#api-response")
            .await
            .contains("/api/orders?page=1")
    );
    assert_forwarded_as_alice(&api, "GET", "/api/orders?page=1");
    let renewed = held_token(&browser).await;
    let renewed = renewed.as_str().expect("a new token").to_owned();
    assert_ne!(renewed, token);
    assert_ne!(renewed, expired_token);
    assert_bearer(&api_calls(&browser.sent_requests().await), &renewed);

    // Signing out revokes the token at the gateway, not only in the tab: the same request
    // succeeds before and fails after, well within the token's lifetime.
    let check = || {
        Req::get("spa.example.test", "/api/orders?page=1")
            .bearer(&renewed)
            .build()
    };
    let client = gateway.client();
    let response = client.send(check(), Protocol::Http1).await;
    assert_eq!(response.status, 200, "{}", response.text());
    browser.click("#sign-out").await;
    browser.wait_for_path("/login").await;
    assert_eq!(held_token(&browser).await, Value::Null);
    let response = client.send(check(), Protocol::Http1).await;
    assert_invalid_token(&response, "the token after signing out");
    assert!(
        unix_now() < token_exp(&browser, &renewed).await,
        "the token expired before its revocation could be checked"
    );
    assert_eq!(requests_to(&api, "/api/orders?page=1").len(), 2);

    browser.close().await;
}

/// The `exp` claim of `token`, decoded in the page the way the app decodes claims.
async fn token_exp(browser: &Browser, token: &str) -> u64 {
    browser
        .script(
            "const p = arguments[0].split('.')[1].replace(/-/g, '+').replace(/_/g, '/'); \
             return JSON.parse(atob(p)).exp;",
            serde_json::json!([token]),
        )
        .await
        .as_u64()
        .expect("exp")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}
