//! Token validation: every way a token can be wrong gets 401 `invalid_token` with the
//! RFC 6750 challenge, and no upstream sees the request. Each test first shows that the same
//! token without the defect is accepted, so the rejection is the check's doing.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::env::{Env, env, env_with};
use crate::support::rejections::{
    assert_token_accepted, assert_token_rejected, assert_unauthorized,
};
use crate::support::requests::Req;
use crate::support::tokens::{
    RSA_OLD_PRIVATE_PEM, RSA_PRIVATE_PEM, RSA_PUBLIC_PEM, b64url, claims, mint, mint_hs256,
    mint_rs256, now, secret_key, sign_message, sign_raw, with_claim,
};

/// The standard JWT header of an HS256 token, as text.
const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A valid HS256 token for alice, checked to be accepted.
async fn accepted_control(env: &Env) -> String {
    let token = mint_hs256(&claims("alice"));
    assert_token_accepted(env, &token, "alice", "control: a valid token").await;
    token
}

/// `token` with one character of its signature changed (a full 6-bit character, not the
/// last one, whose low bits may be padding).
fn tamper_signature(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn missing_token_gets_401_with_a_bare_bearer_challenge() {
    let env = env().await;
    for host in ["app1.example.test", "app2.example.test"] {
        let response = env.send(Req::get(host, "/")).await;
        assert_unauthorized(&response, host);
        // A cookie jar without our cookie is no credential either.
        let response = env
            .send(Req::get(host, "/").header("cookie", "theme=dark; session=abc"))
            .await;
        assert_unauthorized(&response, host);
    }
    assert_eq!(env.upstream_count(), 0);
    accepted_control(&env).await;
}

#[tokio::test]
async fn malformed_tokens_get_401_invalid_token() {
    let env = env().await;
    let valid = accepted_control(&env).await;
    let parts: Vec<&str> = valid.split('.').collect();
    let key = secret_key();
    let payload = claims("alice").to_string();
    for (what, token) in [
        ("one part", "abcdef".to_owned()),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{valid}.{}", parts[2])),
        ("empty parts", "..".to_owned()),
        (
            "bad base64 header",
            sign_message(&format!("!!!.{}", parts[1]), Algorithm::HS256, &key),
        ),
        (
            "bad base64 payload",
            sign_message(&format!("{}.*~*", parts[0]), Algorithm::HS256, &key),
        ),
        (
            "bad base64 signature",
            format!("{}.{}.@@@", parts[0], parts[1]),
        ),
        (
            "header not JSON",
            sign_raw("not json", &payload, Algorithm::HS256, &key),
        ),
        (
            "payload not JSON",
            sign_raw(HS256_HEADER, "not json", Algorithm::HS256, &key),
        ),
        (
            "payload a JSON array",
            sign_raw(HS256_HEADER, "[1,2,3]", Algorithm::HS256, &key),
        ),
        (
            "header without alg",
            sign_raw(r#"{"typ":"JWT"}"#, &payload, Algorithm::HS256, &key),
        ),
    ] {
        assert_token_rejected(&env, &token, what).await;
    }
}

#[tokio::test]
async fn bad_signature_gets_401_invalid_token() {
    let env = env().await;
    let valid = accepted_control(&env).await;
    assert_token_rejected(
        &env,
        &tamper_signature(&valid),
        "one signature character changed",
    )
    .await;
    let other =
        EncodingKey::from_secret(b"another-secret-at-least-32-bytes-long-xxxxxx").expect("key");
    let forged = mint(&Header::new(Algorithm::HS256), &claims("alice"), &other);
    assert_token_rejected(&env, &forged, "signed with another secret").await;
    let (head, _) = valid.rsplit_once('.').expect("three parts");
    assert_token_rejected(&env, &format!("{head}."), "signature removed").await;
    // A valid signature of other claims, on elevated claims.
    let parts: Vec<&str> = valid.split('.').collect();
    let elevated = b64url(claims("mallory").to_string().as_bytes());
    assert_token_rejected(
        &env,
        &format!("{}.{elevated}.{}", parts[0], parts[2]),
        "claims swapped under a valid signature",
    )
    .await;
}

#[tokio::test]
async fn alg_none_is_rejected_with_or_without_a_signature() {
    let env = env().await;
    let valid = accepted_control(&env).await;
    let signature = valid.rsplit('.').next().expect("signature");
    let payload = b64url(claims("alice").to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64url(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        assert_token_rejected(
            &env,
            &format!("{header}.{payload}."),
            &format!("alg {alg} without a signature"),
        )
        .await;
        assert_token_rejected(
            &env,
            &format!("{header}.{payload}.{signature}"),
            &format!("alg {alg} with a signature part"),
        )
        .await;
    }
}

#[tokio::test]
async fn token_signed_with_another_hs_algorithm_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    for alg in [Algorithm::HS512, Algorithm::HS384] {
        let token = mint(&Header::new(alg), &claims("alice"), &secret_key());
        assert_token_rejected(&env, &token, &format!("{alg:?} with the right secret")).await;
    }
    // The header claims HS256, the signature is HS512: the pinned algorithm decides.
    let token = sign_raw(
        HS256_HEADER,
        &claims("alice").to_string(),
        Algorithm::HS512,
        &secret_key(),
    );
    assert_token_rejected(&env, &token, "HS256 header over an HS512 signature").await;
}

#[tokio::test]
async fn hs256_token_signed_with_the_rsa_public_key_is_rejected_by_an_rs256_gateway() {
    let env = env_with(|c| c.rs256()).await;
    // Control: a real RS256 token with the gateway's kid is accepted.
    let kid = env.issued_kid().await;
    let valid = mint_rs256(&claims("alice"), RSA_PRIVATE_PEM, Some(&kid));
    assert_token_accepted(
        &env,
        &valid,
        "alice",
        "control: RS256 with the gateway's key",
    )
    .await;

    // The attack: the public key, which anyone may know, used as an HMAC secret.
    let public_as_secret = EncodingKey::from_secret(RSA_PUBLIC_PEM).expect("key");
    let trimmed = std::str::from_utf8(RSA_PUBLIC_PEM).expect("pem").trim();
    let trimmed_as_secret = EncodingKey::from_secret(trimmed.as_bytes()).expect("key");
    for (what, key) in [
        ("public PEM bytes", &public_as_secret),
        ("trimmed public PEM", &trimmed_as_secret),
    ] {
        for kid in [None, Some(kid.as_str())] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid.map(str::to_owned);
            let token = mint(&header, &claims("alice"), key);
            assert_token_rejected(&env, &token, &format!("HS256 with the {what}, kid {kid:?}"))
                .await;
        }
    }
}

#[tokio::test]
async fn unknown_kid_and_other_keys_are_rejected_by_an_asymmetric_gateway() {
    let env = env_with(|c| c.rs256()).await;
    let kid = env.issued_kid().await;
    let valid = mint_rs256(&claims("alice"), RSA_PRIVATE_PEM, Some(&kid));
    assert_token_accepted(&env, &valid, "alice", "control: the gateway's kid").await;

    // The right key, but a kid that names no configured key.
    let token = mint_rs256(
        &claims("alice"),
        RSA_PRIVATE_PEM,
        Some("not-a-configured-kid"),
    );
    assert_token_rejected(&env, &token, "unknown kid").await;
    // The right kid, another key.
    let token = mint_rs256(&claims("alice"), RSA_OLD_PRIVATE_PEM, Some(&kid));
    assert_token_rejected(&env, &token, "another RSA key under the gateway's kid").await;
    // An HS256 token with the gateway's own HS secret means nothing to an RS256 gateway.
    assert_token_rejected(&env, &mint_hs256(&claims("alice")), "HS256 token").await;
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    let expired = mint_hs256(&with_claim(claims("alice"), "exp", json!(now() - 120)));
    assert_token_rejected(&env, &expired, "expired two minutes ago (leeway 30s)").await;
    let long_expired = with_claim(
        with_claim(claims("alice"), "iat", json!(now() - 7 * 86400)),
        "exp",
        json!(now() - 86400),
    );
    let long_expired = with_claim(long_expired, "nbf", json!(now() - 7 * 86400));
    assert_token_rejected(&env, &mint_hs256(&long_expired), "expired yesterday").await;
}

#[tokio::test]
async fn token_not_yet_valid_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    let token = mint_hs256(&with_claim(claims("alice"), "nbf", json!(now() + 300)));
    assert_token_rejected(&env, &token, "nbf five minutes ahead (leeway 30s)").await;
}

