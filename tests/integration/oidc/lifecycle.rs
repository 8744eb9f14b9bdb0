//! The provider's life around the gateway: down at start, keys rotated mid-run, and
//! signing out at the provider too (RP-initiated logout).

use super::{AFTER_LOGOUT, CALLBACK, HOST, location, sso, sso_on, token_of};
use crate::scale_out::{admin_request, readyz};
use crate::support::oidc_provider::{OidcProvider, ProviderOptions};
use crate::support::requests::{Req, json_login, query_param};
use crate::support::users::ALICE_PASSWORD;
use crate::support::within;

#[tokio::test]
async fn the_gateway_starts_and_serves_local_logins_while_the_provider_is_down() {
    let provider = OidcProvider::stopped(ProviderOptions::new(&[CALLBACK], &[AFTER_LOGOUT]));
    let mut sso = sso_on(provider, "").await;
    let (status, body) = readyz(sso.gateway.admin_addr).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("identity provider corp unavailable"),
        "{body}"
    );
    let (_, metrics) = admin_request(sso.gateway.admin_addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("gateway_oidc_provider_up{provider=\"corp\"} 0"),
        "{metrics}"
    );
    let page = sso
        .send(Req::get(HOST, "/.auth/login").accept("text/html"))
        .await;
    assert!(
        page.text().contains("Corp SSO is unavailable right now"),
        "{}",
        page.text()
    );
    let start = sso.send(Req::get(HOST, "/.auth/oidc/corp/start")).await;
    assert_eq!(start.status, 503, "{}", start.text());
    // Local users still sign in.
    let local = sso.send(json_login(HOST, "alice", ALICE_PASSWORD)).await;
    assert_eq!(local.status, 200, "{}", local.text());

    // The provider comes up: discovery is retried until it succeeds, then logins work.
    within(sso.provider.run()).await;
    sso.wait_until_discovered().await;
    let (_, metrics) = admin_request(sso.gateway.admin_addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("gateway_oidc_provider_up{provider=\"corp\"} 1"),
        "{metrics}"
    );
    let done = sso.sign_in("alice", "/").await;
    assert_eq!(done.status, 303, "{}", done.text());
}

#[tokio::test]
async fn a_key_rotation_at_the_provider_is_picked_up_on_the_next_login() {
    let sso = sso("").await;
    let first = sso.sign_in("alice", "/").await;
    assert_eq!(first.status, 303, "{}", first.text());
    let before = sso.provider.stats().await.jwks;
    sso.provider.rotate_keys().await;
    // The next ID token is signed with a kid the gateway has not seen: one JWKS refresh.
    let second = sso.sign_in("bob", "/").await;
    assert_eq!(second.status, 303, "{}", second.text());
    assert!(
        sso.provider.stats().await.jwks > before,
        "the keys were fetched again"
    );
    let page = sso
        .send(Req::get(HOST, "/").cookie(&token_of(&second)))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(sso.app1.last().headers["x-forwarded-user"], "bob");
}

#[tokio::test]
async fn logout_ends_our_session_and_sends_the_browser_to_the_provider() {
    let sso = sso("").await;
    let mut browser = sso.provider.browser();
    let attempt = sso.begin("/").await;
    let back = within(browser.login(&attempt.authorization_url, "alice")).await;
    let done = sso.callback(&back, Some(&attempt.cookie)).await;
    let token = token_of(&done);
    let logout = sso
        .send(
            Req::post(HOST, "/.auth/logout")
                .cookie(&token)
                .origin(&format!("https://{HOST}")),
        )
        .await;
    assert_eq!(logout.status, 303, "{}", logout.text());
    let end_session = location(&logout);
    assert!(
        end_session.starts_with(&format!("{}/session/end?", sso.provider.issuer())),
        "{end_session}"
    );
    assert_eq!(
        query_param(&end_session, "client_id").as_deref(),
        Some("gateway")
    );
    assert_eq!(
        query_param(&end_session, "post_logout_redirect_uri").as_deref(),
        Some(AFTER_LOGOUT)
    );
    // Our session is over at once.
    let page = sso.send(Req::get(HOST, "/").cookie(&token)).await;
    assert_eq!(page.status, 401);
    // The provider signs the browser out and sends it back to our login page.
    let after = within(browser.logout(&end_session)).await;
    assert!(after.starts_with(AFTER_LOGOUT), "{after}");
    // And its session there is gone: the next login shows the form again (a fresh login
    // with another user works, which SSO at the provider would not allow).
    let again = sso.begin("/").await;
    let back = within(browser.login(&again.authorization_url, "bob")).await;
    let done = sso.callback(&back, Some(&again.cookie)).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let page = sso.send(Req::get(HOST, "/").cookie(&token_of(&done))).await;
    assert_eq!(page.status, 200);
    assert_eq!(sso.app1.last().headers["x-forwarded-user"], "bob");
}

#[tokio::test]
async fn with_rp_initiated_logout_off_logout_stays_at_the_gateway() {
    let sso = sso("rp_initiated_logout = false").await;
    let done = sso.sign_in("alice", "/").await;
    let logout = sso
        .send(
            Req::post(HOST, "/.auth/logout")
                .cookie(&token_of(&done))
                .origin(&format!("https://{HOST}")),
        )
        .await;
    assert_eq!(logout.status, 303);
    assert_eq!(location(&logout), "/.auth/login");
}
