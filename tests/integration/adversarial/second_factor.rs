//! The second factor under attack: code brute force, challenge tampering, `amr` forged in
//! a token of another key, and step-up bypass through forward-auth.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::{Tally, refused};
use crate::support::cookies::sets_gateway_cookie;
use crate::support::env::Env;
use crate::support::rejections::assert_throttled;
use crate::support::requests::Req;
use crate::support::tokens::{b64url, claims, mint, mint_hs256, with_claim};
use crate::support::totp::{ALICE_TOTP, Clock, env_2fa};
use crate::support::users::ALICE_PASSWORD;

const APP1: &str = "app1.example.test";

async fn challenge(env: &Env) -> String {
    let response = env.login_json(APP1, "alice", ALICE_PASSWORD).await;
    assert_eq!(response.status, 401, "{}", response.text());
    response.json()["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned()
}

fn code_step(challenge: &str, code: &str) -> Req {
    Req::post(APP1, "/.auth/login").json(&json!({ "challenge": challenge, "code": code }))
}

#[tokio::test]
async fn code_brute_force_is_throttled() {
    let mut tally = Tally::new("second_factor::code_brute_force_is_throttled");
    let env = env_2fa(|c| c.max_failures(5)).await;
    // Five guesses, each on a fresh challenge (a fresh password step), and on the retry
    // challenges the answers hand out: all count against alice and this address.
    let mut next = challenge(&env).await;
    for guess in 0..5 {
        let code = format!("{:06}", 111_111 * (guess + 1) % 1_000_000);
        let response = refused(&env, &mut tally, "guess", code_step(&next, &code), 401).await;
        assert!(!sets_gateway_cookie(&response.headers));
        next = match response.json()["challenge"].as_str() {
            Some(retry) => retry.to_owned(),
            None => challenge(&env).await,
        };
    }
    // Locked: the right code, the right password, and a guess are all refused now.
    let right = Clock::now().current(ALICE_TOTP);
    let locked = refused(
        &env,
        &mut tally,
        "right code",
        code_step(&next, &right),
        429,
    )
    .await;
    assert_throttled(&locked, "right code when locked");
    let password = refused(
        &env,
        &mut tally,
        "password when locked",
        Req::post(APP1, "/.auth/login")
            .json(&json!({"username": "alice", "password": ALICE_PASSWORD})),
        429,
    )
    .await;
    assert_throttled(&password, "password when locked");
    tally.finish();
}

#[tokio::test]
async fn tampered_challenges_are_refused() {
    let mut tally = Tally::new("second_factor::tampered_challenges_are_refused");
    let env = env_2fa(|c| c).await;
    let genuine = challenge(&env).await;
    let clock = Clock::now();
    let mut flipped = genuine.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let token = mint_hs256(&claims("alice"));
    let cases: Vec<(&str, String)> = vec![
        ("flipped character", flipped),
        ("truncated", genuine[..genuine.len() - 1].to_owned()),
        ("extended", format!("{genuine}A")),
        ("empty", String::new()),
        ("padding added", format!("{genuine}==")),
        ("leading space", format!(" {genuine}")),
        ("huge", "A".repeat(100_000)),
        ("a token as challenge", token.clone()),
        ("json injection", format!("{genuine}\",\"user\":\"bob")),
        ("made up", b64url(&[0u8; 16])),
    ];
    for (what, bad) in cases {
        let status = if bad.len() > 50_000 { 413 } else { 401 };
        let response = env.send(code_step(&bad, &clock.current(ALICE_TOTP))).await;
        assert!(
            response.status == status || response.status == 400,
            "{what}: {} {}",
            response.status,
            response.text()
        );
        assert!(!sets_gateway_cookie(&response.headers), "{what}");
        assert_eq!(env.upstream_count(), 0, "{what}");
        tally.refused();
    }
    // A challenge is never a credential: not as a bearer token, not as the cookie.
    for request in [
        Req::get(APP1, "/x").bearer(&genuine),
        Req::get(APP1, "/x").cookie(&genuine),
        Req::get(APP1, "/.auth/me").header("authorization", &genuine),
    ] {
        refused(&env, &mut tally, "challenge as credential", request, 401).await;
    }
    // Control: the untouched challenge (not spent by the tampered ones) still works.
    let ok = env
        .send(code_step(&genuine, &clock.current(ALICE_TOTP)))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    tally.finish();
}

#[tokio::test]
async fn amr_forged_in_a_token_of_another_key_is_refused() {
    let mut tally = Tally::new("second_factor::amr_forged_in_a_token_of_another_key_is_refused");
    let env = env_2fa(|c| c).await;
    let forged = with_claim(claims("alice"), "amr", json!(["pwd", "otp"]));
    let other_key =
        EncodingKey::from_secret(b"another-gateway-secret-0123456789abcdef").expect("key");
    let cases = [
        (
            "another key",
            mint(&Header::new(Algorithm::HS256), &forged, &other_key),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64url(br#"{"alg":"none","typ":"JWT"}"#),
                b64url(forged.to_string().as_bytes())
            ),
        ),
        (
            "amr as a string",
            mint_hs256(&with_claim(claims("alice"), "amr", json!("pwd otp"))),
        ),
        (
            "amr with a non-string",
            mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd", 1]))),
        ),
        (
            "amr with a control character",
            mint_hs256(&with_claim(claims("alice"), "amr", json!(["otp\n"]))),
        ),
    ];
    for (what, token) in cases {
        let response = refused(
            &env,
            &mut tally,
            what,
            Req::get(APP1, "/secure/x").bearer(&token),
            401,
        )
        .await;
        assert_eq!(response.json()["error"], "invalid_token", "{what}");
    }
    // `amr` stuffed into a token of the right key but for a user without the factor: the
    // claim is the gateway's own word, yet a password-only sign-in is still refused.
    let password_only = mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd", "mfa"])));
    let response = refused(
        &env,
        &mut tally,
        "amr without otp",
        Req::get(APP1, "/secure/x").bearer(&password_only),
        401,
    )
    .await;
    assert_eq!(response.json()["error"], "insufficient_user_authentication");
    // Control: the same claims signed with the gateway's key pass.
    let genuine = env
        .send(Req::get(APP1, "/secure/x").bearer(&mint_hs256(&forged)))
        .await;
    assert_eq!(genuine.status, 200, "{}", genuine.text());
    tally.finish();
}

#[tokio::test]
async fn step_up_cannot_be_bypassed_through_forward_auth() {
    let mut tally = Tally::new("second_factor::step_up_cannot_be_bypassed_through_forward_auth");
    let env = env_2fa(|c| c).await;
    let password_only = mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd"])));
    let verify = |uri: &str| {
        Req::get(APP1, "/.auth/verify")
            .bearer(&password_only)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", APP1)
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-method", "GET")
    };
    for uri in [
        "/secure",
        "/secure/panel",
        "/%73ecure/panel",
        "/secure/./panel",
        "/other/../secure/panel",
        "//secure/panel",
        "/secure/panel?next=/other",
    ] {
        let response = refused(&env, &mut tally, uri, verify(uri), 401).await;
        assert_eq!(
            response.json()["error"],
            "insufficient_user_authentication",
            "{uri}"
        );
    }
    // The other source of the original URL is ignored, never a fallback or an override.
    let ignored =
        verify("/secure/panel").header("x-original-url", "https://app1.example.test/other");
    let response = refused(&env, &mut tally, "x-original-url", ignored, 401).await;
    assert_eq!(response.json()["error"], "insufficient_user_authentication");
    // Ambiguous sources are refused outright.
    let doubled = verify("/secure/panel").header("x-forwarded-uri", "/other");
    refused(&env, &mut tally, "two x-forwarded-uri", doubled, 400).await;
    let climbing = verify("/../secure/panel");
    refused(&env, &mut tally, "climbing above the root", climbing, 400).await;
    // Control: a route without the rule answers 200 for the same token.
    let allowed = env.send(verify("/other/panel")).await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    tally.finish();
}
