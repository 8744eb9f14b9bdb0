//! Unit tests of `verify`: keys generated here, every rule broken once.
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use super::*;
use crate::config::IssuerKeysAt;

const ISSUER: &str = "https://idp.test";

struct Signer {
    key: EncodingKey,
    set: JwkSet,
}

fn signer(alg: Algorithm, kid: &str) -> Signer {
    let pem = match alg {
        Algorithm::ES256 => {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
            key.serialize_pem()
        }
        _ => include_str!("../../../tests/fixtures/keys/rsa-private.pem").to_owned(),
    };
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .expect("key");
    let mut jwk = Jwk::from_encoding_key(&key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    Signer {
        key,
        set: JwkSet { keys: vec![jwk] },
    }
}

fn rules(algorithms: Vec<Algorithm>) -> TokenRules {
    TokenRules::new(
        &TrustedIssuerSettings {
            issuer: ISSUER.to_owned(),
            keys_at: IssuerKeysAt::Discovery,
            audience: vec!["api".to_owned()],
            user_claim: "sub".to_owned(),
            groups_claim: Some("groups".to_owned()),
            algorithms,
            ca_file: None,
            key_refresh_min_interval: Duration::from_secs(30),
            at: crate::config::Location {
                file: "t".into(),
                line: 1,
                col: 1,
            },
        },
        Duration::from_secs(30),
    )
}

const NOW: u64 = 1_800_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": "api", "sub": "deployer", "exp": NOW + 60, "iat": NOW,
           "groups": ["ci", "deploy"], "email": "d@example.com", "sid": "s", "amr": ["otp"]})
}

fn sign(signer: &Signer, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &signer.key).expect("sign")
}

#[test]
fn a_token_of_the_issuer_yields_its_identity_without_session_or_amr() {
    let s = signer(Algorithm::RS256, "k1");
    let token = sign(&s, Algorithm::RS256, Some("k1"), &claims());
    let verified = rules(vec![Algorithm::RS256])
        .verify(&s.set, &token, now())
        .expect("valid");
    assert_eq!(verified.identity.user, "deployer");
    assert_eq!(verified.identity.groups, ["ci", "deploy"]);
    assert_eq!(verified.identity.email.as_deref(), Some("d@example.com"));
    assert_eq!(verified.issuer.as_deref(), Some(ISSUER));
    assert!(verified.session.is_none() && verified.amr.is_empty());
    assert_eq!(claimed_issuer(&token).as_deref(), Some(ISSUER));
}

#[test]
fn each_broken_rule_is_refused() {
    let s = signer(Algorithm::RS256, "k1");
    let r = rules(vec![Algorithm::RS256]);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims();
        change(&mut c);
        sign(&s, Algorithm::RS256, Some("k1"), &c)
    };
    let cases: Vec<(String, &str)> = vec![
        (with(&|c| c["aud"] = json!("other")), "wrong_audience"),
        (
            with(&|c| c["iss"] = json!("https://evil.test")),
            "wrong_issuer",
        ),
        (with(&|c| c["exp"] = json!(NOW - 31)), "expired"),
        (with(&|c| c["nbf"] = json!(NOW + 31)), "not_yet_valid"),
        (with(&|c| c["iat"] = json!(NOW + 31)), "issued_in_future"),
        (
            with(&|c| {
                c.as_object_mut().expect("obj").remove("exp");
            }),
            "missing_claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().expect("obj").remove("sub");
            }),
            "missing_claim",
        ),
        (with(&|c| c["groups"] = json!(["a,b"])), "invalid_claim"),
        (with(&|c| c["groups"] = json!("ci")), "invalid_claim"),
        (with(&|c| c["sub"] = json!("x\ny")), "invalid_claim"),
        (
            sign(&s, Algorithm::RS256, Some("k2"), &claims()),
            "unknown_kid",
        ),
    ];
    for (token, reason) in cases {
        let error = r.verify(&s.set, &token, now()).expect_err(reason);
        assert_eq!(error.reason(), reason, "{error}");
    }
    // Leeway: 30 s past exp still passes.
    let late = with(&|c| c["exp"] = json!(NOW - 29));
    assert!(r.verify(&s.set, &late, now()).is_ok());
}

#[test]
fn algorithms_outside_the_allow_list_are_refused() {
    let es = signer(Algorithm::ES256, "e1");
    let token = sign(&es, Algorithm::ES256, Some("e1"), &claims());
    assert!(
        rules(vec![Algorithm::ES256])
            .verify(&es.set, &token, now())
            .is_ok()
    );
    let error = rules(vec![Algorithm::RS256])
        .verify(&es.set, &token, now())
        .expect_err("ES256 not allowed");
    assert_eq!(error.reason(), "wrong_algorithm");
    // HS256 keyed with anything: never in an allow-list (config refuses HS*).
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"public key bytes as a secret!!!!").expect("hmac key"),
    )
    .expect("sign");
    let error = rules(vec![Algorithm::RS256])
        .verify(&es.set, &hs, now())
        .expect_err("hs");
    assert_eq!(error.reason(), "wrong_algorithm");
}

#[test]
fn an_unverified_email_is_not_passed_on_and_absent_groups_are_none() {
    let s = signer(Algorithm::RS256, "k1");
    let mut c = claims();
    c["email_verified"] = json!(false);
    c.as_object_mut().expect("obj").remove("groups");
    let token = sign(&s, Algorithm::RS256, None, &c);
    let verified = rules(vec![Algorithm::RS256])
        .verify(&s.set, &token, now())
        .expect("valid");
    assert_eq!(verified.identity.email, None);
    assert!(verified.identity.groups.is_empty());
}

#[test]
fn claimed_issuer_needs_a_jwt_with_a_string_iss() {
    assert_eq!(claimed_issuer("not a token"), None);
    let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":1}"#);
    assert_eq!(claimed_issuer(&format!("e30.{payload}.c2ln")), None);
}
