//! Tests of `token`: issue, verify, keys and their traps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};

use super::keys::validation;
use super::*;
use crate::config::DEFAULT_USER_CLAIM;

const SECRET: &[u8] = b"test-only-secret-0123456789abcdef";
const ISS: &str = "https://auth.example.com";
const AUD: &str = "example.com";
const T0: u64 = 1_700_000_000;
const RSA_PRIVATE: &str = include_str!("../../../tests/fixtures/keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../../../tests/fixtures/keys/rsa-public.pem");
const RSA_OLD_PRIVATE: &str = include_str!("../../../tests/fixtures/keys/rsa-old-private.pem");
const RSA_OLD_PUBLIC: &str = include_str!("../../../tests/fixtures/keys/rsa-old-public.pem");
const EC256_PRIVATE: &str = include_str!("../../../tests/fixtures/keys/ec-p256-private.pem");
const EC384_PRIVATE: &str = include_str!("../../../tests/fixtures/keys/ec-p384-private.pem");
const EC384_PUBLIC: &str = include_str!("../../../tests/fixtures/keys/ec-p384-public.pem");
const ED_PRIVATE: &str = include_str!("../../../tests/fixtures/keys/ed25519-private.pem");
const RSA_1024_PRIVATE: &str = include_str!("../../../tests/fixtures/keys/rsa-1024-private.pem");

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn settings(algorithm: Algorithm) -> TokenSettings {
    TokenSettings {
        algorithm,
        issuer: ISS.to_owned(),
        audience: vec![AUD.to_owned()],
        leeway: Duration::from_secs(30),
        token_ttl: Duration::from_secs(7200),
        user_claim: DEFAULT_USER_CLAIM.to_owned(),
    }
}

fn hs_keys() -> TokenKeys {
    TokenKeys::from_secret(settings(Algorithm::HS256), SECRET).expect("test secret")
}

/// RS256 with the `rsa` fixture as signing key and `rsa-old` as verify-only key "old".
fn rsa_keys() -> TokenKeys {
    let old = [("old".to_owned(), RSA_OLD_PUBLIC.as_bytes().to_vec())];
    TokenKeys::from_pem(settings(Algorithm::RS256), RSA_PRIVATE.as_bytes(), &old)
        .expect("test keys")
}

fn hs_secret() -> EncodingKey {
    EncodingKey::from_secret(SECRET).expect("test secret")
}

fn rsa_private(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("test key")
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

/// A token with exactly this header and payload JSON text, signed with `key` as `alg`.
fn raw_token(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("test signature");
    format!("{message}.{signature}")
}

/// The claims of a valid token at `T0`, as an existing app would mint them.
fn claims() -> Value {
    json!({
        "iss": ISS, "sub": "alice", "aud": AUD, "iat": T0, "nbf": T0, "exp": T0 + 3600,
        "jti": "id-1", "groups": ["admins"], "email": "alice@example.com",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

/// An HS256 token with header `{"alg":"HS256","typ":"JWT"}` and these claims.
fn hs_token(claims: &Value) -> String {
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    raw_token(header, &claims.to_string(), &hs_secret(), Algorithm::HS256)
}

fn hs_token_with_header(header: &str) -> String {
    raw_token(
        header,
        &claims().to_string(),
        &hs_secret(),
        Algorithm::HS256,
    )
}

fn reason(keys: &TokenKeys, token: &str) -> &'static str {
    match keys.verify(token, at(T0)) {
        Ok(verified) => panic!("token was accepted: {verified:?}"),
        Err(error) => error.reason(),
    }
}

fn segment_json(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).expect("segment");
    let bytes = URL_SAFE_NO_PAD.decode(segment).expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

fn issue(keys: &TokenKeys) -> String {
    let groups = ["admins".to_owned(), "dev".to_owned()];
    let ttl = keys.settings.token_ttl;
    keys.issue("alice", &groups, Some("alice@example.com"), ttl, at(T0))
        .expect("issue")
}

#[test]
fn issued_token_verifies_and_carries_the_identity() {
    let keys = hs_keys();
    let verified = keys.verify(&issue(&keys), at(T0 + 60)).expect("valid");
    assert_eq!(verified.identity.user, "alice");
    assert_eq!(verified.identity.groups, ["admins", "dev"]);
    assert_eq!(
        verified.identity.email.as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(verified.jti.as_ref().map(String::len), Some(32));
    assert_eq!(verified.exp, at(T0 + 7200));
}

#[test]
fn issued_token_has_every_claim_and_a_jwt_typ_header() {
    let token = issue(&hs_keys());
    let header = segment_json(&token, 0);
    assert_eq!(
        header,
        json!({"alg": "HS256", "typ": "JWT"}),
        "HS tokens carry no kid"
    );
    let claims = segment_json(&token, 1);
    assert_eq!(claims["iss"], ISS);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], AUD);
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["nbf"], T0);
    assert_eq!(claims["exp"], T0 + 7200);
    assert_eq!(claims["groups"], json!(["admins", "dev"]));
    assert_eq!(claims["email"], "alice@example.com");
    let jti = claims["jti"].as_str().expect("jti");
    assert!(
        jti.len() == 32 && jti.bytes().all(|b| b.is_ascii_hexdigit()),
        "{jti}"
    );
    let sid = claims["sid"].as_str().expect("sid");
    assert!(
        sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()) && sid != jti,
        "{sid}"
    );
    assert_eq!(claims["auth_time"], T0, "a new session starts at issue");
}

