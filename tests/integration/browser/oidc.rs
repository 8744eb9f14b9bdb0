//! Signing in with the identity provider in Chromium: a deep link, the gateway's login
//! page, "Sign in with Corp SSO", the provider's own form, and back exactly at the deep
//! link; the second app without a login; signing out at the gateway and the provider.

use crate::oidc::{AFTER_LOGOUT, CALLBACK, sso};
use crate::support::browser::Browser;

use super::{gateway_cookie, origin, shown_json};

#[tokio::test]
async fn deep_link_to_provider_login_and_back_then_sso_to_app2_and_sign_out() {
    let mut sso = sso("").await;
    let app1 = origin(&sso.gateway, "app1.example.test");
    let app2 = origin(&sso.gateway, "app2.example.test");
    // The browser reaches the gateway on its ephemeral port: that is the callback.
    let callback = format!("{app1}/.auth/oidc/corp/callback");
    let after = format!("{app1}/.auth/login");
    sso.provider
        .set_gateway_client(&[&callback, CALLBACK], &[&after, AFTER_LOGOUT])
        .await;
    let browser = Browser::launch_trusting(&sso.gateway, &[sso.provider.tls_key_path()]).await;

    browser.goto(&format!("{app1}/some/page?x=1")).await;
    assert_eq!(
        browser.url().await,
        format!("{app1}/.auth/login?rd=%2Fsome%2Fpage%3Fx%3D1")
    );
    assert_eq!(browser.text("a.idp").await, "Sign in with Corp SSO");
    browser.click("a.idp").await;

    // The provider's own login form.
    let provider_host = sso.provider.issuer().replace("https://", "");
    browser
        .wait_for(
            &format!(
                "location.host === {:?} && document.querySelector('input[name=login]')",
                provider_host
            ),
            "the provider's login form",
        )
        .await;
    browser.fill("input[name=login]", "alice").await;
    browser.fill("input[name=password]", "any").await;
    browser.click("button[type=submit]").await;

    // Back exactly at the deep link, signed in, the upstream told who it is.
    browser.wait_for_path("/some/page").await;
    assert_eq!(browser.url().await, format!("{app1}/some/page?x=1"));
    let shown = shown_json(&browser).await;
    assert_eq!(shown["path"], "/some/page?x=1", "{shown}");
    assert!(gateway_cookie(&browser).await.is_some());
    let seen = sso.app1.last();
    assert_eq!(seen.headers["x-forwarded-user"], "alice");
    assert_eq!(seen.headers["x-forwarded-groups"], "staff,admins");

    // The second app: no login.
    browser.goto(&format!("{app2}/")).await;
    browser.wait_for_path("/").await;
    assert_eq!(browser.url().await, format!("{app2}/"));
    shown_json(&browser).await;
    assert_eq!(sso.app2.last().headers["x-forwarded-user"], "alice");

    // Sign out: the gateway's confirmation, then the provider's, then our login page.
    browser.goto(&format!("{app1}/.auth/logout")).await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for(
            &format!("location.host === {provider_host:?} && document.querySelector('button')"),
            "the provider's sign-out confirmation",
        )
        .await;
    browser
        .click("button[autofocus], button[value=yes], button[type=submit]")
        .await;
    browser.wait_for_path("/.auth/login").await;
    assert!(
        browser.url().await.starts_with(&after),
        "{}",
        browser.url().await
    );
    assert!(gateway_cookie(&browser).await.is_none());
    browser.goto(&format!("{app2}/")).await;
    browser.wait_for_path("/.auth/login").await;
    browser.close().await;
}
