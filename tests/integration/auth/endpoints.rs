//! The gateway's own endpoints under `/.auth`: me, the login page, logout confirm, JWKS and
//! forward-auth verify.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::support::env::{env, env_with};
use crate::support::rejections::{assert_error, assert_invalid_token, assert_unauthorized};
use crate::support::requests::{Req, query_param};
use crate::support::tokens::{
    AUDIENCE, ISSUER, RSA_PUBLIC_PEM, claims, mint_hs256, now, token_part, with_claim,
};
use crate::support::users::{ALICE_PASSWORD, BOB_PASSWORD};

#[tokio::test]
async fn me_returns_the_identity_or_401() {
    let env = env().await;
    let (token, cookie) = env.login("alice", ALICE_PASSWORD).await;
    let response = env
        .send(Req::get("app2.example.test", "/.auth/me").cookie(&cookie))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let me = response.json();
    assert_eq!(me["user"], "alice");
    assert_eq!(me["groups"], json!(["admins", "dev"]));
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(me["expires_at"], token_part(&cookie, 1)["exp"]);

    let response = env
        .send(Req::get("app1.example.test", "/.auth/me").bearer(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["user"], "alice");

    let (bob, _) = env.login("bob", BOB_PASSWORD).await;
    let response = env
        .send(Req::get("app1.example.test", "/.auth/me").bearer(&bob))
        .await;
    let me = response.json();
    assert_eq!(me["user"], "bob");
    assert_eq!(me["groups"], json!([]));
    assert_eq!(me["email"], Value::Null);

    let response = env.send(Req::get("app1.example.test", "/.auth/me")).await;
    assert_unauthorized(&response, "/.auth/me without credentials");
    let expired = mint_hs256(&with_claim(claims("alice"), "exp", json!(now() - 600)));
    let response = env
        .send(Req::get("app1.example.test", "/.auth/me").cookie(&expired))
        .await;
    assert_invalid_token(&response, "/.auth/me with an expired cookie");
    assert_eq!(env.upstream_count(), 0);
}

#[tokio::test]
async fn login_page_is_a_self_contained_form_naming_the_host() {
    let env = env().await;
    let response = env
        .send(Req::get("app1.example.test", "/.auth/login?rd=%2Fsome%2Fpage").accept("text/html"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let content_type = response.headers["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // Compare case- and quote-insensitively: `method=POST` and `name='rd'` are fine too.
    let html = response.text().to_ascii_lowercase().replace('\'', "\"");
    for needle in [
        "<form",
        "method=\"post\"",
        "action=\"/.auth/login\"",
        "name=\"username\"",
        "name=\"password\"",
        "type=\"password\"",
        "name=\"rd\"",
        "type=\"hidden\"",
        "app1.example.test",
    ] {
        assert!(html.contains(needle), "{needle} missing from {html}");
    }
    // The rd travels in the hidden field (HTML-escaping '/' is fine).
    assert!(
        ["/some/page", "&#x2f;some&#x2f;page", "&#47;some&#47;page"]
            .iter()
            .any(|rd| html.contains(rd)),
        "rd missing from {html}"
    );
    // No external assets: the page works offline and leaks nothing to a CDN.
    for needle in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(needle), "external asset {needle} in {html}");
    }
    // The page for another host names that host.
    let response = env
        .send(Req::get("app2.example.test", "/.auth/login").accept("text/html"))
        .await;
    assert_eq!(response.status, 200);
    assert!(response.text().contains("app2.example.test"));
}

#[tokio::test]
async fn login_page_does_not_reflect_rd_as_markup() {
    let env = env().await;
    let response = env
        .send(
            Req::get(
                "app1.example.test",
                "/.auth/login?rd=%2F%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            )
            .accept("text/html"),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let html = response.text();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(!html.contains("\"><script"), "{html}");
}

#[tokio::test]
async fn get_logout_shows_a_confirm_form_and_unknown_endpoints_are_404() {
    let env = env().await;
    let (_, cookie) = env.login("alice", ALICE_PASSWORD).await;
    let response = env
        .send(
            Req::get("app1.example.test", "/.auth/logout")
                .cookie(&cookie)
                .accept("text/html"),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let html = response.text();
    assert!(html.contains("<form"), "{html}");
    assert!(
        html.to_ascii_lowercase().contains("method=\"post\""),
        "{html}"
    );
    // A GET never logs out (no cookie expiry, the token still works).
    assert!(
        response.headers.get("set-cookie").is_none(),
        "{:?}",
        response.headers
    );
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(&cookie))
        .await;
    assert_eq!(response.status, 200);

    for path in ["/.auth/nope", "/.auth/", "/.auth/login/extra"] {
        let response = env.send(Req::get("app1.example.test", path)).await;
        assert_error(&response, 404, "not_found", path);
    }
    assert_eq!(
        env.app1.received().len(),
        1,
        "the prefix never reaches an upstream"
    );
}

#[tokio::test]
async fn jwks_is_404_for_hs256() {
    let env = env().await;
    let response = env
        .send(Req::get("app1.example.test", "/.auth/jwks.json"))
        .await;
    assert_error(&response, 404, "not_found", "jwks for HS256");
    assert!(!response.text().contains(crate::support::tokens::SECRET));
}

#[tokio::test]
async fn jwks_publishes_the_rs256_public_key_and_issued_tokens_carry_its_kid() {
    let env = env_with(|c| c.rs256()).await;
    let response = env
        .send(Req::get("app1.example.test", "/.auth/jwks.json"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let jwks = response.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA", "{jwks}");
    let kid = key["kid"].as_str().expect("kid is a string");
    assert!(!kid.is_empty());
    assert!(key.get("n").is_some() && key.get("e").is_some(), "{jwks}");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            key.get(private).is_none(),
            "private part {private} published: {jwks}"
        );
    }

    let (token, _) = env.login("alice", ALICE_PASSWORD).await;
    let header = token_part(&token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], kid);

    // The token verifies with the published key and with the fixture's public key.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    let jwk: Jwk = serde_json::from_value(key.clone()).expect("a JWK");
    for (what, decoding_key) in [
        ("JWKS key", DecodingKey::from_jwk(&jwk).expect("jwk key")),
        (
            "fixture public key",
            DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM).expect("pem key"),
        ),
    ] {
        let data = jsonwebtoken::decode::<Value>(&token, &decoding_key, &validation)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(data.claims["sub"], "alice", "{what}");
    }
}

/// A forward-auth request as nginx or Traefik sends it, to the gateway's own host.
fn verify(proto: &str, host: &str, uri: &str) -> Req {
    Req::get("localhost", "/.auth/verify")
        .header("x-forwarded-proto", proto)
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-method", "GET")
}

#[tokio::test]
async fn verify_answers_forward_auth_requests() {
    let env = env().await;
    let (_, alice) = env.login("alice", ALICE_PASSWORD).await;
    let (_, bob) = env.login("bob", BOB_PASSWORD).await;

    // No credentials: 401 with the login URL on the original host.
    let response = env
        .send(verify("https", "app1.example.test", "/some/page?x=1"))
        .await;
    assert_unauthorized(&response, "verify without credentials");
    let location = response.headers["location"].to_str().expect("location");
    assert!(
        location.starts_with("https://app1.example.test/.auth/login?"),
        "{location}"
    );
    assert_eq!(
        query_param(location, "rd").as_deref(),
        Some("/some/page?x=1")
    );

    // The cookie: 200 with the identity headers.
    let response = env
        .send(verify("https", "app1.example.test", "/some/page").cookie(&alice))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.headers["x-forwarded-user"], "alice");
    assert_eq!(response.headers["x-forwarded-groups"], "admins,dev");
    assert_eq!(response.headers["x-forwarded-email"], "alice@example.test");

    // An invalid token: 401.
    let expired = mint_hs256(&with_claim(claims("alice"), "exp", json!(now() - 600)));
    let response = env
        .send(verify("https", "app1.example.test", "/").cookie(&expired))
        .await;
    assert_invalid_token(&response, "verify with an expired cookie");

    // A public route: 200 without identity, even without credentials.
    let response = env
        .send(verify("https", "app1.example.test", "/public/x"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.headers.get("x-forwarded-user").is_none());

    // A group route the user lacks: 403; the admin passes.
    let response = env
        .send(verify("https", "app1.example.test", "/admin/panel").cookie(&bob))
        .await;
    assert_error(&response, 403, "forbidden", "bob on /admin via verify");
    let response = env
        .send(verify("https", "app1.example.test", "/admin/panel").cookie(&alice))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());

    // X-Original-URL is not read under the default url_from = "x-forwarded", in either
    // direction (tests/integration/forward_auth/sources.rs has the rest).
    let response = env
        .send(
            verify("https", "app1.example.test", "/private")
                .header("x-original-url", "https://app1.example.test/public/x"),
        )
        .await;
    assert_unauthorized(&response, "X-Original-URL naming a public page");
    let response = env
        .send(
            verify("https", "app1.example.test", "/public/x")
                .header("x-original-url", "https://app1.example.test/private?y=2"),
        )
        .await;
    assert_eq!(
        response.status,
        200,
        "X-Original-URL naming a protected page: {}",
        response.text()
    );

    // An original URL that does not parse: 400.
    let response = env
        .send(
            Req::get("localhost", "/.auth/verify")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "app1.example.test")
                .header("x-forwarded-uri", "ht!tp://[not a url")
                .header("x-forwarded-method", "GET")
                .cookie(&alice),
        )
        .await;
    assert_error(&response, 400, "bad_request", "garbage X-Forwarded-Uri");

    assert_eq!(env.upstream_count(), 0, "verify never proxies");
}