#[test]
fn a_token_issued_in_a_session_keeps_its_sid_and_auth_time_with_a_new_jti() {
    let keys = hs_keys();
    let first = keys.verify(&issue(&keys), at(T0)).expect("valid");
    let session = first.session.clone().expect("a session");
    assert_eq!(session.signed_in, at(T0));
    let ttl = Duration::from_secs(600);
    let renewed = keys
        .issue_in(&session, "alice", &[], None, ttl, at(T0 + 5000))
        .expect("issue");
    let verified = keys.verify(&renewed, at(T0 + 5000)).expect("valid");
    assert_eq!(verified.session, Some(session));
    assert_ne!(verified.jti, first.jti);
    assert_eq!(verified.exp, at(T0 + 5600));
    let claims = segment_json(&renewed, 1);
    assert_eq!(claims["auth_time"], T0);
    assert_eq!(claims["iat"], T0 + 5000);
}

#[test]
fn a_session_needs_both_sid_and_auth_time_and_sane_values() {
    let keys = hs_keys();
    let verified = |claims: &Value| keys.verify(&hs_token(claims), at(T0));
    assert_eq!(
        verified(&claims()).expect("no session claims").session,
        None
    );
    let only_sid = with(claims(), "sid", json!("s-1"));
    assert_eq!(verified(&only_sid).expect("valid").session, None);
    let both = with(only_sid.clone(), "auth_time", json!(T0 - 10));
    let session = verified(&both).expect("valid").session.expect("session");
    assert_eq!(
        (session.id.as_str(), session.signed_in),
        ("s-1", at(T0 - 10))
    );
    for (what, claims) in [
        (
            "auth_time in the future",
            with(both.clone(), "auth_time", json!(T0 + 3600)),
        ),
        ("empty sid", with(both.clone(), "sid", json!(""))),
        (
            "oversized sid",
            with(both.clone(), "sid", json!("s".repeat(129))),
        ),
        ("sid not a string", with(both.clone(), "sid", json!(7))),
        (
            "auth_time a string",
            with(both.clone(), "auth_time", json!("1")),
        ),
    ] {
        assert!(verified(&claims).is_err(), "{what}");
    }
}

#[test]
fn issued_tokens_get_distinct_random_jti() {
    let keys = hs_keys();
    let jti = |token: &str| segment_json(token, 1)["jti"].clone();
    assert_ne!(jti(&issue(&keys)), jti(&issue(&keys)));
}

#[test]
fn audience_is_a_string_for_one_an_array_for_several_and_absent_for_none() {
    let aud = |audience: &[&str]| {
        let mut settings = settings(Algorithm::HS256);
        settings.audience = audience.iter().map(|a| (*a).to_owned()).collect();
        let keys = TokenKeys::from_secret(settings, SECRET).expect("keys");
        let token = issue(&keys);
        keys.verify(&token, at(T0)).expect("own token verifies");
        segment_json(&token, 1).get("aud").cloned()
    };
    assert_eq!(aud(&["a"]), Some(json!("a")));
    assert_eq!(aud(&["a", "b"]), Some(json!(["a", "b"])));
    assert_eq!(aud(&[]), None);
}

