//! The second factor in Chromium: a deep link, the password, the code step (a code from
//! pyotp) and back at the deep link; step-up from a password-only session on an admin
//! route that requires the factor; the code step's accessibility, with a screenshot for
//! the README (`docs/login-code.png`, refreshed with `UPDATE_DOCS_SCREENSHOTS=1`).

use serde_json::json;

use crate::support::browser::Browser;
use crate::support::cookies::COOKIE;
use crate::support::tokens::{claims, mint_hs256, token_part, with_claim};
use crate::support::totp::{ALICE_TOTP, Clock, env_2fa};
use crate::support::users::ALICE_PASSWORD;

use super::login_page::{assert_page_accessible, screenshot};
use super::{gateway_cookie, origin, requests_to, submit_login_form};

/// Types a code from pyotp into the code step and submits it.
async fn submit_code(browser: &Browser) {
    browser
        .wait_for("document.getElementById('code')", "the code step")
        .await;
    browser
        .fill("#code", &Clock::now().current(ALICE_TOTP))
        .await;
    browser.click("button[type=submit]").await;
}

#[tokio::test]
async fn deep_link_password_code_step_and_back_at_the_deep_link() {
    let env = env_2fa(|c| c).await;
    let browser = Browser::launch(&env.gateway).await;
    let app1 = origin(&env.gateway, "app1.example.test");
    browser.goto(&format!("{app1}/reports/q3?y=2025")).await;
    browser.wait_for_path("/.auth/login").await;
    submit_login_form(&browser, "alice", ALICE_PASSWORD).await;

    // The code step: its own page, the code field focused, no cookie yet.
    browser
        .wait_for("document.getElementById('code')", "the code step")
        .await;
    assert_eq!(browser.text("h1").await, "Sign in to app1.example.test");
    assert_eq!(
        browser.text("p.sub").await,
        "Enter the 6-digit code from your authenticator."
    );
    assert_eq!(browser.eval("document.activeElement.id").await, "code");
    let field = browser
        .eval(
            "({ ac: document.getElementById('code').autocomplete, \
                mode: document.getElementById('code').inputMode })",
        )
        .await;
    assert_eq!(field, json!({ "ac": "one-time-code", "mode": "numeric" }));
    assert!(
        gateway_cookie(&browser).await.is_none(),
        "a cookie after the password alone"
    );
    let required = [
        "body",
        "p.sub",
        "label[for=code]",
        "label[for=recovery_code]",
        "summary",
        "button",
        "footer",
    ];
    // Audited closed, then with the recovery code disclosure open (its label's contrast).
    assert_page_accessible(&browser, "code step", &["label[for=code]", "summary"]).await;
    screenshot(
        &browser,
        "login-code-desktop.png",
        (1280, 800),
        Some("login-code.png"),
    )
    .await;
    browser
        .eval("document.querySelector('details').open = true")
        .await;
    assert_page_accessible(&browser, "code step, recovery code", &required).await;
    // A wrong code: the alert, the same step again.
    browser.fill("#code", "000000").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for("document.querySelector('[role=alert]')", "the code error")
        .await;
    assert_page_accessible(&browser, "code step, error", &["label[for=code]", ".alert"]).await;
    assert!(env.app1.received().is_empty(), "{:?}", env.app1.received());

    submit_code(&browser).await;
    browser.wait_for_path("/reports/q3").await;
    assert_eq!(browser.eval("location.search").await, "?y=2025");
    let cookie = gateway_cookie(&browser).await.expect("cookie");
    let token = cookie["value"].as_str().expect("value");
    assert_eq!(token_part(token, 1)["amr"], json!(["pwd", "otp"]));
    let received = requests_to(&env.app1, "/reports/q3?y=2025");
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].headers["x-forwarded-user"], "alice");
    browser.close().await;
}

#[tokio::test]
async fn a_password_only_session_steps_up_on_a_protected_admin_route() {
    let env = env_2fa(|c| c).await;
    let browser = Browser::launch(&env.gateway).await;
    let app1 = origin(&env.gateway, "app1.example.test");
    // A session of alice signed in with the password alone, in the cookie as the gateway
    // sets it (Domain=example.test).
    browser.goto(&format!("{app1}/.auth/login")).await;
    let password_only = mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd"])));
    browser
        .add_cookie(
            json!({ "name": COOKIE, "value": password_only, "domain": "example.test",
                            "path": "/", "secure": true, "httpOnly": true }),
        )
        .await;
    // The session works where no second factor is asked for …
    browser.goto(&format!("{app1}/dashboard")).await;
    browser.wait_for_path("/dashboard").await;
    assert_eq!(requests_to(&env.app1, "/dashboard").len(), 1);
    // … and the admin route sends it to the sign-in page to add the factor.
    browser.goto(&format!("{app1}/secure/users")).await;
    browser.wait_for_path("/.auth/login").await;
    assert_eq!(
        browser.url().await,
        format!("{app1}/.auth/login?rd=%2Fsecure%2Fusers")
    );
    assert!(requests_to(&env.app1, "/secure/users").is_empty());
    submit_login_form(&browser, "alice", ALICE_PASSWORD).await;
    submit_code(&browser).await;
    browser.wait_for_path("/secure/users").await;
    let received = requests_to(&env.app1, "/secure/users");
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].headers["x-forwarded-user"], "alice");
    browser.close().await;
}
