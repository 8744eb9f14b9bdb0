//! Token validation under attack (RFC 8725, the OWASP JWT cheat sheet, jwt_tool's checks):
//! every forged, confused, mangled, oversized or ambiguous token gets 401 `invalid_token`
//! as a Bearer header and as the cookie, and no upstream sees the request. Each test first
//! shows that a correct token is accepted, so a rejection is the check's doing.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{Tally, refused};
use crate::support::env::{Env, env, env_with};
use crate::support::rejections::{assert_token_accepted, assert_token_rejected};
use crate::support::requests::Req;
use crate::support::tokens::{
    RSA_OLD_PRIVATE_PEM, RSA_PRIVATE_PEM, RSA_PUBLIC_PEM, b64url, claims, mint, mint_hs256,
    mint_rs256, now, secret_key, sign_message, sign_raw, with_claim,
};

/// The ES256 key of `tests/fixtures/keys/` (P-256).
const EC_P256_PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/keys/ec-p256-private.pem");
/// A P-384 key: the neighbouring ECDSA algorithm.
const EC_P384_PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/keys/ec-p384-private.pem");
/// The order n of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Asserts `token` is refused (bearer and cookie, nothing forwarded) and counts the case.
async fn rejected(env: &Env, tally: &mut Tally, token: &str, what: &str) {
    assert_token_rejected(env, token, what).await;
    tally.refused();
}

/// `header.payload` of `token`.
fn message(token: &str) -> &str {
    token.rsplit_once('.').expect("three parts").0
}

/// The decoded signature bytes of `token`.
fn signature(token: &str) -> Vec<u8> {
    use base64::Engine;
    let part = token.rsplit('.').next().expect("signature");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url signature")
}

/// `token`'s message with `signature` bytes instead of its own.
fn with_signature(token: &str, signature: &[u8]) -> String {
    format!("{}.{}", message(token), b64url(signature))
}

/// A gateway signing and verifying ES256 with the fixture P-256 key.
async fn es256_env() -> Env {
    env_with(|c| c.signing("ES256", EC_P256_PRIVATE_PEM)).await
}

