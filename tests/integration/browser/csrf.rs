//! Cross-site request forgery from a real page: while alice is signed in, she opens a page on
//! `evil.test` that auto-submits a POST form to app1. A sibling page on `forms.example.test`
//! submitting the same form is the control: it reaches app1 as alice, so the cookie was
//! usable and the refusal is the gateway's doing.
//!
//! With `same_site = "None"` the browser sends the cookie along with the forged POST, and
//! the gateway's Origin rule refuses it: 403 `csrf_rejected`. With the default
//! `same_site = "Lax"` the browser does not even send the cookie on a cross-site POST: the
//! request is unauthenticated and the browser is sent to the sign-in page. Either way app1
//! never sees it.

use crate::support::auth_config::auth_config;
use crate::support::browser::Browser;
use crate::support::gateway::TestGateway;
use crate::support::upstream::{self, Upstream};
use crate::support::users::ALICE_PASSWORD;

use super::site::{self, File};
use super::{
    assert_forwarded_as_alice, gateway_cookie, origin, replace_once, requests_to, submit_login_form,
};

/// A page that, on load, POSTs a money transfer to app1 on the gateway's port.
const FORGED_FORM: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>You have won a prize</title><link rel="icon" href="data:,"></head>
<body>
<h1>Claiming your prize…</h1>
<form id="transfer" method="post">
<input type="hidden" name="to" value="mallory">
<input type="hidden" name="amount" value="1000">
</form>
<script>
const form = document.getElementById("transfer");
form.action = `https://app1.example.test:${location.port}/transfer`;
form.submit();
</script>
</body>
</html>
"#;

/// A gateway whose common config also serves [`FORGED_FORM`] publicly on `evil.test` (with
/// its own certificate) and on `forms.example.test`, with the cookie's `same_site` set.
async fn gateway_with_forms(same_site: &str) -> (TestGateway, Upstream) {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let forms = site::start(vec![File::new(
        "/",
        "text/html; charset=utf-8",
        FORGED_FORM,
    )])
    .await;
    let config = auth_config(&app1.url(), &app2.url());
    let gateway = config
        .sni("evil.test")
        .start_edited(|text| {
            let text = replace_once(
                &text,
                "[auth.cookie]\n",
                &format!("[auth.cookie]\nsame_site = \"{same_site}\"\n"),
            );
            format!(
                "{text}\n[[route]]\nhost = \"evil.test\"\nupstream = \"{forms}\"\naccess = \"public\"\n\n\
                 [[route]]\nhost = \"forms.example.test\"\nupstream = \"{forms}\"\naccess = \"public\"\n"
            )
        })
        .await;
    (gateway, app1)
}

/// Signs alice in on app1 through the sign-in page.
async fn sign_in_on_app1(browser: &Browser, gateway: &TestGateway) {
    let app1 = origin(gateway, "app1.example.test");
    browser.goto(&format!("{app1}/.auth/login")).await;
    submit_login_form(browser, "alice", ALICE_PASSWORD).await;
    browser.wait_for_path("/").await;
    assert!(gateway_cookie(browser).await.is_some(), "not signed in");
}

/// Opens the page with the self-submitting form on `host` and waits for the browser to
/// land on the page that answered the POST; returns its URL and HTTP status.
async fn open_forged_form(browser: &Browser, gateway: &TestGateway, host: &str) -> (String, u64) {
    browser.goto(&format!("{}/", origin(gateway, host))).await;
    let status = browser
        .wait_for(
            "location.hostname === 'app1.example.test' && document.readyState === 'complete' \
             && performance.getEntriesByType('navigation')[0].responseStatus",
            "the answer to the form",
        )
        .await;
    (browser.url().await, status.as_u64().expect("status"))
}

#[tokio::test]
async fn cross_site_form_post_is_refused_by_the_csrf_rule_and_never_reaches_app1() {
    let (gateway, app1) = gateway_with_forms("None").await;
    let browser = Browser::launch(&gateway).await;
    sign_in_on_app1(&browser, &gateway).await;
    let app1_origin = origin(&gateway, "app1.example.test");

    // The forged POST from evil.test carries the cookie (SameSite=None), and the gateway
    // refuses it for its Origin.
    let (url, status) = open_forged_form(&browser, &gateway, "evil.test").await;
    assert_eq!(url, format!("{app1_origin}/transfer"));
    assert_eq!(status, 403);
    assert!(
        browser.text("body").await.contains("csrf_rejected"),
        "{}",
        browser.text("body").await
    );
    assert!(
        requests_to(&app1, "/transfer").is_empty(),
        "app1 saw the forged POST"
    );
    // She is still signed in: the refusal did not end her session.
    assert!(gateway_cookie(&browser).await.is_some());

    // Control: the same form on a sibling site of the same parent domain gets through.
    let (url, status) = open_forged_form(&browser, &gateway, "forms.example.test").await;
    assert_eq!(url, format!("{app1_origin}/transfer"));
    assert_eq!(status, 200);
    assert_forwarded_as_alice(&app1, "POST", "/transfer");

    browser.close().await;
}

#[tokio::test]
async fn cross_site_form_post_with_the_default_lax_cookie_goes_to_sign_in_and_never_reaches_app1() {
    let (gateway, app1) = gateway_with_forms("Lax").await;
    let browser = Browser::launch(&gateway).await;
    sign_in_on_app1(&browser, &gateway).await;

    // The browser withholds a Lax cookie from a cross-site POST: the request arrives
    // without credentials, and the gateway sends the browser to sign in.
    browser
        .goto(&format!("{}/", origin(&gateway, "evil.test")))
        .await;
    browser.wait_for_path("/.auth/login").await;
    assert_eq!(browser.eval("location.hostname").await, "app1.example.test");
    assert!(
        requests_to(&app1, "/transfer").is_empty(),
        "app1 saw the forged POST"
    );
    assert!(gateway_cookie(&browser).await.is_some());

    browser.close().await;
}
