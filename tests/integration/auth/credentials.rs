//! Which credentials count: exactly one `Authorization` header, gateway cookies of at most
//! one user (the first copy that verifies wins), the header before the cookie, `Bearer` in any case, the raw form only when enabled, and
//! other schemes left alone; `Bearer` without a token is a malformed credential.

use crate::support::cookies::COOKIE;
use crate::support::env::{env, env_with};
use crate::support::rejections::{
    assert_error, assert_invalid_token, assert_token_accepted, assert_unauthorized,
};
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256, now, with_claim};

#[tokio::test]
async fn two_authorization_headers_get_400() {
    let env = env().await;
    let alice = mint_hs256(&claims("alice"));
    let bob = mint_hs256(&claims("bob"));
    assert_token_accepted(&env, &alice, "alice", "control: one header").await;
    let before = env.upstream_count();
    for (what, first, second) in [
        ("the same token twice", &alice, &alice),
        ("two users", &bob, &alice),
    ] {
        let response = env
            .send(
                Req::get("app1.example.test", "/")
                    .bearer(first)
                    .bearer(second),
            )
            .await;
        assert_error(&response, 400, "bad_request", what);
    }
    assert_eq!(env.upstream_count(), before);
}

/// Two gateway cookies for *different users* verify only when one was tossed by a sibling
/// subdomain to make the victim act as the attacker: refused as ambiguous, in any shape.
#[tokio::test]
async fn two_valid_gateway_cookies_of_different_users_get_400() {
    let env = env().await;
    let alice = mint_hs256(&claims("alice"));
    let bob = mint_hs256(&claims("bob"));
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(&alice))
        .await;
    assert_eq!(response.status, 200, "control: one cookie");
    let before = env.upstream_count();
    for (what, request) in [
        (
            "one Cookie header",
            Req::get("app1.example.test", "/")
                .header("cookie", &format!("{COOKIE}={bob}; x=1; {COOKIE}={alice}")),
        ),
        (
            "two Cookie headers",
            Req::get("app1.example.test", "/")
                .cookie(&alice)
                .cookie(&bob),
        ),
    ] {
        let response = env.send(request).await;
        assert_error(&response, 400, "bad_request", what);
    }
    // HTTP/2 sends each cookie as its own header field.
    let response = env
        .send_h2(
            Req::get("app1.example.test", "/")
                .cookie(&bob)
                .cookie(&alice),
        )
        .await;
    assert_error(
        &response,
        400,
        "bad_request",
        "two cookie fields over HTTP/2",
    );
    assert_eq!(env.upstream_count(), before);
}

/// A stale copy of the cookie (left by a `cookie.domains` change, expired, revoked) or
/// garbage tossed by a sibling subdomain never locks its user out: the first copy that
/// verifies wins, wherever it stands; copies of one user are no ambiguity.
#[tokio::test]
async fn a_stale_or_garbage_copy_of_the_cookie_does_not_lock_the_user_out() {
    let env = env().await;
    let alice = mint_hs256(&claims("alice"));
    let alice_again = mint_hs256(&claims("alice"));
    let expired = mint_hs256(&with_claim(
        claims("bob"),
        "exp",
        serde_json::json!(now() - 600),
    ));
    for (what, cookie) in [
        (
            "garbage first",
            format!("{COOKIE}=garbage; {COOKIE}={alice}"),
        ),
        ("garbage last", format!("{COOKIE}={alice}; {COOKIE}=x.y.z")),
        (
            "another user's expired token first",
            format!("{COOKIE}={expired}; {COOKIE}={alice}"),
        ),
        (
            "the same token twice",
            format!("{COOKIE}={alice}; {COOKIE}={alice}"),
        ),
        (
            "two tokens of one user",
            format!("{COOKIE}={alice_again}; {COOKIE}={alice}"),
        ),
    ] {
        let response = env
            .send(Req::get("app1.example.test", "/").header("cookie", &cookie))
            .await;
        assert_eq!(response.status, 200, "{what}: {}", response.text());
        assert_eq!(
            env.app1.last().headers["x-forwarded-user"],
            "alice",
            "{what}"
        );
    }
    let response = env
        .send(
            Req::get("app1.example.test", "/").header("cookie", &format!("{COOKIE}=a; {COOKIE}=b")),
        )
        .await;
    assert_invalid_token(&response, "no copy verifies");
}

#[tokio::test]
async fn invalid_bearer_header_is_not_rescued_by_a_valid_cookie() {
    let env = env().await;
    let valid = mint_hs256(&claims("alice"));
    let expired = mint_hs256(&with_claim(
        claims("alice"),
        "exp",
        serde_json::json!(now() - 600),
    ));
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(&valid))
        .await;
    assert_eq!(response.status, 200, "control: the cookie alone");
    let before = env.upstream_count();
    for (what, header) in [
        ("garbage bearer", "Bearer not.a.token"),
        ("expired bearer", &format!("Bearer {expired}")),
    ] {
        let response = env
            .send(
                Req::get("app1.example.test", "/")
                    .header("authorization", header)
                    .cookie(&valid),
            )
            .await;
        assert_invalid_token(&response, what);
    }
    assert_eq!(env.upstream_count(), before);
}

