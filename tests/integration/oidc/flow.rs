//! The code flow through the real provider, and what it leaves: our cookie, the mapped
//! identity at the upstream, single sign-on to a second subdomain.

use super::{
    AFTER_LOGOUT, CALLBACK, HOST, Sso, location, payload, sso, sso_alone, sso_with, token_of,
};
use crate::support::cookies::{assert_session_cookie_attributes, gateway_set_cookie};
use crate::support::oidc_provider::ProviderOptions;
use crate::support::requests::Req;

async fn get_as(
    sso: &Sso,
    host: &str,
    path: &str,
    token: &str,
) -> crate::support::client::TestResponse {
    sso.send(Req::get(host, path).cookie(token)).await
}

#[tokio::test]
async fn code_flow_sets_our_cookie_and_the_upstream_sees_the_mapped_user_and_groups() {
    let sso = sso("").await;
    let done = sso.sign_in("alice", "/deep/page?x=1").await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(location(&done), "/deep/page?x=1");
    assert_session_cookie_attributes(&gateway_set_cookie(&done.headers));
    let token = token_of(&done);
    let claims = payload(&token);
    assert_eq!(claims["idp"], "corp");
    assert_eq!(claims["sub"], "alice");
    assert!(
        claims.get("amr").is_none(),
        "the provider's amr is not carried: {claims}"
    );

    let page = get_as(&sso, HOST, "/deep/page?x=1", &token).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let seen = sso.app1.last();
    assert_eq!(seen.target, "/deep/page?x=1");
    assert_eq!(seen.headers["x-forwarded-user"], "alice");
    // The provider's groups, not those of the local user of the same name.
    assert_eq!(seen.headers["x-forwarded-groups"], "staff,admins");
    assert_eq!(seen.headers["x-forwarded-email"], "alice@example.com");

    // Single sign-on: the same cookie on the other subdomain, no second login.
    let other = get_as(&sso, "app2.example.test", "/", &token).await;
    assert_eq!(other.status, 200, "{}", other.text());
    assert_eq!(sso.app2.last().headers["x-forwarded-user"], "alice");
    // Group rules apply to the provider's groups.
    let admin = get_as(&sso, HOST, "/admin", &token).await;
    assert_eq!(admin.status, 200, "{}", admin.text());
}

#[tokio::test]
async fn a_provider_user_unknown_to_the_users_file_is_let_in_despite_require_known_user() {
    // erin is not in the users file and has no groups claim; require_known_user is on
    // (the default) and applies to local users only.
    let sso = sso("").await;
    let done = sso.sign_in("erin", "/").await;
    assert_eq!(done.status, 303, "{}", done.text());
    let token = token_of(&done);
    let page = get_as(&sso, HOST, "/", &token).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let seen = sso.app1.last();
    assert_eq!(seen.headers["x-forwarded-user"], "erin");
    assert!(
        seen.headers
            .get("x-forwarded-groups")
            .is_none_or(|g| g.is_empty())
    );
    let denied = get_as(&sso, HOST, "/admin", &token).await;
    assert_eq!(denied.status, 403, "{}", denied.text());
}

#[tokio::test]
async fn two_tabs_signing_in_at_once_both_complete() {
    let sso = sso("").await;
    let first = sso.begin("/one").await;
    let second = sso.begin("/two").await;
    assert_ne!(first.cookie, second.cookie);
    let mut browser = sso.provider.browser();
    let back_first = browser.login(&first.authorization_url, "alice").await;
    let back_second = browser.login(&second.authorization_url, "alice").await;
    // The browser sends both attempt cookies to the callback; each callback finds its own.
    let both = format!("{}; {}", first.cookie, second.cookie);
    let done_second = sso.callback(&back_second, Some(&both)).await;
    assert_eq!(done_second.status, 303, "{}", done_second.text());
    assert_eq!(location(&done_second), "/two");
    let done_first = sso.callback(&back_first, Some(&both)).await;
    assert_eq!(done_first.status, 303, "{}", done_first.text());
    assert_eq!(location(&done_first), "/one");
}

#[tokio::test]
async fn userinfo_supplies_the_claims_the_id_token_lacks() {
    let mut options = ProviderOptions::new(&[CALLBACK], &[AFTER_LOGOUT]);
    options.id_token_claims = false;
    let sso = sso_with(options, "allowed_email_domains = [\"example.com\"]").await;
    let done = sso.sign_in("alice", "/").await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert!(sso.provider.stats().await.userinfo >= 1);
    let page = get_as(&sso, HOST, "/", &token_of(&done)).await;
    assert_eq!(page.status, 200);
    let seen = sso.app1.last();
    assert_eq!(seen.headers["x-forwarded-user"], "alice");
    assert_eq!(seen.headers["x-forwarded-email"], "alice@example.com");
}

#[tokio::test]
async fn the_login_page_offers_the_form_and_a_button_per_provider() {
    let sso = sso("").await;
    let page = sso
        .send(Req::get(HOST, "/.auth/login?rd=%2Fdeep").accept("text/html"))
        .await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(
        html.contains("href=\"/.auth/oidc/corp/start?rd=%2Fdeep\">Sign in with Corp SSO</a>"),
        "{html}"
    );
}

#[tokio::test]
async fn without_a_users_file_one_provider_is_a_direct_redirect() {
    let sso = sso_alone("").await;
    let login = sso
        .send(Req::get(HOST, "/.auth/login?rd=%2Fdeep").accept("text/html"))
        .await;
    assert_eq!(login.status, 302, "{}", login.text());
    assert_eq!(location(&login), "/.auth/oidc/corp/start?rd=%2Fdeep");
    let done = sso.sign_in("alice", "/deep").await;
    assert_eq!(done.status, 303, "{}", done.text());
    let page = get_as(&sso, HOST, "/deep", &token_of(&done)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(sso.app1.last().headers["x-forwarded-user"], "alice");
}