#[tokio::test]
async fn algorithm_confusion_and_none_are_refused() {
    let mut tally = Tally::new("tokens::algorithm_confusion_and_none_are_refused");
    let env = env().await;
    let valid = mint_hs256(&claims("alice"));
    assert_token_accepted(&env, &valid, "alice", "control: HS256").await;
    let payload = b64url(claims("alice").to_string().as_bytes());
    let valid_signature = valid.rsplit('.').next().expect("signature").to_owned();
    for alg in ["none", "None", "NONE", "nOnE", "", "null"] {
        let header = b64url(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        // Unsigned, as the RFC 7519 "unsecured JWT" shape (the empty third part is its
        // signature), and with the valid token's signature kept.
        rejected(
            &env,
            &mut tally,
            &format!("{header}.{payload}."),
            &format!("alg {alg:?}, empty signature"),
        )
        .await;
        rejected(
            &env,
            &mut tally,
            &format!("{header}.{payload}.{valid_signature}"),
            &format!("alg {alg:?}, a real signature"),
        )
        .await;
    }
    let header = b64url(br#"{"typ":"JWT","alg":null}"#);
    rejected(
        &env,
        &mut tally,
        &format!("{header}.{payload}.{valid_signature}"),
        "alg null",
    )
    .await;
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = mint(&Header::new(alg), &claims("alice"), &secret_key());
        rejected(
            &env,
            &mut tally,
            &token,
            &format!("{alg:?} with the right secret"),
        )
        .await;
    }
    let token = sign_raw(
        HS256_HEADER,
        &claims("alice").to_string(),
        Algorithm::HS512,
        &secret_key(),
    );
    rejected(&env, &mut tally, &token, "HS256 header over an HS512 MAC").await;
    for alg in ["hs256", "HS256 ", "HS 256", "HS256\u{0}"] {
        let header = serde_json::to_string(&json!({"alg": alg, "typ": "JWT"})).expect("json");
        let token = sign_raw(
            &header,
            &claims("alice").to_string(),
            Algorithm::HS256,
            &secret_key(),
        );
        rejected(&env, &mut tally, &token, &format!("alg spelled {alg:?}")).await;
    }

    // An RS256 gateway: the public key is public, so it must never work as an HMAC secret,
    // and the right private key under a sibling algorithm is still the wrong algorithm.
    let env = env_with(|c| c.rs256()).await;
    let kid = env.issued_kid().await;
    let valid = mint_rs256(&claims("alice"), RSA_PRIVATE_PEM, Some(&kid));
    assert_token_accepted(&env, &valid, "alice", "control: RS256").await;
    let trimmed = std::str::from_utf8(RSA_PUBLIC_PEM).expect("pem").trim();
    let der_body: String = trimmed
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for (what, secret) in [
        ("public PEM", RSA_PUBLIC_PEM.to_vec()),
        ("trimmed public PEM", trimmed.as_bytes().to_vec()),
        ("public key base64 body", der_body.into_bytes()),
    ] {
        for kid in [None, Some(kid.as_str())] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid.map(str::to_owned);
            let key = EncodingKey::from_secret(&secret).expect("hmac key");
            let token = mint(&header, &claims("alice"), &key);
            rejected(
                &env,
                &mut tally,
                &token,
                &format!("HS256 keyed with the {what}, kid {kid:?}"),
            )
            .await;
        }
    }
    for alg in [Algorithm::PS256, Algorithm::RS512, Algorithm::RS384] {
        let mut header = Header::new(alg);
        header.kid = Some(kid.clone());
        let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM).expect("rsa key");
        let token = mint(&header, &claims("alice"), &key);
        rejected(
            &env,
            &mut tally,
            &token,
            &format!("{alg:?} with the gateway's own key"),
        )
        .await;
    }
    let header = b64url(format!(r#"{{"alg":"none","kid":"{kid}"}}"#).as_bytes());
    rejected(
        &env,
        &mut tally,
        &format!("{header}.{payload}."),
        "alg none with the gateway's kid",
    )
    .await;
    tally.finish();
}

#[tokio::test]
async fn null_truncated_and_mangled_signatures_are_refused() {
    let mut tally = Tally::new("tokens::null_truncated_and_mangled_signatures_are_refused");
    let env = env().await;
    let valid = mint_hs256(&claims("alice"));
    assert_token_accepted(&env, &valid, "alice", "control").await;
    let mac = signature(&valid);
    let parts: Vec<&str> = valid.split('.').collect();
    let mut flipped = mac.clone();
    flipped[0] ^= 0x01;
    let elevated = b64url(claims("mallory").to_string().as_bytes());
    for (what, token) in [
        ("empty signature", format!("{}.", message(&valid))),
        (
            "signature of zero bytes",
            with_signature(&valid, &[0u8; 32]),
        ),
        ("one zero byte", with_signature(&valid, &[0u8])),
        (
            "signature truncated to half",
            with_signature(&valid, &mac[..16]),
        ),
        (
            "signature missing its last byte",
            with_signature(&valid, &mac[..31]),
        ),
        ("signature with an extra byte", {
            let mut longer = mac.clone();
            longer.push(0);
            with_signature(&valid, &longer)
        }),
        ("one bit flipped", with_signature(&valid, &flipped)),
        ("base64 padding appended", format!("{valid}=")),
        ("signature doubled", format!("{valid}{}", parts[2])),
        (
            "claims swapped under a valid signature",
            format!("{}.{elevated}.{}", parts[0], parts[2]),
        ),
        (
            "header swapped under a valid signature",
            format!(
                "{}.{}.{}",
                b64url(br#"{"alg":"HS256"}"#),
                parts[1],
                parts[2]
            ),
        ),
        ("four parts, last empty", format!("{valid}.")),
        ("four parts", format!("{valid}.{}", parts[2])),
        ("leading dot", format!(".{valid}")),
        (
            "space inside",
            format!("{} .{}", parts[0], &valid[parts[0].len() + 1..]),
        ),
        ("percent-encoded dots", valid.replace('.', "%2E")),
        (
            "JWE-shaped five parts",
            format!("{valid}.{}.{}", parts[1], parts[2]),
        ),
    ] {
        rejected(&env, &mut tally, &token, what).await;
    }
    // A valid token with `-` or `_` in it (most have one; their claims differ by `exp`), so
    // that the standard alphabet really changes it and the case is always run.
    let url_safe = (1..)
        .map(|n| mint_hs256(&with_claim(claims("alice"), "exp", json!(now() + 3600 + n))))
        .find(|token| token.contains(['-', '_']))
        .expect("a token with - or _");
    assert_token_accepted(&env, &url_safe, "alice", "control with - or _").await;
    rejected(
        &env,
        &mut tally,
        &url_safe.replace('-', "+").replace('_', "/"),
        "standard base64 alphabet (+/) instead of base64url",
    )
    .await;
    // A correctly signed token whose segments are not base64url at all.
    let token = sign_message(
        &format!("{}.{}=", parts[0], parts[1]),
        Algorithm::HS256,
        &secret_key(),
    );
    rejected(&env, &mut tally, &token, "padded payload, correctly signed").await;
    tally.finish();
}

#[tokio::test]
async fn psychic_ecdsa_signatures_are_refused() {
    // CVE-2022-21449: Java's ECDSA accepted r = s = 0 for every message and key.
    let mut tally = Tally::new("tokens::psychic_ecdsa_signatures_are_refused");
    let env = es256_env().await;
    let kid = env.issued_kid().await;
    let key = EncodingKey::from_ec_pem(EC_P256_PRIVATE_PEM).expect("ec key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.clone());
    let valid = mint(&header, &claims("alice"), &key);
    assert_token_accepted(&env, &valid, "alice", "control: ES256 with kid").await;
    let unkeyed = mint(&Header::new(Algorithm::ES256), &claims("alice"), &key);
    assert_token_accepted(&env, &unkeyed, "alice", "control: ES256 without kid").await;

    let real = signature(&valid);
    assert_eq!(real.len(), 64, "ES256 signatures are r || s");
    let (r, s) = real.split_at(32);
    let order_twice = [P256_ORDER, P256_ORDER].concat();
    for (what, bytes) in [
        ("r = s = 0 (psychic signature)", vec![0u8; 64]),
        ("r = s = n", order_twice.clone()),
        ("r = 0, real s", [&[0u8; 32][..], s].concat()),
        ("real r, s = 0", [r, &[0u8; 32][..]].concat()),
        ("r = n, real s", [&P256_ORDER[..], s].concat()),
        ("all bits set", vec![0xFF; 64]),
        (
            "DER-encoded r = s = 0",
            vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
        ),
        ("DER-encoded real signature", der_signature(r, s)),
        ("only r", r.to_vec()),
        ("r || s || extra byte", [&real[..], &[0u8][..]].concat()),
        ("r and s swapped", [s, r].concat()),
    ] {
        for token in [&valid, &unkeyed] {
            rejected(&env, &mut tally, &with_signature(token, &bytes), what).await;
        }
    }
    // The neighbouring curve and algorithm.
    let p384 = EncodingKey::from_ec_pem(EC_P384_PRIVATE_PEM).expect("p384 key");
    let token = mint(&Header::new(Algorithm::ES384), &claims("alice"), &p384);
    rejected(&env, &mut tally, &token, "ES384 with a P-384 key").await;
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some(kid);
    let token = format!(
        "{}.{}.{}",
        b64url(serde_json::to_string(&header).expect("json").as_bytes()),
        b64url(claims("alice").to_string().as_bytes()),
        b64url(&real)
    );
    rejected(
        &env,
        &mut tally,
        &token,
        "ES384 header over an ES256 signature",
    )
    .await;
    let token = mint_hs256(&claims("alice"));
    rejected(&env, &mut tally, &token, "HS256 token on an ES256 gateway").await;
    tally.finish();
}

/// An HS256 token over exactly this header and payload text, keyed with any `secret`
/// (jsonwebtoken refuses an empty one; an attacker does not).
fn hs256_with(secret: &[u8], header: &str, payload: &str) -> String {
    use aws_lc_rs::hmac;
    let message = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes())
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        message.as_bytes(),
    );
    format!("{message}.{}", b64url(tag.as_ref()))
}

/// A DER `ECDSA-Sig-Value` for (r, s) as unsigned big-endian integers.
fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut value: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if value.first().is_none_or(|b| b & 0x80 != 0) {
            value.insert(0, 0);
        }
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    }
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[tokio::test]
async fn key_header_tricks_are_ignored() {
    let mut tally = Tally::new("tokens::key_header_tricks_are_ignored");
    // HS256: a kid names a key only among configured ones; an HMAC gateway has none.
    let env = env().await;
    assert_token_accepted(&env, &mint_hs256(&claims("alice")), "alice", "control").await;
    let payload = claims("alice").to_string();
    for (kid, secret) in [
        ("../../../../../../dev/null", &b""[..]),
        ("/dev/null", b""),
        ("/proc/self/environ", b"x"),
        ("' UNION SELECT 'attacker-key' -- ", b"attacker-key"),
        ("0", b"0"),
        ("|id", b"x"),
    ] {
        let header = serde_json::to_string(&json!({"alg": "HS256", "typ": "JWT", "kid": kid}))
            .expect("json");
        let token = hs256_with(secret, &header, &payload);
        rejected(&env, &mut tally, &token, &format!("kid {kid:?}")).await;
    }
    // A kid of the wrong JSON type.
    for kid in [json!(0), json!(["a"]), json!({"path": "/dev/null"})] {
        let header = serde_json::to_string(&json!({"alg": "HS256", "kid": kid})).expect("json");
        let token = sign_raw(&header, &payload, Algorithm::HS256, &secret_key());
        rejected(&env, &mut tally, &token, &format!("kid {kid}")).await;
    }
    let attacker = EncodingKey::from_secret(b"attacker-secret-0123456789-0123456789").expect("key");
    for (field, url) in [
        ("jku", "https://evil.test/.well-known/jwks.json"),
        ("x5u", "https://evil.test/cert.pem"),
    ] {
        let header = serde_json::to_string(&json!({"alg": "HS256", field: url})).expect("json");
        let token = sign_raw(&header, &payload, Algorithm::HS256, &attacker);
        rejected(
            &env,
            &mut tally,
            &token,
            &format!("HS256 {field} to the attacker"),
        )
        .await;
    }

    // RS256: keys come from the config only; jku, x5u, x5c and jwk are never followed.
    let env = env_with(|c| c.rs256()).await;
    let kid = env.issued_kid().await;
    let attacker = EncodingKey::from_rsa_pem(RSA_OLD_PRIVATE_PEM).expect("attacker key");
    let attacker_jwk = Jwk::from_encoding_key(&attacker, Algorithm::RS256).expect("jwk");
    let forge = |header: Header| mint(&header, &claims("alice"), &attacker);
    let mut cases: Vec<(String, String)> = Vec::new();
    for with_kid in [None, Some(kid.clone()), Some("attacker-key".to_owned())] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&with_kid);
        header.jwk = Some(attacker_jwk.clone());
        cases.push((format!("embedded jwk, kid {with_kid:?}"), forge(header)));
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&with_kid);
        header.jku = Some("https://evil.test/jwks.json".to_owned());
        cases.push((format!("jku, kid {with_kid:?}"), forge(header)));
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&with_kid);
        header.x5u = Some("https://evil.test/cert.pem".to_owned());
        cases.push((format!("x5u, kid {with_kid:?}"), forge(header)));
    }
    let mut header = Header::new(Algorithm::RS256);
    header.x5c = Some(vec![b64url(b"attacker certificate")]);
    cases.push(("x5c chain of the attacker".to_owned(), forge(header)));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("../../../../etc/ssl/private/gateway.key".to_owned());
    cases.push((
        "kid path traversal, the gateway's own key".to_owned(),
        mint(
            &header,
            &claims("alice"),
            &EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM).expect("key"),
        ),
    ));
    for (what, token) in cases {
        rejected(&env, &mut tally, &token, &what).await;
    }
    // crit makes a token's meaning depend on extensions the gateway does not know.
    let env = crate::support::env::env().await;
    let header = r#"{"alg":"HS256","crit":["exp"],"exp":0}"#;
    let token = sign_raw(
        header,
        &claims("alice").to_string(),
        Algorithm::HS256,
        &secret_key(),
    );
    rejected(&env, &mut tally, &token, "crit naming a header parameter").await;
    tally.finish();
}