#[test]
fn asymmetric_tokens_carry_the_kid_and_verify_for_every_algorithm() {
    let cases = [
        (Algorithm::RS256, RSA_PRIVATE),
        (Algorithm::RS384, RSA_PRIVATE),
        (Algorithm::RS512, RSA_PRIVATE),
        (Algorithm::PS256, RSA_PRIVATE),
        (Algorithm::ES256, EC256_PRIVATE),
        (Algorithm::ES384, EC384_PRIVATE),
        (Algorithm::EdDSA, ED_PRIVATE),
    ];
    for (algorithm, pem) in cases {
        let keys = TokenKeys::from_pem(settings(algorithm), pem.as_bytes(), &[])
            .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
        let token = issue(&keys);
        let kid = segment_json(&token, 0)["kid"].clone();
        let jwks = keys.jwks().expect("asymmetric keys are published");
        assert_eq!(kid, jwks["keys"][0]["kid"], "{algorithm:?}");
        assert_eq!(
            keys.verify(&token, at(T0)).expect("valid").identity.user,
            "alice"
        );
    }
}

#[test]
fn kid_is_the_stable_thumbprint_of_the_key() {
    let kid = |keys: &TokenKeys| keys.jwks().expect("jwks")["keys"][0]["kid"].clone();
    assert_eq!(kid(&rsa_keys()), kid(&rsa_keys()));
    assert_eq!(
        kid(&rsa_keys()).as_str().map(str::len),
        Some(43),
        "base64url SHA-256"
    );
}

#[test]
fn derived_public_key_matches_the_fixture_public_key() {
    let token = issue(&rsa_keys());
    let key = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).expect("public key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.set_audience(&[AUD]);
    jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("verifies");
}