#[tokio::test]
async fn empty_bearer_gets_401_invalid_request_and_is_not_rescued_by_a_cookie() {
    let env = env().await;
    let valid = mint_hs256(&claims("alice"));
    let before = env.upstream_count();
    for header in ["Bearer", "bearer", "Bearer "] {
        for cookie in [None, Some(&valid)] {
            let mut request = Req::get("app1.example.test", "/").header("authorization", header);
            if let Some(cookie) = cookie {
                request = request.cookie(cookie);
            }
            let response = env.send(request).await;
            let what = format!("{header:?}, cookie: {}", cookie.is_some());
            assert_error(&response, 401, "invalid_request", &what);
            assert_eq!(
                response.headers["www-authenticate"],
                "Bearer realm=\"gateway\", error=\"invalid_request\"",
                "{what}"
            );
        }
    }
    assert_eq!(env.upstream_count(), before);
}

#[tokio::test]
async fn basic_authorization_is_no_credential_on_protected_routes_and_untouched_on_public_ones() {
    let env = env().await;
    let basic = "Basic YWxpY2U6YWxpY2UtY29ycmVjdC1ob3JzZQ==";
    let response = env
        .send(Req::get("app1.example.test", "/").header("authorization", basic))
        .await;
    assert_unauthorized(&response, "Basic on a protected route");
    assert_eq!(env.upstream_count(), 0);

    let response = env
        .send(Req::get("app1.example.test", "/public/page").header("authorization", basic))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last().headers;
    assert_eq!(received["authorization"], basic, "{received:?}");
    assert_eq!(received.get_all("authorization").iter().count(), 1);
    assert!(received.get("x-forwarded-user").is_none(), "{received:?}");
}

#[tokio::test]
async fn raw_authorization_jwt_is_accepted_when_enabled() {
    let env = env_with(|c| c.auth("accept_raw_authorization = true")).await;
    let token = mint_hs256(&claims("alice"));
    let response = env
        .send(Req::get("app1.example.test", "/").header("authorization", &token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last().headers;
    assert_eq!(received["x-forwarded-user"], "alice");
    assert!(received.get("authorization").is_none(), "{received:?}");
    // A raw value that is not a valid token is an invalid credential.
    let forged = mint_hs256(&with_claim(
        claims("alice"),
        "exp",
        serde_json::json!(now() - 600),
    ));
    let response = env
        .send(Req::get("app1.example.test", "/").header("authorization", &forged))
        .await;
    assert_invalid_token(&response, "expired raw token");
    assert_eq!(env.app1.received().len(), 1);
}

#[tokio::test]
async fn raw_authorization_jwt_is_refused_when_disabled() {
    let env = env_with(|c| c.auth("accept_raw_authorization = false")).await;
    let token = mint_hs256(&claims("alice"));
    assert_token_accepted(&env, &token, "alice", "control: the same token as Bearer").await;
    let before = env.upstream_count();
    let response = env
        .send(Req::get("app1.example.test", "/").header("authorization", &token))
        .await;
    assert_eq!(response.status, 401, "{}", response.text());
    let code = response.json()["error"].clone();
    assert!(
        code == "unauthorized" || code == "invalid_token",
        "{}",
        response.text()
    );
    assert_eq!(env.upstream_count(), before);
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = env
            .send(
                Req::get("app1.example.test", "/")
                    .header("authorization", &format!("{scheme} {token}")),
            )
            .await;
        assert_eq!(response.status, 200, "{scheme}: {}", response.text());
        let received = env.app1.last().headers;
        assert_eq!(received["x-forwarded-user"], "alice", "{scheme}");
        assert!(received.get("authorization").is_none(), "{scheme}");
    }
}

#[tokio::test]
async fn gateway_bearer_token_is_kept_from_public_upstreams_but_foreign_bearers_pass() {
    let env = env().await;
    let ours = mint_hs256(&claims("alice"));
    let response = env
        .send(Req::get("app1.example.test", "/public/page").bearer(&ours))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let received = env.app1.last().headers;
    assert!(received.get("authorization").is_none(), "{received:?}");
    assert!(received.get("x-forwarded-user").is_none(), "{received:?}");

    // A bearer token the gateway did not sign belongs to the app: forwarded untouched.
    let foreign = crate::support::tokens::mint(
        &jsonwebtoken::Header::default(),
        &claims("alice"),
        &jsonwebtoken::EncodingKey::from_secret(b"another-apps-own-secret-0123456789abcdef")
            .expect("hmac key"),
    );
    let response = env
        .send(Req::get("app1.example.test", "/public/page").bearer(&foreign))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        env.app1.last().headers["authorization"],
        format!("Bearer {foreign}")
    );
}