#[tokio::test]
async fn token_issued_in_the_future_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    let future = with_claim(claims("alice"), "iat", json!(now() + 300));
    let future = with_claim(future, "nbf", Value::Null);
    assert_token_rejected(&env, &mint_hs256(&future), "iat five minutes ahead").await;
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    for iss in [
        json!("https://evil.test"),
        json!("https://auth.example.test/"),
        json!("https://AUTH.example.test"),
        json!(""),
    ] {
        let token = mint_hs256(&with_claim(claims("alice"), "iss", iss.clone()));
        assert_token_rejected(&env, &token, &format!("iss {iss}")).await;
    }
}

#[tokio::test]
async fn wrong_or_missing_audience_is_rejected_when_one_is_configured() {
    let env = env().await;
    accepted_control(&env).await;
    for aud in [
        json!("other.test"),
        json!(["other.test", "evil.test"]),
        json!("app1.example.test"),
        json!([]),
        Value::Null,
    ] {
        let token = mint_hs256(&with_claim(claims("alice"), "aud", aud.clone()));
        assert_token_rejected(&env, &token, &format!("aud {aud}")).await;
    }
}

#[tokio::test]
async fn missing_or_mistyped_required_claims_are_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    for (what, claim, value) in [
        ("missing exp", "exp", Value::Null),
        ("string-typed exp", "exp", json!("9999999999")),
        ("missing iss", "iss", Value::Null),
        ("missing sub", "sub", Value::Null),
        ("numeric sub", "sub", json!(1)),
        (
            "string-typed nbf in the future",
            "nbf",
            json!((now() + 3600).to_string()),
        ),
    ] {
        let token = mint_hs256(&with_claim(claims("alice"), claim, value));
        assert_token_rejected(&env, &token, what).await;
    }
}

