//! What every refusal shares: the JSON error body, the RFC 6750 challenges, the 401s for
//! missing and invalid credentials, the 429 of a throttled login, and the checks that a
//! token is refused (or, as a control, accepted) on a protected route.

use serde_json::Value;

use super::client::TestResponse;
use super::cookies::sets_gateway_cookie;
use super::env::Env;
use super::requests::Req;

/// The challenge for a request without credentials (RFC 6750 §3).
pub const CHALLENGE: &str = "Bearer realm=\"gateway\"";
/// The challenge for invalid credentials.
pub const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"gateway\", error=\"invalid_token\"";

/// The response body as JSON; the panic names `what`.
pub fn json_of(response: &TestResponse, what: &str) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "{what}: a JSON body was expected ({e}); content-type {:?}: {}",
            response.headers.get("content-type"),
            response.text()
        )
    })
}

/// Asserts a 401 for a request without usable credentials: `unauthorized` and a bare
/// challenge.
pub fn assert_unauthorized(response: &TestResponse, what: &str) {
    assert_401(response, "unauthorized", CHALLENGE, what);
}

/// Asserts a 401 with the JSON error `code` and the `WWW-Authenticate` `challenge`.
fn assert_401(response: &TestResponse, code: &str, challenge: &str, what: &str) {
    assert_eq!(response.status, 401, "{what}: {}", response.text());
    assert_eq!(json_of(response, what)["error"], code, "{what}");
    assert_eq!(
        response
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(challenge),
        "{what}"
    );
}

/// Asserts a 401 `invalid_token` with the RFC 6750 `error="invalid_token"` challenge.
pub fn assert_invalid_token(response: &TestResponse, what: &str) {
    assert_401(response, "invalid_token", INVALID_TOKEN_CHALLENGE, what);
    assert!(
        !sets_gateway_cookie(&response.headers),
        "{what}: a rejected token must not be renewed"
    );
}

/// Asserts the JSON error code and status of a response.
pub fn assert_error(response: &TestResponse, status: u16, code: &str, what: &str) {
    assert_eq!(response.status, status, "{what}: {}", response.text());
    assert_eq!(json_of(response, what)["error"], code, "{what}");
}

/// Asserts a 429 `too_many_requests` with an integer `Retry-After` within the 5 m lockout
/// of the common config, and no cookie.
pub fn assert_throttled(response: &TestResponse, what: &str) {
    assert_error(response, 429, "too_many_requests", what);
    let retry_after = response
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"))
        .to_str()
        .expect("ascii");
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("{what}: Retry-After is not integer seconds: {retry_after}"));
    assert!(
        (1..=300).contains(&seconds),
        "{what}: Retry-After {seconds} outside the 5m lockout"
    );
    assert!(!sets_gateway_cookie(&response.headers), "{what}");
}

/// Checks `token` is refused with 401 `invalid_token` on app1 (a protected route) as a
/// Bearer header and as the cookie, and that no upstream saw either request.
pub async fn assert_token_rejected(env: &Env, token: &str, what: &str) {
    let before = env.upstream_count();
    let response = env
        .send(Req::get("app1.example.test", "/").bearer(token))
        .await;
    assert_invalid_token(&response, &format!("{what} (bearer)"));
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(token))
        .await;
    assert_invalid_token(&response, &format!("{what} (cookie)"));
    assert_eq!(
        env.upstream_count(),
        before,
        "{what}: an upstream received a request with a rejected token"
    );
}

/// Checks `token` is accepted as alice's Bearer token on app1 (the control for a rejection).
pub async fn assert_token_accepted(env: &Env, token: &str, user: &str, what: &str) {
    let response = env
        .send(Req::get("app1.example.test", "/").bearer(token))
        .await;
    assert_eq!(response.status, 200, "{what}: {}", response.text());
    assert_eq!(
        env.app1
            .last()
            .headers
            .get("x-forwarded-user")
            .map(|v| v.as_bytes()),
        Some(user.as_bytes()),
        "{what}"
    );
}
