//! Tokens minted outside the gateway: valid claims for the common users, claims changed
//! one at a time (expired, wrong audience, missing or mistyped), signed with `jsonwebtoken`
//! by the common secret or a fixture key (right or wrong), or crafted byte by byte; and the
//! secret, issuer and audience the common config ([`super::auth_config`]) uses.
//!
//! Tokens are minted here, never taken from the gateway's own code: the tests check the
//! gateway against an independent JWT implementation (and against PyJWT, see
//! [`super::pyjwt`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The HS256 secret, as written to `jwt.secret` (the gateway trims the trailing newline).
pub const SECRET: &str = "integration-test-secret-0123456789-abcdefghijklmnop";
/// `auth.issuer`.
pub const ISSUER: &str = "https://auth.example.test";
/// The one configured audience.
pub const AUDIENCE: &str = "example.test";
/// The test-only RSA key pair of `tests/fixtures/keys/`.
pub const RSA_PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/keys/rsa-private.pem");
pub const RSA_PUBLIC_PEM: &[u8] = include_bytes!("../../fixtures/keys/rsa-public.pem");
/// Another RSA key: right algorithm, wrong key.
pub const RSA_OLD_PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/keys/rsa-old-private.pem");

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A `jti` no other token of this test run has.
pub fn unique_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("test-{}-{}", now(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Claims of a valid token for `user`, as the gateway would issue them (one hour left).
pub fn claims(user: &str) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": ISSUER,
        "sub": user,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": unique_jti(),
        "sid": unique_jti(),
        "auth_time": now,
    });
    let (groups, email): (&[&str], Option<&str>) = match user {
        "alice" => (&["admins", "dev"], Some("alice@example.test")),
        "carol" => (&["dev"], Some("carol@example.test")),
        _ => (&[], None),
    };
    claims["groups"] = json!(groups);
    if let Some(email) = email {
        claims["email"] = json!(email);
    }
    claims
}

/// `claims` with `key` set to `value` (`Value::Null` removes it).
pub fn with_claim(mut claims: Value, key: &str, value: Value) -> Value {
    let map = claims.as_object_mut().expect("claims object");
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_owned(), value);
    }
    claims
}

/// `token`'s claims as if it had been issued long enough ago to have expired two minutes
/// ago (beyond the common 30 s leeway): `iat`, `nbf`, `auth_time` and `exp` moved back
/// together, everything else kept, signed with [`SECRET`] like the gateway's own tokens.
/// For a client holding an expired token without waiting for its lifetime to pass.
pub fn expired_copy(token: &str) -> String {
    let mut claims = token_part(token, 1);
    let exp = claims["exp"].as_i64().expect("exp is an integer");
    let shift = exp - (now() - 120);
    for key in ["iat", "nbf", "auth_time", "exp"] {
        if let Some(time) = claims[key].as_i64() {
            claims[key] = json!(time - shift);
        }
    }
    mint_hs256(&claims)
}

/// The HMAC key for [`SECRET`].
pub fn secret_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes()).expect("hmac key")
}

/// Signs `claims` with `header` and `key` (jsonwebtoken).
pub fn mint(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("encode token")
}

/// An HS256 token of `claims` signed with [`SECRET`]: what the gateway itself would accept.
pub fn mint_hs256(claims: &Value) -> String {
    mint(&Header::new(Algorithm::HS256), claims, &secret_key())
}

/// An RS256 token of `claims` signed with `private_pem`, carrying `kid` when given.
pub fn mint_rs256(claims: &Value, private_pem: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    mint(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(private_pem).expect("rsa key"),
    )
}

/// base64url without padding, as JWS uses.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and payload text, HS-signed with `key` by `algorithm`:
/// for headers and payloads `jsonwebtoken` would not produce.
pub fn sign_raw(header: &str, payload: &str, algorithm: Algorithm, key: &EncodingKey) -> String {
    let message = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes())
    );
    sign_message(&message, algorithm, key)
}

/// `message.signature` for an already encoded `message` (which need not be valid base64url):
/// a correctly signed token whose only defect is its encoding.
pub fn sign_message(message: &str, algorithm: Algorithm, key: &EncodingKey) -> String {
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key, algorithm).expect("sign message");
    format!("{message}.{signature}")
}

/// The decoded JSON of part `index` (0 header, 1 claims) of `token`, unverified.
pub fn token_part(token: &str, index: usize) -> Value {
    let part = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("token without part {index}: {token}"));
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url part");
    serde_json::from_slice(&bytes).expect("JSON part")
}
