//! `[[auth.trusted_issuers]]` against a real OpenID provider (panva's oidc-provider, see
//! `support::oidc_provider`): its ID tokens and client-credentials access tokens are
//! accepted as Bearer tokens on protected routes, with their identity for the upstream and
//! no gateway cookie; tokens of another issuer, for another audience, with an algorithm
//! outside the allow-list or expired are refused with nothing reaching the upstream (each
//! next to an accepted control); key rotation at the provider is picked up by one
//! rate-limited refresh, and unknown kids cause no further fetches.

use crate::support::auth_config::auth_config;
use crate::support::env::Env;
use crate::support::oidc_provider::{API_CLIENT_ID, MACHINE_RESOURCE, Mint, OidcProvider};
use crate::support::rejections::{assert_token_accepted, assert_token_rejected};
use crate::support::requests::Req;
use crate::support::upstream;

/// A gateway (the common auth config, plus `app2.example.test/secure` needing a second
/// factor) trusting `provider` for tokens whose `aud` is `api-client` or the machine
/// resource; `extra` lines go into the issuer's entry.
async fn gateway_trusting(provider: &OidcProvider, extra: &str) -> Env {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let entry = format!(
        "\n[[auth.trusted_issuers]]\nissuer = \"{}\"\naudience = [\"{API_CLIENT_ID}\", \"{MACHINE_RESOURCE}\"]\n\
         groups_claim = \"groups\"\nca_file = \"{}\"\nkey_refresh_min_interval = \"1h\"\n{extra}\n",
        provider.issuer(),
        provider.ca_path().display()
    );
    let second_factor_route = format!(
        "\n[[route]]\nhost = \"app2.example.test\"\npath = \"/secure\"\nupstream = \"{}\"\n\
         access = {{ second_factor = true }}\n",
        app2.url()
    );
    let gateway = auth_config(&app1.url(), &app2.url())
        .start_edited(|text| format!("{text}{second_factor_route}{entry}"))
        .await;
    Env::new(gateway, app1, app2)
}

/// Polls the provider until it has served `count` JWKS requests (the gateway's first fetch
/// and its background refresh's first fetch both happen at the first token).
async fn wait_for_jwks_fetches(provider: &OidcProvider, count: u64) {
    let deadline = tokio::time::Instant::now() + crate::support::STEP_TIMEOUT;
    while provider.stats().await.jwks < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the provider served {} JWKS requests, expected {count}",
            provider.stats().await.jwks
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn provider_tokens_are_accepted_with_their_identity_and_no_cookie() {
    let provider = OidcProvider::start(&[], &[]).await;
    let env = gateway_trusting(&provider, "").await;

    // A real ID token for alice, issued to another client (aud = api-client); alice's
    // groups come from the token (the users file's alice has others).
    let id_token = provider.id_token("alice").await;
    let response = env
        .send(Req::get("app1.example.test", "/").bearer(&id_token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.headers.get("set-cookie").is_none(),
        "no gateway cookie for another issuer's token"
    );
    let seen = env.app1.last().headers;
    assert_eq!(seen.get("x-forwarded-user").expect("user"), "alice");
    assert_eq!(
        seen.get("x-forwarded-groups").expect("groups"),
        "staff,admins"
    );
    assert_eq!(
        seen.get("x-forwarded-email").expect("email"),
        "alice@example.com"
    );
    assert!(
        seen.get("authorization").is_none(),
        "the credential is not forwarded"
    );
    let before = env.upstream_count();
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(&id_token))
        .await;
    assert_eq!(response.status, 401, "another issuer's token is no cookie");
    assert_eq!(env.upstream_count(), before);

    // A client-credentials access token (a CI job): `ci` is in no users file, and
    // `require_known_user` is for local users only.
    let machine = provider.machine_token().await;
    assert_token_accepted(&env, &machine, "ci", "a machine token").await;
    assert_eq!(
        env.app1
            .last()
            .headers
            .get("x-forwarded-groups")
            .expect("groups"),
        "deployers"
    );

    // A second-factor route refuses them: the gateway saw no second factor.
    let before = env.upstream_count();
    let response = env
        .send(Req::get("app2.example.test", "/secure").bearer(&id_token))
        .await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert_eq!(env.upstream_count(), before);

    // A group route admits by the token's groups: bob is in none of "admins".
    let bob = provider.id_token("bob").await;
    let response = env
        .send(Req::get("app1.example.test", "/admin").bearer(&bob))
        .await;
    assert_eq!(response.status, 403, "{}", response.text());
    let response = env
        .send(Req::get("app1.example.test", "/admin").bearer(&id_token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn tokens_of_other_issuers_audiences_algorithms_or_expired_are_refused() {
    let provider = OidcProvider::start(&[], &[]).await;
    let untrusted = OidcProvider::start(&[], &[]).await;
    let env = gateway_trusting(&provider, "").await;

    let control = provider.mint(&Mint::new(API_CLIENT_ID, "alice")).await;
    assert_token_accepted(&env, &control, "alice", "control: a minted token").await;

    // Refused from the cookie too: another issuer's token is only a Bearer credential.
    let from_untrusted = untrusted.id_token("alice").await;
    assert_token_rejected(&env, &from_untrusted, "a token of an untrusted issuer").await;
    let other_audience = provider.mint(&Mint::new("another-service", "alice")).await;
    assert_token_rejected(&env, &other_audience, "a token for another audience").await;
    let es256 = provider
        .mint(&Mint::new(API_CLIENT_ID, "alice").alg("ES256"))
        .await;
    assert_token_rejected(&env, &es256, "ES256 outside the allow-list [RS256]").await;
    let expired = provider
        .mint(&Mint::new(API_CLIENT_ID, "alice").ttl(-120))
        .await;
    assert_token_rejected(&env, &expired, "an expired token").await;
}

#[tokio::test]
async fn key_rotation_is_picked_up_by_one_refresh_and_unknown_kids_fetch_nothing() {
    let provider = OidcProvider::start(&[], &[]).await;
    // Keys through discovery, and ES256 allowed besides RS256.
    let env = gateway_trusting(&provider, "algorithms = [\"RS256\", \"ES256\"]").await;
    let before = provider.id_token("carol").await;
    assert_token_accepted(&env, &before, "carol", "before the rotation").await;
    wait_for_jwks_fetches(&provider, 2).await;
    assert_eq!(provider.stats().await.discovery, 1);

    provider.rotate_keys().await;
    let after = provider.id_token("carol").await;
    assert_token_accepted(&env, &after, "carol", "after the rotation").await;
    assert_eq!(
        provider.stats().await.jwks,
        3,
        "one refresh for the new kid"
    );
    let es256 = provider
        .mint(&Mint::new(API_CLIENT_ID, "carol").alg("ES256"))
        .await;
    assert_token_accepted(&env, &es256, "carol", "the rotated ES256 key").await;

    // Keys never published: refused, and the refresh interval holds — no fetch at all.
    for n in 0..10 {
        let forged = provider
            .mint(&Mint::new(API_CLIENT_ID, "carol").unpublished_key())
            .await;
        assert_token_rejected(&env, &forged, &format!("unpublished key {n}")).await;
    }
    assert_eq!(provider.stats().await.jwks, 3, "no refresh storm");
    // The token signed before the rotation names a kid no longer published: refused.
    assert_token_rejected(&env, &before, "a token of the withdrawn key").await;
    assert_eq!(provider.stats().await.jwks, 3);
}
