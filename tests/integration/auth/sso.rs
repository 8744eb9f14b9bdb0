//! Single sign-on across subdomains, logout and revocation, and cookie renewal.

use serde_json::json;

use crate::support::cookies::{
    COOKIE, SetCookie, assert_session_cookie_attributes, gateway_set_cookie, set_cookies,
    sets_gateway_cookie,
};
use crate::support::env::{Env, env};
use crate::support::rejections::assert_invalid_token;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256, now, token_part, with_claim};
use crate::support::upstream::Upstream;
use crate::support::users::ALICE_PASSWORD;

/// Asserts what `upstream` last received: alice's identity, none of the credentials used,
/// and the other cookies and headers intact.
fn assert_alice_forwarded(upstream: &Upstream, token: &str, expect_cookie: Option<&str>) {
    let received = upstream.last();
    let headers = &received.headers;
    assert_eq!(headers["x-forwarded-user"], "alice", "{headers:?}");
    assert_eq!(headers["x-forwarded-groups"], "admins,dev", "{headers:?}");
    assert_eq!(
        headers["x-forwarded-email"], "alice@example.test",
        "{headers:?}"
    );
    assert_eq!(headers.get_all("x-forwarded-user").iter().count(), 1);
    assert!(
        headers.get("authorization").is_none(),
        "the credential used must not be forwarded: {headers:?}"
    );
    let cookies: Vec<&str> = headers
        .get_all("cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie"))
        .collect();
    let joined = cookies.join("; ");
    assert!(
        !joined.contains(COOKIE) && !joined.contains(token),
        "the gateway cookie reached the upstream: {joined}"
    );
    match expect_cookie {
        Some(expected) => {
            for pair in expected.split("; ") {
                assert!(joined.contains(pair), "{pair} was dropped: {joined}");
            }
        }
        // Nothing but our cookie was sent: no cookie is left (an empty header is harmless).
        None => assert!(cookies.iter().all(|c| c.trim().is_empty()), "{cookies:?}"),
    }
    assert_eq!(headers["x-app"], "kept", "{headers:?}");
}

#[tokio::test]
async fn one_form_login_cookie_opens_both_subdomains_and_upstreams_see_identity_only() {
    let env = env().await;
    let response = env
        .login_form("app1.example.test", "alice", ALICE_PASSWORD, None)
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(response.headers["location"], "/");
    let cookie = gateway_set_cookie(&response.headers);
    assert_session_cookie_attributes(&cookie);
    let token = cookie.value;

    for (host, upstream) in [
        ("app1.example.test", &env.app1),
        ("app2.example.test", &env.app2),
    ] {
        let response = env
            .send(
                Req::get(host, "/dashboard")
                    .header("cookie", &format!("theme=dark; {COOKIE}={token}; lang=en"))
                    .header("x-app", "kept"),
            )
            .await;
        assert_eq!(response.status, 200, "{host}: {}", response.text());
        assert_eq!(response.json()["upstream"], upstream.name, "{host}");
        assert_eq!(upstream.last().target, "/dashboard");
        assert_alice_forwarded(upstream, &token, Some("theme=dark; lang=en"));
    }
}

