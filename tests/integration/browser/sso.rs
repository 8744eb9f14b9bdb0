//! Signing in from a deep link, single sign-on across subdomains and signing out, as a user
//! does it in Chromium: one browser, one session, the journeys in order.

use crate::support::browser::Browser;
use crate::support::env::env;
use crate::support::users::ALICE_PASSWORD;

use super::{
    assert_forwarded_as_alice, gateway_cookie, origin, requests_to, shown_json, submit_login_form,
};

#[tokio::test]
async fn deep_link_sign_in_returns_to_the_page_opens_app2_without_login_and_sign_out_ends_both() {
    let env = env().await;
    let browser = Browser::launch(&env.gateway).await;
    let app1 = origin(&env.gateway, "app1.example.test");
    let app2 = origin(&env.gateway, "app2.example.test");

    // 1. A deep link to a protected page lands on the sign-in page, which names the site
    //    and remembers the page.
    browser.goto(&format!("{app1}/some/page?x=1")).await;
    assert_eq!(
        browser.url().await,
        format!("{app1}/.auth/login?rd=%2Fsome%2Fpage%3Fx%3D1")
    );
    assert_eq!(browser.text("h1").await, "Sign in to app1.example.test");
    assert_eq!(browser.eval("document.activeElement.id").await, "username");
    assert!(
        env.app1.received().is_empty(),
        "app1 was reached without a login: {:?}",
        env.app1.received()
    );

    // A wrong password: the same page again with one clear message, the username kept,
    // the fields marked invalid, focus in the password field, no cookie.
    submit_login_form(&browser, "alice", "not-her-password").await;
    let alert = browser
        .wait_for(
            "document.querySelector('[role=alert]') && document.querySelector('[role=alert]').innerText",
            "the sign-in error",
        )
        .await;
    assert_eq!(alert, "Incorrect username or password.");
    assert_eq!(browser.eval("location.pathname").await, "/.auth/login");
    assert_eq!(
        browser
            .eval("document.getElementById('username').value")
            .await,
        "alice"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('password').value")
            .await,
        ""
    );
    assert_eq!(browser.eval("document.activeElement.id").await, "password");
    assert_eq!(
        browser
            .eval("document.getElementById('password').getAttribute('aria-describedby') === document.querySelector('[role=alert]').id")
            .await,
        true
    );
    assert_eq!(
        browser
            .eval("document.querySelector('[name=rd]').value")
            .await,
        "/some/page?x=1"
    );
    assert!(gateway_cookie(&browser).await.is_none());
    assert!(env.app1.received().is_empty());

    // The right password: back on exactly the page that was asked for, and app1 saw alice.
    submit_login_form(&browser, "alice", ALICE_PASSWORD).await;
    browser.wait_for_path("/some/page").await;
    assert_eq!(browser.url().await, format!("{app1}/some/page?x=1"));
    let shown = shown_json(&browser).await;
    assert_eq!(shown["upstream"], "app1", "{shown}");
    assert_eq!(shown["path"], "/some/page?x=1", "{shown}");
    assert_forwarded_as_alice(&env.app1, "GET", "/some/page?x=1");
    // The session cookie is on the parent domain, out of reach of page scripts.
    let cookie = gateway_cookie(&browser).await.expect("the gateway cookie");
    assert_eq!(cookie["domain"], ".example.test", "{cookie}");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["secure"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Lax", "{cookie}");
    assert_eq!(browser.eval("document.cookie").await, "");

    // 2. The sibling app opens without another sign-in.
    browser.goto(&format!("{app2}/")).await;
    assert_eq!(browser.url().await, format!("{app2}/"));
    let shown = shown_json(&browser).await;
    assert_eq!(shown["upstream"], "app2", "{shown}");
    assert_forwarded_as_alice(&env.app2, "GET", "/");

    // 3. Sign out on app2: a GET only asks; the button signs out and shows the sign-in page.
    browser.goto(&format!("{app2}/.auth/logout")).await;
    assert_eq!(browser.text("h1").await, "Sign out of app2.example.test?");
    assert!(gateway_cookie(&browser).await.is_some(), "a GET signed out");
    browser.click("button[type=submit]").await;
    browser.wait_for_path("/.auth/login").await;
    assert!(
        browser
            .url()
            .await
            .starts_with(&format!("{app2}/.auth/login"))
    );
    assert!(gateway_cookie(&browser).await.is_none());

    // … and app1 asks for a login again; its upstream sees nothing more.
    browser.goto(&format!("{app1}/some/page?x=1")).await;
    assert_eq!(
        browser.url().await,
        format!("{app1}/.auth/login?rd=%2Fsome%2Fpage%3Fx%3D1")
    );
    assert_eq!(browser.text("h1").await, "Sign in to app1.example.test");
    assert_eq!(requests_to(&env.app1, "/some/page?x=1").len(), 1);
    assert!(requests_to(&env.app2, "/.auth/logout").is_empty());

    browser.close().await;
}
