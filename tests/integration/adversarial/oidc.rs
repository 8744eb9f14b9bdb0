//! The OpenID Connect login under attack: an attempt delivered to another provider's
//! callback (mix-up), to another host's callback (`redirect_uri` swap), a code swapped
//! between two attempts, hostile `state` values, and `rd` tricks through the provider.
//! Each hostile case: no token, nothing upstream; each has a control that succeeds.

use super::Tally;
use crate::oidc::{AFTER_LOGOUT, CALLBACK, HOST, Sso, location, sso_on};
use crate::support::cookies::sets_gateway_cookie;
use crate::support::oidc_provider::{OidcProvider, ProviderOptions};
use crate::support::requests::{Req, query_param};
use crate::support::within;

const CALLBACK2: &str = "https://app1.example.test/.auth/oidc/corp2/callback";
const APP2_CALLBACK: &str = "https://app2.example.test/.auth/oidc/corp/callback";

/// A gateway with two providers, `corp` and `corp2`, on the same real provider.
async fn two_providers() -> Sso {
    let provider = OidcProvider::start_with(ProviderOptions::new(
        &[CALLBACK, CALLBACK2, APP2_CALLBACK],
        &[AFTER_LOGOUT],
    ))
    .await;
    let second = format!(
        "\n[[auth.oidc]]\nname = \"corp2\"\nissuer = \"{}\"\nclient_id = \"{}\"\n\
         client_secret_file = \"{{secret}}\"\nca_file = \"{}\"\nuser_claim = \"preferred_username\"\n",
        provider.issuer(),
        provider.client_id(),
        provider.ca_path().display()
    );
    let sso = sso_on(provider, &second).await;
    sso.wait_until_discovered().await;
    sso
}

/// Refused with no token, and nothing reached either upstream.
fn assert_no_token(sso: &Sso, response: &crate::support::client::TestResponse, status: u16) {
    assert_eq!(response.status, status, "{}", response.text());
    assert!(
        !sets_gateway_cookie(&response.headers),
        "{:?}",
        response.headers
    );
    assert!(sso.app1.received().is_empty() && sso.app2.received().is_empty());
}

/// The callback path and query of `back` (an absolute URL the provider returned).
fn path_of(back: &str) -> String {
    let rest = back.strip_prefix("https://").expect("absolute");
    rest[rest.find('/').expect("a path")..].to_owned()
}

#[tokio::test]
async fn attempts_cannot_cross_providers_hosts_or_codes() {
    let mut tally = Tally::new("oidc::attempts_cannot_cross_providers_hosts_or_codes");
    let sso = two_providers().await;

    // Mix-up: corp's attempt (cookie and state) delivered to corp2's callback.
    let attempt = sso.begin("/").await;
    let back = within(sso.provider.login(&attempt.authorization_url, "alice")).await;
    let mixed = path_of(&back).replace("/oidc/corp/", "/oidc/corp2/");
    let response = sso
        .send(Req::get(HOST, &mixed).header("cookie", &attempt.cookie))
        .await;
    assert_no_token(&sso, &response, 400);
    tally.refused();

    // redirect_uri swap: the code issued for app1's callback, redeemed at app2's.
    let attempt = sso.begin("/").await;
    let back = within(sso.provider.login(&attempt.authorization_url, "alice")).await;
    let response = sso
        .send(Req::get("app2.example.test", &path_of(&back)).header("cookie", &attempt.cookie))
        .await;
    assert_no_token(&sso, &response, 401);
    tally.refused();

    // Code swap: attempt B's code delivered with attempt A's state and cookie (the PKCE
    // verifier of A does not fit B's code).
    let a = sso.begin("/a").await;
    let b = sso.begin("/b").await;
    let back_a = within(sso.provider.login(&a.authorization_url, "alice")).await;
    let back_b = within(sso.provider.login(&b.authorization_url, "alice")).await;
    let code_b = query_param(&back_b, "code").expect("code");
    let state_a = query_param(&back_a, "state").expect("state");
    let swapped = format!("/.auth/oidc/corp/callback?code={code_b}&state={state_a}");
    let response = sso
        .send(Req::get(HOST, &swapped).header("cookie", &a.cookie))
        .await;
    assert_no_token(&sso, &response, 401);
    tally.refused();

    // Hostile states: never a cookie name, never a header.
    for state in [
        "a%3Bb%3Dc",
        "%0D%0ASet-Cookie%3A%20x%3Dy",
        "..%2F..",
        &"x".repeat(200),
        "",
    ] {
        let path = format!("/.auth/oidc/corp/callback?code=c&state={state}");
        let response = sso
            .send(Req::get(HOST, &path).header("cookie", &a.cookie))
            .await;
        assert_no_token(&sso, &response, 400);
        assert!(
            response
                .headers
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap_or("").contains("x=y")),
            "{:?}",
            response.headers
        );
        tally.refused();
    }

    // Control: B itself completes (and lands on its own rd).
    let done = sso
        .send(Req::get(HOST, &path_of(&back_b)).header("cookie", &b.cookie))
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(location(&done), "/b");
    tally.finish();
}

#[tokio::test]
async fn an_off_site_rd_through_the_provider_lands_locally() {
    let mut tally = Tally::new("oidc::an_off_site_rd_through_the_provider_lands_locally");
    let sso = two_providers().await;
    for rd in [
        "https://evil.test/",
        "//evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let done = sso.sign_in("alice", rd).await;
        assert_eq!(done.status, 303, "{}", done.text());
        assert_eq!(location(&done), "/", "{rd}");
        tally.neutralized();
    }
    // Control: an allowed absolute target is kept.
    let done = sso.sign_in("alice", "https://app2.example.test/x").await;
    assert_eq!(location(&done), "https://app2.example.test/x");
    tally.finish();
}
