//! End to end in a real browser: headless Chromium, driven through chromedriver, in front of
//! the real gateway and recording upstreams (see `support::browser`). Each test checks what
//! the user sees (URL, page text, focus, cookies, screenshots) and what the upstream
//! received.
//!
//! - `sso`: sign in from a deep link and land back on it, single sign-on on a sibling
//!   subdomain, sign out on one app and be asked to sign in on the other;
//! - `login_page`: the sign-in page's accessibility and looks, with screenshots;
//! - `spa`: `examples/spa/`, a single-page app using the JSON login API and Bearer tokens,
//!   through token expiry and back;
//! - `csrf`: a page on another site that auto-submits a form to an app;
//! - `second_factor`: the code step after the password, and step-up on an admin route;
//! - `oidc`: sign in with the identity provider from a deep link, SSO, sign out there too.

mod csrf;
mod login_page;
mod oidc;
mod second_factor;
mod site;
mod spa;
mod sso;

use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::cookies::COOKIE;
use crate::support::gateway::TestGateway;
use crate::support::upstream::{Received, Upstream};

/// `https://{host}:{port}`: how the browser reaches `host` on `gateway`.
pub fn origin(gateway: &TestGateway, host: &str) -> String {
    format!("https://{host}:{}", gateway.addr.port())
}

/// Replaces the one occurrence of `from` in the config `text` (a test config the harness
/// renders: failing loudly keeps an edit from silently doing nothing).
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} in:\n{text}");
    text.replacen(from, to, 1)
}

/// What `upstream` received for exactly this path and query.
pub fn requests_to(upstream: &Upstream, target: &str) -> Vec<Received> {
    upstream
        .received()
        .into_iter()
        .filter(|r| r.target == target)
        .collect()
}

/// The one request `upstream` received for `target`, which must carry alice's identity
/// and none of her credentials.
pub fn assert_forwarded_as_alice(upstream: &Upstream, method: &str, target: &str) {
    let received = requests_to(upstream, target);
    assert_eq!(received.len(), 1, "{}: {received:?}", upstream.name);
    let request = &received[0];
    assert_eq!(request.method, method);
    let headers = &request.headers;
    assert_eq!(headers["x-forwarded-user"], "alice", "{headers:?}");
    assert_eq!(headers["x-forwarded-groups"], "admins,dev", "{headers:?}");
    assert!(headers.get("authorization").is_none(), "{headers:?}");
    let cookies: Vec<_> = headers.get_all("cookie").iter().collect();
    assert!(
        cookies
            .iter()
            .all(|c| !c.to_str().unwrap_or("").contains(COOKIE)),
        "the gateway cookie reached the upstream: {cookies:?}"
    );
}

/// The JSON an echoing upstream answered, as the browser displays it.
pub async fn shown_json(browser: &Browser) -> Value {
    // Chromium shows a JSON response as text in a <pre> (and may add a viewer next to it).
    let text = browser
        .wait_for(
            "document.querySelector('pre') && document.querySelector('pre').textContent",
            "a JSON page",
        )
        .await;
    serde_json::from_str(text.as_str().expect("text")).expect("the page shows JSON")
}

/// The gateway cookie the browser holds for the current page, if any.
pub async fn gateway_cookie(browser: &Browser) -> Option<Value> {
    browser
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == COOKIE)
}

/// Types `user` and `password` into the gateway's sign-in form and submits it.
pub async fn submit_login_form(browser: &Browser, user: &str, password: &str) {
    browser.fill("#username", user).await;
    browser.fill("#password", password).await;
    browser.click("button[type=submit]").await;
}

/// Saves a PNG of the viewport as `target/tmp/browser/{name}` (kept after the run, for
/// people to look at) and returns it.
pub async fn save_screenshot(browser: &Browser, name: &str) -> Vec<u8> {
    let png = browser.screenshot().await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).expect("create screenshot dir");
    let path = dir.join(name);
    std::fs::write(&path, &png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
    png
}
