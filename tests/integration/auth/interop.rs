//! Tokens cross the gateway's boundary both ways: minted by other JWT libraries with the
//! shared secret (jsonwebtoken here, PyJWT as a Flask app uses it), and issued by the
//! gateway, verified by PyJWT.

use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::support::env::{env, env_with};
use crate::support::pyjwt::python3;
use crate::support::rejections::{assert_token_accepted, assert_token_rejected};
use crate::support::requests::Req;
use crate::support::tokens::{
    AUDIENCE, ISSUER, SECRET, claims, mint, mint_hs256, secret_key, with_claim,
};
use crate::support::users::ALICE_PASSWORD;

/// PyJWT, the way a Flask app mints its session tokens. Args: secret, issuer, username.
const PYJWT_ENCODE: &str = "import sys, time, jwt\n\
token = jwt.encode({'username': sys.argv[3], 'exp': int(time.time()) + 600, 'iss': sys.argv[2]}, sys.argv[1], algorithm='HS256')\n\
print(token if isinstance(token, str) else token.decode())\n";

/// PyJWT verification. Args: token, secret, audience, issuer. Prints the claims as JSON, or
/// `rejected: <exception>`.
const PYJWT_DECODE: &str = "import sys, json, jwt\n\
try:\n    claims = jwt.decode(sys.argv[1], sys.argv[2], algorithms=['HS256'], audience=sys.argv[3], issuer=sys.argv[4])\n    print(json.dumps(claims))\n\
except jwt.InvalidTokenError as e:\n    print('rejected: ' + type(e).__name__)\n";

#[tokio::test]
async fn token_minted_outside_the_gateway_with_the_same_secret_is_accepted() {
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    assert_token_accepted(&env, &token, "alice", "jsonwebtoken HS256").await;
    assert_eq!(env.app1.last().headers["x-forwarded-groups"], "admins,dev");
    let response = env
        .send(Req::get("app2.example.test", "/").cookie(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(env.app2.last().headers["x-forwarded-user"], "alice");

    // An audience array that contains ours, and a header without `typ`, are fine too.
    let token = mint_hs256(&with_claim(
        claims("bob"),
        "aud",
        json!(["other.test", AUDIENCE]),
    ));
    assert_token_accepted(&env, &token, "bob", "aud array").await;
    let mut header = Header::new(Algorithm::HS256);
    header.typ = None;
    let token = mint(&header, &claims("bob"), &secret_key());
    assert_token_accepted(&env, &token, "bob", "no typ").await;
}

#[tokio::test]
async fn pyjwt_token_minted_like_a_flask_app_is_accepted_with_user_claim_username() {
    let env = env_with(|c| c.audience(&[]).auth("user_claim = \"username\"")).await;
    let token = python3(PYJWT_ENCODE, &[SECRET, ISSUER, "alice"]);
    assert_eq!(token.split('.').count(), 3, "PyJWT output: {token}");
    assert_token_accepted(&env, &token, "alice", "PyJWT token as Bearer").await;
    let response = env
        .send(Req::get("app2.example.test", "/").cookie(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(env.app2.last().headers["x-forwarded-user"], "alice");

    // Controls: the user claim names the user, and that user must exist.
    let token = python3(PYJWT_ENCODE, &[SECRET, ISSUER, "mallory"]);
    assert_token_rejected(&env, &token, "PyJWT token for an unknown user").await;
    let token = python3(
        PYJWT_ENCODE,
        &[
            "another-secret-of-at-least-32-bytes-xxxxxxxx",
            ISSUER,
            "alice",
        ],
    );
    assert_token_rejected(&env, &token, "PyJWT token with another secret").await;
    let sub_only = mint_hs256(&claims("alice"));
    assert_token_rejected(&env, &sub_only, "token without the username claim").await;
}

#[tokio::test]
async fn gateway_issued_token_verifies_with_pyjwt() {
    let env = env().await;
    let (token, cookie) = env.login("alice", ALICE_PASSWORD).await;
    for token in [&token, &cookie] {
        let out = python3(PYJWT_DECODE, &[token, SECRET, AUDIENCE, ISSUER]);
        let claims: Value =
            serde_json::from_str(&out).unwrap_or_else(|_| panic!("PyJWT refused it: {out}"));
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["groups"], json!(["admins", "dev"]));
        assert_eq!(claims["email"], "alice@example.test");
    }
    // Control: PyJWT really verifies (another secret is refused).
    let out = python3(
        PYJWT_DECODE,
        &[
            &token,
            "another-secret-of-at-least-32-bytes-xxxxxxxx",
            AUDIENCE,
            ISSUER,
        ],
    );
    assert_eq!(out, "rejected: InvalidSignatureError");
}