#[tokio::test]
async fn json_login_token_opens_both_subdomains_as_bearer_and_as_cookie() {
    let env = env().await;
    let (token, cookie) = env.login("alice", ALICE_PASSWORD).await;
    for (host, upstream) in [
        ("app1.example.test", &env.app1),
        ("app2.example.test", &env.app2),
    ] {
        let response = env
            .send(
                Req::get(host, "/api")
                    .bearer(&token)
                    .header("x-app", "kept"),
            )
            .await;
        assert_eq!(response.status, 200, "{host}: {}", response.text());
        assert_alice_forwarded(upstream, &token, None);

        let response = env
            .send(
                Req::get(host, "/api")
                    .cookie(&cookie)
                    .header("x-app", "kept"),
            )
            .await;
        assert_eq!(response.status, 200, "{host}: {}", response.text());
        assert_alice_forwarded(upstream, &cookie, None);
    }
    // HTTP/2 clients too (split cookies are joined, ours is still removed).
    let response = env
        .send_h2(
            Req::get("app2.example.test", "/h2")
                .header("cookie", "a=1")
                .cookie(&cookie)
                .header("x-app", "kept"),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_alice_forwarded(&env.app2, &cookie, Some("a=1"));
}

/// Logs alice in, checks the cookie opens both hosts, then logs out with `logout`.
async fn assert_logout_revokes_everywhere(env: &Env, token: &str, logout: Req) {
    for host in ["app1.example.test", "app2.example.test"] {
        let response = env.send(Req::get(host, "/").cookie(token)).await;
        assert_eq!(response.status, 200, "{host} before logout");
    }
    let response = env.send(logout).await;
    assert_eq!(response.status, 303, "{}", response.text());
    let location = response.headers["location"].to_str().expect("location");
    assert!(location.starts_with("/.auth/login"), "{location}");
    // Every variant the gateway may have set on this host is expired: Domain=example.test
    // (the one it sets now, first) and host-only (before cookie.domains was configured).
    let expired: Vec<SetCookie> = set_cookies(&response.headers)
        .into_iter()
        .filter(|c| c.name == COOKIE)
        .collect();
    let domains: Vec<Option<&str>> = expired.iter().map(|c| c.value_of("domain")).collect();
    assert_eq!(domains, [Some("example.test"), None], "{expired:?}");
    for cookie in &expired {
        assert_eq!(cookie.value_of("max-age"), Some("0"), "{cookie:?}");
        assert_eq!(cookie.value_of("path"), Some("/"), "{cookie:?}");
        assert!(cookie.value.is_empty(), "{cookie:?}");
    }

    // The same token, replayed by anyone who kept it, is dead on every host in every form.
    let before = env.upstream_count();
    for host in ["app1.example.test", "app2.example.test"] {
        let response = env.send(Req::get(host, "/").cookie(token)).await;
        assert_invalid_token(&response, &format!("{host} cookie after logout"));
        let response = env.send(Req::get(host, "/").bearer(token)).await;
        assert_invalid_token(&response, &format!("{host} bearer after logout"));
    }
    let response = env
        .send(Req::get("app1.example.test", "/.auth/me").cookie(token))
        .await;
    assert_eq!(response.status, 401, "/.auth/me after logout");
    assert_eq!(
        env.upstream_count(),
        before,
        "a revoked token reached an upstream"
    );
}

#[tokio::test]
async fn logout_expires_the_cookie_and_revokes_the_token_on_every_host() {
    let env = env().await;
    let (_, cookie) = env.login("alice", ALICE_PASSWORD).await;
    let logout = Req::post("app2.example.test", "/.auth/logout")
        .cookie(&cookie)
        .origin("https://app2.example.test");
    assert_logout_revokes_everywhere(&env, &cookie, logout).await;
    // Another session of the same user is untouched: revocation is per session.
    let (other, _) = env.login("alice", ALICE_PASSWORD).await;
    let response = env
        .send(Req::get("app1.example.test", "/").bearer(&other))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn logout_with_a_bearer_token_revokes_that_token_even_one_minted_elsewhere() {
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    let logout = Req::post("app1.example.test", "/.auth/logout")
        .bearer(&token)
        .origin("https://app1.example.test");
    assert_logout_revokes_everywhere(&env, &token, logout).await;
}

/// Logout ends the session, not just the token presented: every token renewed from the same
/// sign-in (T1 → T2, and T2b renewed from a copy of T1 in another tab) dies with it, and none
/// of them can renew itself past the logout.
#[tokio::test]
async fn logout_ends_every_token_of_the_session_renewed_ones_included() {
    let env = env().await;
    let session = claims("alice");
    let expiring_copy = || {
        let near = with_claim(session.clone(), "exp", json!(now() + 60));
        mint_hs256(&with_claim(
            near,
            "jti",
            json!(crate::support::tokens::unique_jti()),
        ))
    };
    let renew = |token: String| {
        let env = &env;
        async move { renewed_cookie(env, &token).await.expect("renewed") }
    };
    let t1 = expiring_copy();
    let t2 = renew(t1.clone()).await;
    let t1b = expiring_copy();
    let t2b = renew(t1b.clone()).await;
    assert_eq!(token_part(&t2, 1)["sid"], session["sid"]);
    assert_eq!(token_part(&t2b, 1)["sid"], session["sid"]);
    let other_session = mint_hs256(&claims("alice"));

    let response = env
        .send(
            Req::post("app1.example.test", "/.auth/logout")
                .cookie(&t2)
                .origin("https://app1.example.test"),
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    let before = env.upstream_count();
    for (what, token) in [("T1", &t1), ("T1b", &t1b), ("T2", &t2), ("T2b", &t2b)] {
        let response = env
            .send(Req::get("app2.example.test", "/").cookie(token))
            .await;
        assert_invalid_token(&response, &format!("{what} after logout"));
        assert!(
            !sets_gateway_cookie(&response.headers),
            "{what} was renewed after logout"
        );
        let response = env
            .send(Req::get("app1.example.test", "/").bearer(token))
            .await;
        assert_invalid_token(&response, &format!("{what} as bearer after logout"));
    }
    assert_eq!(
        env.upstream_count(),
        before,
        "a revoked session reached an upstream"
    );
    let response = env
        .send(Req::get("app1.example.test", "/").bearer(&other_session))
        .await;
    assert_eq!(
        response.status,
        200,
        "another sign-in of alice: {}",
        response.text()
    );
}

#[tokio::test]
async fn logout_never_redirects_off_site() {
    let env = env().await;
    let (_, cookie) = env.login("alice", ALICE_PASSWORD).await;
    let response = env
        .send(
            Req::post(
                "app1.example.test",
                "/.auth/logout?rd=https%3A%2F%2Fevil.test%2F",
            )
            .cookie(&cookie)
            .origin("https://app1.example.test")
            .form(&[("rd", "https://evil.test/")]),
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    let location = response.headers["location"].to_str().expect("location");
    assert!(location.starts_with("/.auth/login"), "{location}");

    let (_, cookie) = env.login("alice", ALICE_PASSWORD).await;
    let response = env
        .send(
            Req::post("app1.example.test", "/.auth/logout")
                .cookie(&cookie)
                .origin("https://app1.example.test")
                .form(&[("rd", "/bye")]),
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(response.headers["location"], "/bye");
}

#[tokio::test]
async fn cookie_close_to_expiry_is_renewed_but_a_bearer_token_is_not() {
    let env = env().await;
    // 60 s left, less than renew_before = 30m.
    let old_exp = now() + 60;
    let token = mint_hs256(&with_claim(claims("alice"), "exp", json!(old_exp)));

    let response = env
        .send(Req::get("app1.example.test", "/").cookie(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let renewed = gateway_set_cookie(&response.headers);
    assert_session_cookie_attributes(&renewed);
    assert_ne!(renewed.value, token);
    let renewed_claims = token_part(&renewed.value, 1);
    assert_eq!(renewed_claims["sub"], "alice");
    let new_exp = renewed_claims["exp"].as_i64().expect("exp");
    assert!(
        new_exp > old_exp + 600,
        "old exp {old_exp}, new exp {new_exp}"
    );
    // The same session: sid and auth_time carried over, a new jti.
    let original = token_part(&token, 1);
    assert_eq!(renewed_claims["sid"], original["sid"]);
    assert_eq!(renewed_claims["auth_time"], original["auth_time"]);
    assert_ne!(renewed_claims["jti"], original["jti"]);
    // The renewed cookie is itself a valid credential.
    let response = env
        .send(Req::get("app2.example.test", "/").cookie(&renewed.value))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());

    // The same token as a Bearer header: the client manages it, no cookie is set.
    let response = env
        .send(Req::get("app1.example.test", "/").bearer(&token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        !sets_gateway_cookie(&response.headers),
        "{:?}",
        response.headers
    );

    // A cookie with plenty of time left is not re-issued on every request.
    let fresh = mint_hs256(&claims_with_hours_left(2));
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(&fresh))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        !sets_gateway_cookie(&response.headers),
        "{:?}",
        response.headers
    );
}

/// `[auth] session_lifetime` (7 days by default): a session's tokens are renewed only while
/// the sign-in is younger, and a renewal never outlives it. Tokens without a session (minted
/// elsewhere, or before sessions existed) are not renewed.
#[tokio::test]
async fn renewal_stops_at_the_session_lifetime_and_never_outlives_it() {
    let env = env().await;
    let lifetime = 7 * 24 * 3600;
    let expiring = |auth_time: i64| {
        let claims = with_claim(claims("alice"), "exp", json!(now() + 30));
        mint_hs256(&with_claim(claims, "auth_time", json!(auth_time)))
    };
    let renewed = |token: String| {
        let env = &env;
        async move {
            renewed_cookie(env, &token)
                .await
                .map(|token| (token_part(&token, 1), token))
        }
    };
    // Signed in a day ago: renewed for a whole token_ttl (2 h by default).
    let (day_old, _) = renewed(expiring(now() - 24 * 3600)).await.expect("renewed");
    assert!(
        day_old["exp"].as_i64().expect("exp") >= now() + 7000,
        "{day_old}"
    );
    // Ten minutes of the session left: renewed up to the session's end, not past it.
    let auth_time = now() - lifetime + 600;
    let (ending, last_token) = renewed(expiring(auth_time)).await.expect("renewed");
    assert_eq!(
        ending["exp"].as_i64(),
        Some(auth_time + lifetime),
        "{ending}"
    );
    // That last token expires within renew_before too, but renewing it would gain nothing:
    // it is not renewed again on every request.
    assert_eq!(renewed(last_token).await, None);
    // Past the lifetime: no renewal; the user signs in again when the token expires.
    assert_eq!(renewed(expiring(now() - lifetime - 1)).await, None);
    // No session claims: no renewal either.
    let foreign = with_claim(
        with_claim(
            with_claim(claims("alice"), "exp", json!(now() + 60)),
            "sid",
            json!(null),
        ),
        "auth_time",
        json!(null),
    );
    assert_eq!(renewed(mint_hs256(&foreign)).await, None);
}

/// The token of the cookie the gateway renewed on a request to app1 with `token` as the
/// cookie (which must pass), if it renewed it.
async fn renewed_cookie(env: &Env, token: &str) -> Option<String> {
    let response = env
        .send(Req::get("app1.example.test", "/").cookie(token))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    sets_gateway_cookie(&response.headers).then(|| gateway_set_cookie(&response.headers).value)
}

fn claims_with_hours_left(hours: i64) -> serde_json::Value {
    with_claim(claims("alice"), "exp", json!(now() + hours * 3600))
}
