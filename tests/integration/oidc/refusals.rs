//! Every way a provider login is refused: a page, a log line, no token, and nothing
//! reaching the upstream.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Attempt, CALLBACK, HOST, Sso, sso};
use crate::support::client::TestResponse;
use crate::support::cookies::sets_gateway_cookie;
use crate::support::oidc_provider::{API_CLIENT_ID, API_CLIENT_REDIRECT_URI};
use crate::support::requests::{Req, percent_encode, query_param};
use crate::support::within;

/// A refusal: an HTML page with `status` and `text`, no token, and the upstream untouched
/// (also when the client then tries the protected page with whatever cookies it got).
async fn assert_refused(sso: &Sso, response: &TestResponse, status: u16, text: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert!(
        !sets_gateway_cookie(&response.headers),
        "{:?}",
        response.headers
    );
    assert!(response.text().contains(text), "{}", response.text());
    assert!(
        !response.text().contains("access_token"),
        "{}",
        response.text()
    );
    let page = sso.send(Req::get(HOST, "/")).await;
    assert_eq!(page.status, 401);
    assert!(sso.app1.received().is_empty(), "the upstream was reached");
}

/// The attempt's `(state, pkce_verifier)`, read from its cookie (signed, not secret).
fn attempt_secrets(attempt: &Attempt) -> (String, String) {
    let value = attempt.cookie.split_once('=').expect("name=value").1;
    let payload = value.split('.').nth(1).expect("v1.payload.mac");
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    (
        json["state"].as_str().expect("state").to_owned(),
        json["pkce_verifier"].as_str().expect("verifier").to_owned(),
    )
}

/// An authorization URL of our own making for `client_id`/`redirect_uri`, carrying the
/// attempt's `state` and PKCE challenge but the given `nonce`.
fn crafted_url(
    sso: &Sso,
    attempt: &Attempt,
    client_id: &str,
    redirect_uri: &str,
    nonce: &str,
) -> String {
    let (state, verifier) = attempt_secrets(attempt);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(digest.as_ref());
    format!(
        "{}/auth?client_id={client_id}&response_type=code&scope=openid%20email%20profile\
         &redirect_uri={}&state={state}&nonce={nonce}&code_challenge={challenge}\
         &code_challenge_method=S256",
        sso.provider.issuer(),
        percent_encode(redirect_uri)
    )
}

#[tokio::test]
async fn an_error_from_the_provider_is_a_page_without_a_token() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    let back = within(sso.provider.browser().deny(&attempt.authorization_url)).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    let response = sso.callback(&back, Some(&attempt.cookie)).await;
    assert_refused(&sso, &response, 403, "cancelled or refused").await;
}

#[tokio::test]
async fn a_callback_without_its_attempt_cookie_is_refused() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    let back = within(sso.provider.login(&attempt.authorization_url, "alice")).await;
    // Another browser (or an attacker's link) carries the code and state but not the cookie.
    let response = sso.callback(&back, None).await;
    assert_refused(&sso, &response, 400, "not valid any more").await;
}

#[tokio::test]
async fn a_forged_state_or_cookie_is_refused() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    let back = within(sso.provider.login(&attempt.authorization_url, "alice")).await;
    let (state, _) = attempt_secrets(&attempt);
    // The cookie of this attempt under the state of a made-up one.
    let forged_state = back.replace(&format!("state={state}"), "state=forged0000000000000000");
    let renamed = attempt.cookie.replace(&state, "forged0000000000000000");
    let response = sso.callback(&forged_state, Some(&renamed)).await;
    assert_refused(&sso, &response, 400, "not valid any more").await;
    // The right name with a tampered value.
    let (name, value) = attempt.cookie.split_once('=').expect("pair");
    let tampered = format!("{name}={}x", value);
    let response = sso.callback(&back, Some(&tampered)).await;
    assert_refused(&sso, &response, 400, "not valid any more").await;
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    let back = within(sso.provider.login(&attempt.authorization_url, "alice")).await;
    let first = sso.callback(&back, Some(&attempt.cookie)).await;
    assert_eq!(first.status, 303, "{}", first.text());
    // The callback expired the attempt cookie.
    let name = attempt.cookie.split('=').next().expect("name");
    let cleared = crate::support::cookies::set_cookies(&first.headers)
        .into_iter()
        .find(|c| c.name == name)
        .expect("the attempt cookie is cleared");
    assert_eq!(cleared.value_of("max-age"), Some("0"));
    // Replayed with the cookie (captured): the code is spent at the provider.
    let again = sso.callback(&back, Some(&attempt.cookie)).await;
    assert_eq!(again.status, 401, "{}", again.text());
    assert!(!sets_gateway_cookie(&again.headers));
    assert!(again.text().contains("could not be verified"));
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    // Same state and PKCE verifier as the attempt, so everything else passes; only the
    // nonce in the ID token differs from the one bound to the attempt's cookie.
    let url = crafted_url(
        &sso,
        &attempt,
        sso.provider.client_id(),
        CALLBACK,
        "not-the-attempts-nonce",
    );
    let back = within(sso.provider.login(&url, "alice")).await;
    let response = sso.callback(&back, Some(&attempt.cookie)).await;
    assert_refused(&sso, &response, 401, "could not be verified").await;
    assert!(
        sso.provider.stats().await.token >= 1,
        "the code was exchanged"
    );
}

#[tokio::test]
async fn an_unknown_or_expired_code_is_refused() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    let (state, _) = attempt_secrets(&attempt);
    let back = format!("https://{HOST}/.auth/oidc/corp/callback?code=not-a-code&state={state}");
    let response = sso.callback(&back, Some(&attempt.cookie)).await;
    assert_refused(&sso, &response, 401, "could not be verified").await;
}

#[tokio::test]
async fn a_code_issued_to_another_client_is_refused() {
    let sso = sso("").await;
    let attempt = sso.begin("/").await;
    let url = crafted_url(&sso, &attempt, API_CLIENT_ID, API_CLIENT_REDIRECT_URI, "n");
    let elsewhere = within(sso.provider.login(&url, "alice")).await;
    let code = query_param(&elsewhere, "code").expect("code for the other client");
    let (state, _) = attempt_secrets(&attempt);
    let back = format!("https://{HOST}/.auth/oidc/corp/callback?code={code}&state={state}");
    let response = sso.callback(&back, Some(&attempt.cookie)).await;
    assert_refused(&sso, &response, 401, "could not be verified").await;
}

#[tokio::test]
async fn users_outside_the_allowed_email_domains_are_refused() {
    let sso = sso("allowed_email_domains = [\"example.com\"]").await;
    // dave's address is verified but elsewhere; carol's is in the domain but unverified.
    for user in ["dave", "carol"] {
        let response = sso.sign_in(user, "/").await;
        assert_refused(&sso, &response, 403, "not allowed to sign in here").await;
    }
    let alice = sso.sign_in("alice", "/").await;
    assert_eq!(alice.status, 303, "{}", alice.text());
}

#[tokio::test]
async fn users_outside_the_allowed_groups_are_refused() {
    let sso = sso("allowed_groups = [\"staff\"]").await;
    // bob is only in contractors; erin has no groups at all.
    for user in ["bob", "erin"] {
        let response = sso.sign_in(user, "/").await;
        assert_refused(&sso, &response, 403, "not allowed to sign in here").await;
    }
    let alice = sso.sign_in("alice", "/").await;
    assert_eq!(alice.status, 303, "{}", alice.text());
}
