//! The real OpenID provider harness ([`crate::support::oidc_provider`]) checked on its own:
//! it starts, logs users in over HTTP, signs tokens jsonwebtoken verifies against its JWKS,
//! rotates keys, counts JWKS fetches, stops and starts again.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::support::oidc_provider::{
    API_CLIENT_ID, MACHINE_RESOURCE, Mint, OidcProvider, ProviderOptions,
};
use crate::support::requests::query_param;
use crate::support::within;

const CALLBACK: &str = "https://auth.example.test/.auth/oidc/corp/callback";
const AFTER_LOGOUT: &str = "https://auth.example.test/";

/// The gateway client's authorization request, as the gateway would redirect to it.
fn authorization_url(provider: &OidcProvider, state: &str) -> String {
    format!(
        "{}/auth?client_id={}&response_type=code&scope=openid%20email%20profile\
         &redirect_uri={}&state={state}&nonce=n1\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        provider.issuer(),
        provider.client_id(),
        crate::support::requests::percent_encode(CALLBACK),
    )
}

/// The claims of `token` after verifying it against the provider's JWKS for `aud`.
async fn verified_claims(provider: &OidcProvider, token: &str, aud: &str) -> Value {
    let jwks: JwkSet = serde_json::from_value(provider.jwks().await).expect("jwks");
    let header = decode_header(token).expect("header");
    let kid = header.kid.clone().expect("kid");
    let jwk = jwks.find(&kid).expect("the token's kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[provider.issuer()]);
    decode::<Value>(
        token,
        &DecodingKey::from_jwk(jwk).expect("key"),
        &validation,
    )
    .expect("valid token")
    .claims
}

#[tokio::test]
async fn the_provider_logs_a_user_in_and_redirects_to_the_callback() {
    let provider = OidcProvider::start(&[CALLBACK], &[AFTER_LOGOUT]).await;
    let discovery = provider.discovery().await;
    assert_eq!(discovery["issuer"], provider.issuer());
    assert_eq!(
        discovery["end_session_endpoint"],
        format!("{}/session/end", provider.issuer())
    );

    let mut browser = provider.browser();
    let callback = within(browser.login(&authorization_url(&provider, "st1"), "alice")).await;
    assert!(callback.starts_with(&format!("{CALLBACK}?")), "{callback}");
    assert!(query_param(&callback, "code").is_some(), "{callback}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st1"));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(provider.issuer().as_str())
    );

    // The same browser has a session at the provider: the next login is single sign-on.
    let again = browser
        .login(&authorization_url(&provider, "st2"), "ignored")
        .await;
    assert_eq!(query_param(&again, "state").as_deref(), Some("st2"));

    let denied = provider
        .browser()
        .deny(&authorization_url(&provider, "st3"))
        .await;
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&denied, "state").as_deref(), Some("st3"));

    let logout = format!(
        "{}/session/end?client_id={}&post_logout_redirect_uri={}&state=bye",
        provider.issuer(),
        provider.client_id(),
        crate::support::requests::percent_encode(AFTER_LOGOUT)
    );
    let after = browser.logout(&logout).await;
    assert_eq!(after, format!("{AFTER_LOGOUT}?state=bye"));
    assert_eq!(provider.stats().await.end_session, 1);
}

#[tokio::test]
async fn the_provider_issues_tokens_that_verify_against_its_jwks() {
    let provider = OidcProvider::start(&[CALLBACK], &[]).await;

    let id_token = provider.id_token("alice").await;
    let claims = verified_claims(&provider, &id_token, API_CLIENT_ID).await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["groups"], serde_json::json!(["staff", "admins"]));
    assert_eq!(claims["email_verified"], true);

    let machine = provider.machine_token().await;
    let claims = verified_claims(&provider, &machine, MACHINE_RESOURCE).await;
    assert_eq!(claims["sub"], "ci");
    assert_eq!(claims["groups"], serde_json::json!(["deployers"]));

    let minted = provider
        .mint(&Mint::new("kubectl", "system:serviceaccount:ci:deployer").alg("ES256"))
        .await;
    assert_eq!(
        decode_header(&minted).expect("header").alg,
        jsonwebtoken::Algorithm::ES256
    );
    let claims = verified_claims(&provider, &minted, "kubectl").await;
    assert_eq!(claims["iss"], provider.issuer());

    let unpublished = provider
        .mint(&Mint::new("kubectl", "x").unpublished_key())
        .await;
    let kid = decode_header(&unpublished)
        .expect("header")
        .kid
        .expect("kid");
    let jwks: JwkSet = serde_json::from_value(provider.jwks().await).expect("jwks");
    assert!(
        jwks.find(&kid).is_none(),
        "an unpublished key's kid is not in the JWKS"
    );
}

#[tokio::test]
async fn the_provider_rotates_keys_counts_jwks_fetches_and_restarts() {
    let mut provider = OidcProvider::start_with(ProviderOptions {
        id_token_claims: false,
        ..ProviderOptions::new(&[CALLBACK], &[])
    })
    .await;
    let before = decode_header(&provider.id_token("bob").await)
        .expect("header")
        .kid
        .expect("kid");
    let fetched = provider.stats().await.jwks;

    let kids = provider.rotate_keys().await;
    assert_eq!(kids.len(), 2);
    assert!(!kids.contains(&before));
    let after = provider.id_token("bob").await;
    assert_eq!(
        decode_header(&after).expect("header").kid.as_ref(),
        Some(&kids[0])
    );
    let claims = verified_claims(&provider, &after, API_CLIENT_ID).await;
    assert!(
        claims.get("email").is_none(),
        "email claims only at userinfo"
    );
    assert_eq!(claims["groups"], serde_json::json!(["contractors"]));
    assert_eq!(provider.stats().await.jwks, fetched + 1);

    provider.stop();
    assert!(tokio::net::TcpStream::connect(provider.addr).await.is_err());
    provider.run().await;
    let restarted = provider.id_token("bob").await;
    assert_eq!(
        decode_header(&restarted).expect("header").kid.as_ref(),
        Some(&kids[0]),
        "a restart keeps the keys"
    );
    assert_eq!(
        provider.stats().await.jwks,
        0,
        "counts start again with the process"
    );
}

#[tokio::test]
async fn a_provider_can_be_configured_before_it_runs() {
    let mut provider = OidcProvider::stopped(ProviderOptions::new(&[], &[]));
    assert!(tokio::net::TcpStream::connect(provider.addr).await.is_err());
    assert!(provider.ca_path().is_file());
    provider.run().await;
    provider.set_gateway_client(&[CALLBACK], &[]).await;
    let callback = provider
        .login(&authorization_url(&provider, "late"), "carol")
        .await;
    assert_eq!(query_param(&callback, "state").as_deref(), Some("late"));
}