#[test]
fn hand_built_pyjwt_style_token_with_username_claim_verifies() {
    let mut settings = settings(Algorithm::HS256);
    settings.user_claim = "username".to_owned();
    settings.audience.clear();
    let keys = TokenKeys::from_secret(settings, SECRET).expect("keys");
    // What `jwt.encode({...}, secret, algorithm="HS256")` produces: no sub, jti, nbf...
    let payload = format!(r#"{{"username":"bob","iss":"{ISS}","exp":{}}}"#, T0 + 60);
    let token = raw_token(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload,
        &hs_secret(),
        Algorithm::HS256,
    );
    let verified = keys.verify(&token, at(T0)).expect("valid");
    assert_eq!(verified.identity.user, "bob");
    assert!(
        verified.identity.groups.is_empty()
            && verified.identity.email.is_none()
            && verified.jti.is_none()
    );
    assert_eq!(
        keys.verify(&issue(&keys), at(T0))
            .expect("own token")
            .identity
            .user,
        "alice"
    );
}

#[test]
fn hand_built_token_with_all_claims_is_accepted() {
    let verified = hs_keys()
        .verify(&hs_token(&claims()), at(T0))
        .expect("valid");
    assert_eq!(verified.jti.as_deref(), Some("id-1"));
}

#[test]
fn alg_none_is_rejected() {
    let header = b64(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(&claims().to_string());
    let keys = hs_keys();
    assert_eq!(
        reason(&keys, &format!("{header}.{payload}.c2ln")),
        "wrong_algorithm"
    );
    assert_eq!(reason(&keys, &format!("{header}.{payload}.")), "malformed");
    let header = b64(r#"{"alg":"None","typ":"JWT"}"#);
    assert_eq!(
        reason(&keys, &format!("{header}.{payload}.c2ln")),
        "wrong_algorithm"
    );
}

#[test]
fn other_algorithm_of_the_same_family_is_rejected() {
    let header = r#"{"alg":"HS512","typ":"JWT"}"#;
    let token = raw_token(
        header,
        &claims().to_string(),
        &hs_secret(),
        Algorithm::HS512,
    );
    assert_eq!(reason(&hs_keys(), &token), "wrong_algorithm");
    let header = r#"{"alg":"PS256","typ":"JWT"}"#;
    let key = rsa_private(RSA_PRIVATE);
    let token = raw_token(header, &claims().to_string(), &key, Algorithm::PS256);
    assert_eq!(reason(&rsa_keys(), &token), "wrong_algorithm");
}

#[test]
fn algorithm_names_are_case_sensitive() {
    assert_eq!(
        reason(&hs_keys(), &hs_token_with_header(r#"{"alg":"hs256"}"#)),
        "wrong_algorithm"
    );
}

#[test]
fn hs_token_signed_with_rsa_public_key_is_rejected() {
    let keys = rsa_keys();
    let kid = keys.jwks().expect("jwks")["keys"][0]["kid"].clone();
    let forged = EncodingKey::from_secret(RSA_PUBLIC.as_bytes()).expect("secret");
    for header in [
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"alg": "HS256", "kid": kid}),
    ] {
        let token = raw_token(
            &header.to_string(),
            &claims().to_string(),
            &forged,
            Algorithm::HS256,
        );
        assert_eq!(reason(&keys, &token), "wrong_algorithm");
    }
}

#[test]
fn token_signed_with_another_secret_is_rejected() {
    let other = EncodingKey::from_secret(b"another-secret-0123456789abcdef!").expect("secret");
    let header = r#"{"alg":"HS256"}"#;
    let token = raw_token(header, &claims().to_string(), &other, Algorithm::HS256);
    assert_eq!(reason(&hs_keys(), &token), "bad_signature");
}

#[test]
fn tampered_payload_is_rejected() {
    let token = hs_token(&claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(&with(claims(), "sub", json!("mallory")).to_string());
    assert_eq!(reason(&hs_keys(), &parts.join(".")), "bad_signature");
}

#[test]
fn expired_token_is_rejected_after_the_leeway() {
    let keys = hs_keys();
    let token = hs_token(&with(claims(), "exp", json!(T0 - 31)));
    assert_eq!(reason(&keys, &token), "expired");
    let token = hs_token(&with(claims(), "exp", json!(T0 - 30)));
    assert!(keys.verify(&token, at(T0)).is_ok(), "within the leeway");
}

#[test]
fn token_before_its_nbf_is_rejected() {
    let keys = hs_keys();
    assert_eq!(
        reason(&keys, &hs_token(&with(claims(), "nbf", json!(T0 + 31)))),
        "not_yet_valid"
    );
    assert!(
        keys.verify(&hs_token(&with(claims(), "nbf", json!(T0 + 30))), at(T0))
            .is_ok()
    );
}

#[test]
fn token_issued_in_the_future_is_rejected() {
    let keys = hs_keys();
    let token = hs_token(&with(claims(), "iat", json!(T0 + 31)));
    assert_eq!(reason(&keys, &token), "issued_in_future");
    assert!(
        keys.verify(&hs_token(&with(claims(), "iat", json!(T0 + 30))), at(T0))
            .is_ok()
    );
}

#[test]
fn missing_required_claims_are_rejected() {
    let keys = hs_keys();
    for claim in ["exp", "iss", "sub", "aud"] {
        let error = keys.verify(&hs_token(&without(claims(), claim)), at(T0));
        assert!(
            matches!(&error, Err(TokenError::MissingClaim(c)) if c == claim),
            "{claim}: {error:?}"
        );
    }
}

#[test]
fn user_claim_must_be_a_non_empty_string() {
    let keys = hs_keys();
    for sub in [json!(""), json!(42), json!(true), Value::Null] {
        let token = hs_token(&with(claims(), "sub", sub.clone()));
        assert_eq!(reason(&keys, &token), "invalid_claim", "{sub}");
    }
    // jsonwebtoken's own claim parse already fails on structured values.
    for sub in [json!(["alice"]), json!({"name": "alice"})] {
        assert_eq!(
            reason(&keys, &hs_token(&with(claims(), "sub", sub))),
            "malformed"
        );
    }
}

#[test]
fn wrong_issuer_is_rejected() {
    let keys = hs_keys();
    let token = hs_token(&with(claims(), "iss", json!("https://evil.example")));
    assert_eq!(reason(&keys, &token), "wrong_issuer");
    // jsonwebtoken alone accepts an array containing the issuer.
    let token = hs_token(&with(claims(), "iss", json!([ISS, "https://evil.example"])));
    assert_eq!(reason(&keys, &token), "malformed");
}

#[test]
fn wrong_audience_is_rejected_and_one_of_several_is_accepted() {
    let keys = hs_keys();
    assert_eq!(
        reason(&keys, &hs_token(&with(claims(), "aud", json!("other")))),
        "wrong_audience"
    );
    let token = hs_token(&with(claims(), "aud", json!(["other", AUD])));
    assert!(keys.verify(&token, at(T0)).is_ok());
}

#[test]
fn any_aud_is_accepted_when_no_audience_is_configured() {
    let mut settings = settings(Algorithm::HS256);
    settings.audience.clear();
    let keys = TokenKeys::from_secret(settings, SECRET).expect("keys");
    assert!(
        keys.verify(
            &hs_token(&with(claims(), "aud", json!("elsewhere"))),
            at(T0)
        )
        .is_ok()
    );
    assert!(
        keys.verify(&hs_token(&without(claims(), "aud")), at(T0))
            .is_ok()
    );
}

#[test]
fn string_exp_is_rejected() {
    let token = hs_token(&with(claims(), "exp", json!((T0 + 3600).to_string())));
    let error = hs_keys().verify(&token, at(T0)).expect_err("string exp");
    assert!(
        matches!(&error, TokenError::MissingClaim(c) | TokenError::InvalidClaim(c) if c == "exp"),
        "{error:?}"
    );
}

#[test]
fn string_nbf_and_iat_are_rejected() {
    let keys = hs_keys();
    for claim in ["nbf", "iat"] {
        let token = hs_token(&with(claims(), claim, json!((T0 + 3600).to_string())));
        assert_eq!(reason(&keys, &token), "malformed", "{claim}");
    }
}

#[test]
fn fractional_dates_are_accepted_and_absurd_ones_do_not_panic() {
    let keys = hs_keys();
    let token = hs_token(&with(claims(), "exp", json!(T0 as f64 + 0.5)));
    assert!(keys.verify(&token, at(T0)).is_ok());
    for exp in [json!(u64::MAX), json!(1e300), json!(-1), json!(f64::MAX)] {
        assert!(
            keys.verify(&hs_token(&with(claims(), "exp", exp)), at(T0))
                .is_err()
        );
    }
}

#[test]
fn typ_other_than_jwt_is_rejected() {
    let keys = hs_keys();
    let typ = |typ: &str| hs_token_with_header(&format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#));
    assert_eq!(reason(&keys, &typ("at+jwt")), "wrong_type");
    assert_eq!(reason(&keys, &typ("JWS")), "wrong_type");
    assert!(keys.verify(&typ("jwt"), at(T0)).is_ok());
    assert!(
        keys.verify(&hs_token_with_header(r#"{"alg":"HS256"}"#), at(T0))
            .is_ok()
    );
}

#[test]
fn crit_header_is_rejected_even_where_jsonwebtoken_accepts_it() {
    let keys = hs_keys();
    for header in [
        r#"{"alg":"HS256","crit":["b64"],"b64":true}"#,
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":null}"#,
    ] {
        assert_eq!(
            reason(&keys, &hs_token_with_header(header)),
            "critical_header",
            "{header}"
        );
    }
}

#[test]
fn unknown_kid_is_rejected() {
    assert_eq!(
        reason(
            &hs_keys(),
            &hs_token_with_header(r#"{"alg":"HS256","kid":"k"}"#)
        ),
        "unknown_kid"
    );
    let key = rsa_private(RSA_PRIVATE);
    let token = raw_token(
        r#"{"alg":"RS256","kid":"nope"}"#,
        &claims().to_string(),
        &key,
        Algorithm::RS256,
    );
    assert_eq!(reason(&rsa_keys(), &token), "unknown_kid");
}

#[test]
fn kid_selects_a_verify_only_key_and_no_kid_means_the_current_key() {
    let keys = rsa_keys();
    let old = rsa_private(RSA_OLD_PRIVATE);
    let sign = |header: &str| raw_token(header, &claims().to_string(), &old, Algorithm::RS256);
    assert!(
        keys.verify(&sign(r#"{"alg":"RS256","kid":"old"}"#), at(T0))
            .is_ok()
    );
    assert_eq!(reason(&keys, &sign(r#"{"alg":"RS256"}"#)), "bad_signature");
    let current = rsa_private(RSA_PRIVATE);
    let token = raw_token(
        r#"{"alg":"RS256"}"#,
        &claims().to_string(),
        &current,
        Algorithm::RS256,
    );
    assert!(keys.verify(&token, at(T0)).is_ok());
}

#[test]
fn jku_x5u_and_jwk_headers_are_ignored_never_followed() {
    // The configured keys do not include `rsa-old`: an attacker's key.
    let keys =
        TokenKeys::from_pem(settings(Algorithm::RS256), RSA_PRIVATE.as_bytes(), &[]).expect("keys");
    let attacker = rsa_private(RSA_OLD_PRIVATE);
    let jwk = Jwk::from_encoding_key(&attacker, Algorithm::RS256).expect("jwk");
    let header = json!({
        "alg": "RS256", "jwk": jwk, "jku": "https://evil.example/jwks.json",
        "x5u": "https://evil.example/cert.pem",
    });
    let forged = raw_token(
        &header.to_string(),
        &claims().to_string(),
        &attacker,
        Algorithm::RS256,
    );
    assert_eq!(reason(&keys, &forged), "bad_signature");
    let current = rsa_private(RSA_PRIVATE);
    let token = raw_token(
        &header.to_string(),
        &claims().to_string(),
        &current,
        Algorithm::RS256,
    );
    assert!(
        keys.verify(&token, at(T0)).is_ok(),
        "the headers are ignored, not refused"
    );
}

#[test]
fn oversized_token_is_rejected_before_decoding() {
    let keys = hs_keys();
    let padding = "A".repeat(MAX_TOKEN_BYTES);
    assert_eq!(reason(&keys, &format!("{padding}.e30.e30")), "too_large");
    let big = hs_token(&with(claims(), "pad", json!("x".repeat(MAX_TOKEN_BYTES))));
    assert_eq!(reason(&keys, &big), "too_large");
}

#[test]
fn token_without_exactly_three_base64url_parts_is_rejected() {
    let keys = hs_keys();
    let token = hs_token(&claims());
    let cases = [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{token}.x"),
        format!("{token}="),
        format!(" {token}"),
        token.replacen('.', "..", 1),
        token.replace('-', "+"),
        format!(".{token}"),
        "é.é.é".to_owned(),
    ];
    for case in cases {
        if case != token {
            assert_eq!(reason(&keys, &case), "malformed", "{case:?}");
        }
    }
}

#[test]
fn garbage_never_panics() {
    let keys = rsa_keys();
    let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
    let headers = [
        r#"{"alg":"RS256"}"#,
        "[]",
        "null",
        r#"{"alg":5}"#,
        r#"{"alg":"RS256","alg":"RS256"}"#,
        &deep,
    ];
    let payloads = ["[]", "\"x\"", "{}", r#"{"exp":{}}"#, &deep, "\u{0}"];
    for header in headers {
        for payload in payloads {
            for signature in ["AAAA", "A", "_-_-"] {
                let token = format!("{}.{}.{signature}", b64(header), b64(payload));
                assert!(keys.verify(&token, at(T0)).is_err(), "{header} {payload}");
            }
        }
    }
}

#[test]
fn reasons_are_distinct_snake_case_labels() {
    let jwt_error = || JwtError::from(ErrorKind::InvalidKeyFormat);
    let errors = [
        TokenError::TooLarge,
        TokenError::Malformed,
        TokenError::WrongAlgorithm,
        TokenError::WrongType,
        TokenError::CriticalHeader,
        TokenError::UnknownKid,
        TokenError::BadSignature,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::IssuedInFuture,
        TokenError::WrongIssuer,
        TokenError::WrongAudience,
        TokenError::MissingClaim("exp".to_owned()),
        TokenError::InvalidClaim("exp".to_owned()),
        TokenError::Unverifiable(jwt_error()),
        TokenError::SigningFailed(jwt_error()),
        TokenError::RandomFailed,
    ];
    let mut reasons: Vec<&str> = errors.iter().map(TokenError::reason).collect();
    for reason in &reasons {
        assert!(
            reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{reason}"
        );
    }
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len());
    assert_eq!(TokenError::Expired.reason(), "expired");
    assert_eq!(TokenError::BadSignature.reason(), "bad_signature");
}

#[test]
fn debug_output_never_shows_key_material() {
    let secret = String::from_utf8_lossy(SECRET).into_owned();
    let debug = format!("{:?}", hs_keys());
    assert!(
        !debug.contains(&secret) && !debug.contains("116, 101, 115, 116"),
        "{debug}"
    );
    let debug = format!("{:?}", rsa_keys());
    let body: String = RSA_PRIVATE
        .lines()
        .nth(1)
        .expect("pem body")
        .chars()
        .take(20)
        .collect();
    assert!(
        !debug.contains(&body) && debug.contains("[redacted]"),
        "{debug}"
    );
}

#[test]
fn short_secret_is_refused() {
    let short = &SECRET[..MIN_SECRET_BYTES - 1];
    let error = TokenKeys::from_secret(settings(Algorithm::HS256), short).expect_err("short");
    assert!(
        matches!(error, KeyError::SecretTooShort { len: 31 }),
        "{error:?}"
    );
    assert!(TokenKeys::from_secret(settings(Algorithm::HS512), &SECRET[..32]).is_ok());
}

#[test]
fn key_kind_must_fit_the_algorithm() {
    let error = TokenKeys::from_secret(settings(Algorithm::RS256), SECRET).expect_err("rs");
    assert!(matches!(error, KeyError::WrongKeyKind(..)), "{error:?}");
    let error = TokenKeys::from_pem(settings(Algorithm::HS256), RSA_PRIVATE.as_bytes(), &[])
        .expect_err("hs");
    assert!(matches!(error, KeyError::WrongKeyKind(..)), "{error:?}");
}

#[test]
fn invalid_private_keys_are_refused() {
    let cases = [
        (Algorithm::RS256, "not a pem"),
        (Algorithm::RS256, RSA_PUBLIC),
        (Algorithm::RS256, ED_PRIVATE),
        (Algorithm::ES256, EC384_PRIVATE),
        (Algorithm::EdDSA, EC256_PRIVATE),
    ];
    for (algorithm, pem) in cases {
        let error = TokenKeys::from_pem(settings(algorithm), pem.as_bytes(), &[]);
        assert!(
            matches!(error, Err(KeyError::InvalidPrivateKey(..))),
            "{algorithm:?}"
        );
    }
}

#[test]
fn validation_pins_exactly_the_configured_algorithm_and_claims() {
    let validation = validation(&settings(Algorithm::RS256));
    assert_eq!(validation.algorithms, [Algorithm::RS256]);
    let mut required: Vec<&str> = validation
        .required_spec_claims
        .iter()
        .map(String::as_str)
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["aud", "exp", "iss"]);
    assert_eq!(validation.leeway, 30);
    // Time is checked against the caller's `now`, not jsonwebtoken's clock.
    assert!(!validation.validate_exp && !validation.validate_nbf);
}

#[test]
fn rsa_key_shorter_than_2048_bits_is_refused() {
    let pem = RSA_1024_PRIVATE.as_bytes();
    let error = TokenKeys::from_pem(settings(Algorithm::RS256), pem, &[]);
    assert!(
        matches!(error, Err(KeyError::InvalidPrivateKey(..))),
        "{error:?}"
    );
}

#[test]
fn invalid_or_ambiguous_verify_keys_are_refused() {
    let load = |algorithm, private: &str, kid: &str, public: &str| {
        let verify = [(kid.to_owned(), public.as_bytes().to_vec())];
        TokenKeys::from_pem(settings(algorithm), private.as_bytes(), &verify)
    };
    let error = load(Algorithm::ES256, EC256_PRIVATE, "old", EC384_PUBLIC);
    assert!(
        matches!(error, Err(KeyError::InvalidPublicKey(..))),
        "{error:?}"
    );
    let error = load(Algorithm::RS256, RSA_PRIVATE, "old", "garbage");
    assert!(
        matches!(error, Err(KeyError::InvalidPublicKey(..))),
        "{error:?}"
    );
    let error = load(Algorithm::RS256, RSA_PRIVATE, "", RSA_OLD_PUBLIC);
    assert!(matches!(error, Err(KeyError::DuplicateKid(_))), "{error:?}");
    let kid = rsa_keys().jwks().expect("jwks")["keys"][0]["kid"]
        .as_str()
        .map(str::to_owned);
    let error = load(
        Algorithm::RS256,
        RSA_PRIVATE,
        &kid.expect("kid"),
        RSA_OLD_PUBLIC,
    );
    assert!(matches!(error, Err(KeyError::DuplicateKid(_))), "{error:?}");
}

#[test]
fn reserved_user_claim_is_refused() {
    let mut settings = settings(Algorithm::HS256);
    settings.user_claim = "iss".to_owned();
    let error = TokenKeys::from_secret(settings, SECRET).expect_err("reserved");
    assert!(matches!(error, KeyError::ReservedUserClaim(_)), "{error:?}");
}

#[test]
fn jwks_lists_current_and_verify_keys_with_rfc7517_fields() {
    let jwks = rsa_keys().jwks().expect("jwks");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1]["kid"], "old");
    for key in keys {
        assert_eq!(
            (&key["kty"], &key["alg"], &key["use"]),
            (&json!("RSA"), &json!("RS256"), &json!("sig"))
        );
        assert!(key["n"].is_string() && key["e"].is_string() && key.get("d").is_none());
    }
    let ec = TokenKeys::from_pem(settings(Algorithm::ES256), EC256_PRIVATE.as_bytes(), &[]);
    let ec = ec.expect("keys").jwks().expect("jwks")["keys"][0].clone();
    assert_eq!(
        (&ec["kty"], &ec["crv"], &ec["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"))
    );
    assert!(ec["x"].is_string() && ec["y"].is_string() && ec.get("d").is_none());
    let ed = TokenKeys::from_pem(settings(Algorithm::EdDSA), ED_PRIVATE.as_bytes(), &[]);
    let ed = ed.expect("keys").jwks().expect("jwks")["keys"][0].clone();
    assert_eq!(
        (&ed["kty"], &ed["crv"], &ed["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert!(ed["x"].is_string() && ed.get("d").is_none());
}

#[test]
fn jwks_is_none_for_hmac() {
    assert!(hs_keys().jwks().is_none());
}

#[test]
fn published_jwks_verifies_issued_tokens() {
    for (algorithm, pem) in [
        (Algorithm::RS256, RSA_PRIVATE),
        (Algorithm::ES384, EC384_PRIVATE),
        (Algorithm::EdDSA, ED_PRIVATE),
    ] {
        let keys = TokenKeys::from_pem(settings(algorithm), pem.as_bytes(), &[]).expect("keys");
        let set: JwkSet = serde_json::from_value(keys.jwks().expect("jwks")).expect("set");
        let token = issue(&keys);
        let kid = segment_json(&token, 0)["kid"]
            .as_str()
            .map(str::to_owned)
            .expect("kid");
        let key = DecodingKey::from_jwk(set.find(&kid).expect("published")).expect("key");
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.set_audience(&[AUD]);
        jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("verifies");
    }
}

#[test]
fn huge_ttl_and_clock_before_epoch_do_not_panic() {
    let keys = hs_keys();
    let token = keys
        .issue("alice", &[], None, Duration::MAX, at(T0))
        .expect("issue");
    assert!(
        keys.verify(&token, at(T0)).is_err(),
        "exp beyond SystemTime"
    );
    let before_epoch = UNIX_EPOCH
        .checked_sub(Duration::from_secs(1))
        .expect("time");
    let token = keys.issue("alice", &[], None, Duration::from_secs(60), before_epoch);
    assert!(keys.verify(&token.expect("issue"), at(T0)).is_err());
}

#[test]
fn repeated_member_names_are_rejected_even_where_jsonwebtoken_keeps_the_last() {
    let keys = hs_keys();
    let text = claims().to_string();
    let inner = text.trim_end_matches('}');
    assert!(keys.verify(&hs_token(&claims()), at(T0)).is_ok(), "control");
    for repeated in [
        r#""groups":["root"]"#,
        r#""email":"boss@example.com""#,
        r#""jti":"other""#,
        r#""sub":"mallory""#,
        r#""exp":1"#,
    ] {
        let payload = format!("{inner},{repeated}}}");
        let token = raw_token(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &payload,
            &hs_secret(),
            Algorithm::HS256,
        );
        assert_eq!(reason(&keys, &token), "malformed", "{repeated}");
    }
    // Nested objects are not the payload's members: a repeat inside one is not ours to judge.
    let nested = with(claims(), "ext", json!({"a": 1}))
        .to_string()
        .replace(r#"{"a":1}"#, r#"{"a":1,"a":2}"#);
    let token = raw_token(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &nested,
        &hs_secret(),
        Algorithm::HS256,
    );
    assert!(keys.verify(&token, at(T0)).is_ok());
}

#[test]
fn identity_claims_that_would_change_meaning_as_headers_are_rejected() {
    let keys = hs_keys();
    for (claim, value) in [
        ("groups", json!(["dev,admins"])),
        ("groups", json!([""])),
        ("groups", json!(["dev\r\nx-forwarded-user: root"])),
        ("email", json!("a@example.com\nx: y")),
        ("sub", json!("alice\r\nx-forwarded-groups: admins")),
        ("sub", json!("alice\u{0}")),
    ] {
        let token = hs_token(&with(claims(), claim, value.clone()));
        assert_eq!(reason(&keys, &token), "invalid_claim", "{claim}: {value}");
    }
    let fine = with(claims(), "groups", json!(["dev", "ops team", "ünïcode"]));
    let verified = keys
        .verify(&hs_token(&fine), at(T0))
        .expect("ordinary groups");
    assert_eq!(verified.identity.groups, ["dev", "ops team", "ünïcode"]);
}