#[tokio::test]
async fn oversized_and_nested_tokens_are_refused() {
    let mut tally = Tally::new("tokens::oversized_and_nested_tokens_are_refused");
    let env = env().await;
    let padded = |bytes: usize| {
        mint_hs256(&with_claim(
            claims("alice"),
            "pad",
            json!("x".repeat(bytes)),
        ))
    };
    let fits = padded(4000);
    assert_token_accepted(&env, &fits, "alice", "control: a 5 KiB token").await;
    for bytes in [7000, 10_000] {
        let token = padded(bytes);
        rejected(
            &env,
            &mut tally,
            &token,
            &format!("{} KiB token, validly signed", token.len() / 1024),
        )
        .await;
    }
    // Past the request head limit: the head itself is refused.
    let huge = padded(40_000);
    for request in [
        Req::get("app1.example.test", "/").bearer(&huge),
        Req::get("app1.example.test", "/").cookie(&huge),
    ] {
        refused(&env, &mut tally, "40 KiB token", request, 431).await;
    }
    // Deeply nested JSON, validly signed: a parser must not recurse without bound.
    let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let nested_claims =
        claims("alice")
            .to_string()
            .replacen('{', &format!("{{\"nest\":{},", deep(2000)), 1);
    let token = sign_raw(
        HS256_HEADER,
        &nested_claims,
        Algorithm::HS256,
        &secret_key(),
    );
    rejected(&env, &mut tally, &token, "claims nested 2000 deep").await;
    let nested_header = format!(r#"{{"alg":"HS256","x":{}}}"#, deep(2000));
    let token = sign_raw(
        &nested_header,
        &claims("alice").to_string(),
        Algorithm::HS256,
        &secret_key(),
    );
    rejected(&env, &mut tally, &token, "header nested 2000 deep").await;
    let many_groups: Vec<String> = (0..900).map(|i| format!("g{i}")).collect();
    let token = mint_hs256(&with_claim(claims("alice"), "groups", json!(many_groups)));
    rejected(&env, &mut tally, &token, "900 groups past the size limit").await;
    let numbers = claims("alice")
        .to_string()
        .replace(&format!("\"exp\":{}", now() + 3600), "\"exp\":1e400");
    let token = sign_raw(HS256_HEADER, &numbers, Algorithm::HS256, &secret_key());
    rejected(&env, &mut tally, &token, "exp of 1e400").await;
    tally.finish();
}

#[tokio::test]
async fn duplicate_claims_are_refused() {
    // RFC 7519 §4 lets a parser take the last of two members with the same name; two
    // components that take different ones disagree on who the user is. Refuse them.
    let mut tally = Tally::new("tokens::duplicate_claims_are_refused");
    let env = env().await;
    let base = claims("bob");
    let text = base.to_string();
    assert_token_accepted(&env, &mint_hs256(&base), "bob", "control").await;
    let later = now() + 3600;
    let earlier = now() - 3600;
    let inner = text.trim_end_matches('}');
    for (what, payload) in [
        ("sub bob, then alice", format!(r#"{inner},"sub":"alice"}}"#)),
        (
            "sub alice, then bob",
            text.replacen('{', r#"{"sub":"alice","#, 1),
        ),
        (
            "exp expired, then valid",
            text.replacen('{', &format!(r#"{{"exp":{earlier},"#), 1),
        ),
        (
            "exp valid, then expired",
            format!(r#"{inner},"exp":{earlier}}}"#),
        ),
        (
            "iss, then another iss",
            format!(r#"{inner},"iss":"https://evil.test"}}"#),
        ),
        (
            "aud, then another aud",
            format!(r#"{inner},"aud":"evil.test"}}"#),
        ),
        (
            "groups none, then admins",
            format!(r#"{inner},"groups":["admins"]}}"#),
        ),
        (
            "nbf, then a later nbf",
            format!(r#"{inner},"nbf":{later}}}"#),
        ),
        (
            "jti, then another jti",
            format!(r#"{inner},"jti":"other"}}"#),
        ),
        (
            "email, then another email",
            text.replacen('{', r#"{"email":"bob@example.test","#, 1)
                .replacen('}', r#","email":"boss@example.test"}"#, 1),
        ),
    ] {
        let token = sign_raw(HS256_HEADER, &payload, Algorithm::HS256, &secret_key());
        rejected(&env, &mut tally, &token, &format!("duplicate {what}")).await;
    }
    for header in [
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"JWE"}"#,
    ] {
        let token = sign_raw(header, &text, Algorithm::HS256, &secret_key());
        rejected(&env, &mut tally, &token, &format!("header {header}")).await;
    }
    // The group route shows what a duplicate would have granted.
    let admins = format!(r#"{inner},"groups":["admins"]}}"#);
    let token = sign_raw(HS256_HEADER, &admins, Algorithm::HS256, &secret_key());
    let before = env.upstream_count();
    let response = env
        .send(Req::get("app1.example.test", "/admin").bearer(&token))
        .await;
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(env.upstream_count(), before);
    tally.refused();
    tally.finish();
}

#[tokio::test]
async fn wrong_claim_types_are_refused() {
    let mut tally = Tally::new("tokens::wrong_claim_types_are_refused");
    let env = env().await;
    assert_token_accepted(&env, &mint_hs256(&claims("alice")), "alice", "control").await;
    let later = now() + 3600;
    for (claim, value) in [
        ("exp", json!(later.to_string())),
        ("exp", json!(format!("{later}.0"))),
        ("exp", Value::Null),
        ("exp", json!(true)),
        ("exp", json!([later])),
        ("exp", json!({ "$gt": 0 })),
        ("exp", json!(-1)),
        ("exp", json!(u64::MAX)),
        ("exp", json!(1e300)),
        ("exp", json!(now() - 3600)),
        ("nbf", json!(later.to_string())),
        ("nbf", json!(now() + 86400)),
        ("nbf", json!("0")),
        ("iat", json!("0")),
        ("iat", json!(now() + 86400)),
        ("iss", json!([crate::support::tokens::ISSUER])),
        ("iss", json!({ "value": crate::support::tokens::ISSUER })),
        ("aud", json!(7)),
        ("aud", json!({ "aud": crate::support::tokens::AUDIENCE })),
        ("sub", json!(["alice"])),
        ("sub", json!({ "name": "alice" })),
        ("sub", json!("")),
        ("sub", json!("ALICE")),
        ("sub", json!("alice ")),
        ("sub", json!("alice\u{0}")),
        ("groups", json!("admins")),
        ("groups", json!([1, 2])),
        ("groups", json!({ "admins": true })),
        ("email", json!(["alice@example.test"])),
        ("jti", json!(12)),
    ] {
        let token = mint_hs256(&with_claim(claims("alice"), claim, value.clone()));
        rejected(&env, &mut tally, &token, &format!("{claim}: {value}")).await;
    }
    tally.finish();
}

#[tokio::test]
async fn identity_claims_cannot_inject_headers() {
    // With require_known_user = false the token's claims alone become identity headers: a
    // group named "dev,admins" would be two groups to the upstream, a CR LF a new header.
    let mut tally = Tally::new("tokens::identity_claims_cannot_inject_headers");
    let env = env_with(|c| c.auth("require_known_user = false")).await;
    let control = with_claim(claims("dave"), "groups", json!(["dev", "ops"]));
    assert_token_accepted(&env, &mint_hs256(&control), "dave", "control").await;
    for (claim, value) in [
        ("groups", json!(["dev,admins"])),
        ("groups", json!(["dev", "ops,admins"])),
        ("groups", json!([""])),
        ("groups", json!(["dev\r\nX-Forwarded-User: admin"])),
        ("groups", json!(["dev\u{0}admins"])),
        ("sub", json!("dave\r\nX-Forwarded-Groups: admins")),
        ("sub", json!("dave\nX-Forwarded-Groups: admins")),
        ("sub", json!("dave\u{7f}")),
        (
            "email",
            json!("dave@example.test\r\nX-Forwarded-User: admin"),
        ),
    ] {
        let token = mint_hs256(&with_claim(control.clone(), claim, value.clone()));
        rejected(&env, &mut tally, &token, &format!("{claim}: {value}")).await;
    }
    tally.finish();
}