#[tokio::test]
async fn crit_header_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    let payload = claims("alice").to_string();
    for header in [
        r#"{"alg":"HS256","typ":"JWT","crit":["x-custom"],"x-custom":true}"#,
        r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#,
        r#"{"alg":"HS256","typ":"JWT","crit":[]}"#,
    ] {
        let token = sign_raw(header, &payload, Algorithm::HS256, &secret_key());
        assert_token_rejected(&env, &token, header).await;
    }
}

#[tokio::test]
async fn typ_other_than_jwt_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    let token = sign_raw(
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        &claims("alice").to_string(),
        Algorithm::HS256,
        &secret_key(),
    );
    assert_token_rejected(&env, &token, "typ at+jwt").await;
}

#[tokio::test]
async fn token_of_a_disabled_user_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    let token = mint_hs256(&claims("carol"));
    assert_token_rejected(&env, &token, "carol is disabled").await;
}

#[tokio::test]
async fn token_of_a_user_not_in_the_users_file_is_rejected() {
    let env = env().await;
    accepted_control(&env).await;
    // Claims that name groups do not make a user: the users file does.
    let token = mint_hs256(&with_claim(claims("dave"), "groups", json!(["admins"])));
    assert_token_rejected(&env, &token, "dave was deleted").await;
}

#[tokio::test]
async fn token_of_an_unknown_user_is_trusted_when_require_known_user_is_false() {
    // The counterpart of the previous test: the check above is the users file's doing.
    let env = env_with(|c| c.auth("require_known_user = false")).await;
    let token = mint_hs256(&claims("dave"));
    assert_token_accepted(&env, &token, "dave", "another issuer's user").await;
}
