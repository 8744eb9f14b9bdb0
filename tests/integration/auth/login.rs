//! `POST /.auth/login`: the form and the JSON API, what they set, and what they refuse.

use serde_json::json;

use crate::support::auth_config::TTL_SECS;
use crate::support::cookies::{
    COOKIE, assert_session_cookie_attributes, gateway_set_cookie, sets_gateway_cookie,
};
use crate::support::env::env;
use crate::support::rejections::assert_error;
use crate::support::requests::Req;
use crate::support::tokens::{AUDIENCE, ISSUER, token_part};
use crate::support::users::{ALICE_PASSWORD, BOB_PASSWORD, CAROL_PASSWORD};

#[tokio::test]
async fn form_login_sets_a_parent_domain_cookie_and_redirects_with_303() {
    let env = env().await;
    let response = env
        .login_form(
            "app1.example.test",
            "alice",
            ALICE_PASSWORD,
            Some("/welcome"),
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(response.headers["location"], "/welcome");
    let cookie = gateway_set_cookie(&response.headers);
    assert_session_cookie_attributes(&cookie);
    assert_eq!(cookie.value_of("max-age"), Some("7200"), "{cookie:?}");
    // The cookie holds the compact JWT only, issued for alice.
    assert_eq!(cookie.value.split('.').count(), 3, "{cookie:?}");
    let claims = token_part(&cookie.value, 1);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(
        env.upstream_count(),
        0,
        "login is answered by the gateway itself"
    );
}

#[tokio::test]
async fn json_login_returns_a_bearer_token_and_sets_the_cookie() {
    let env = env().await;
    let response = env
        .login_json("app2.example.test", "alice", ALICE_PASSWORD)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"]
        .as_i64()
        .expect("expires_in is an integer");
    assert!(
        (TTL_SECS - 60..=TTL_SECS).contains(&expires_in),
        "expires_in {expires_in}"
    );
    let token = body["access_token"].as_str().expect("access_token");
    let cookie = gateway_set_cookie(&response.headers);
    assert_session_cookie_attributes(&cookie);

    // The token's claims, as DESIGN.md lists them.
    let header = token_part(token, 0);
    assert_eq!(header["alg"], "HS256");
    assert!(
        header.get("kid").is_none(),
        "HS tokens carry no kid: {header}"
    );
    let claims = token_part(token, 1);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], AUDIENCE, "one audience is a string");
    assert_eq!(claims["groups"], json!(["admins", "dev"]));
    assert_eq!(claims["email"], "alice@example.test");
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{claims}"
    );
    let iat = claims["iat"].as_i64().expect("iat");
    let nbf = claims["nbf"].as_i64().expect("nbf");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(nbf <= iat + 1, "{claims}");
    assert_eq!(exp - iat, TTL_SECS, "{claims}");
    // Two logins never share a jti (revocation is per jti).
    let (second, _) = env.login("alice", ALICE_PASSWORD).await;
    assert_ne!(token_part(&second, 1)["jti"], claims["jti"]);
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_cannot_log_in() {
    let env = env().await;
    let mut bodies = Vec::new();
    for (user, password) in [
        ("alice", "not-alice-password"),
        ("alice", ""),
        ("mallory", ALICE_PASSWORD),
        ("carol", CAROL_PASSWORD),
    ] {
        let response = env.login_json("app1.example.test", user, password).await;
        assert_error(&response, 401, "invalid_credentials", user);
        assert!(!sets_gateway_cookie(&response.headers), "{user}");
        bodies.push(response.body);
    }
    // One generic answer: nothing tells an unknown user from a wrong password.
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");

    // The form answers 401 with the form again, and sets no cookie.
    let response = env
        .login_form("app1.example.test", "bob", "wrong", Some("/"))
        .await;
    assert_eq!(response.status, 401, "{}", response.text());
    assert!(!sets_gateway_cookie(&response.headers));
    let html = response.text();
    assert!(html.contains("name=\"username\""), "{html}");
    assert!(html.contains("name=\"password\""), "{html}");

    // A malformed JSON body is refused (400 bad_request or 401), never a login.
    let response = env
        .send(
            Req::post("app1.example.test", "/.auth/login")
                .body("application/json", "{\"username\": \"bob\""),
        )
        .await;
    assert!(
        response.status == 400 || response.status == 401,
        "{}",
        response.text()
    );
    assert!(!sets_gateway_cookie(&response.headers));

    // The right password still works (nothing above locked bob out).
    let response = env
        .login_json("app1.example.test", "bob", BOB_PASSWORD)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(gateway_set_cookie(&response.headers).name, COOKIE);
    assert_eq!(env.upstream_count(), 0);
}
