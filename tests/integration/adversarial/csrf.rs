//! Cookies and CSRF under attack: cookie tossing (a sibling subdomain plants its own
//! `gateway_token` for the parent domain, so the victim acts as the attacker), ambiguous
//! credentials, and cross-site unsafe requests, logins and logouts (OWASP CSRF and
//! session-management cheat sheets).

use std::time::Duration;

use http::Method;

use super::{Tally, refused};
use crate::support::client::TestResponse;
use crate::support::cookies::{COOKIE, sets_gateway_cookie};
use crate::support::env::{Env, env};
use crate::support::raw::raw;
use crate::support::rejections::assert_error;
use crate::support::requests::{Req, json_login};
use crate::support::tokens::{claims, mint_hs256};

/// Asserts a 400 `bad_request` (ambiguous credentials) and that nothing was forwarded.
async fn ambiguous(env: &Env, tally: &mut Tally, what: &str, request: Req) {
    let response = refused(env, tally, what, request, 400).await;
    assert_error(&response, 400, "bad_request", what);
}

#[tokio::test]
async fn cookie_tossing_and_duplicate_credentials_are_refused() {
    let mut tally = Tally::new("csrf::cookie_tossing_and_duplicate_credentials_are_refused");
    let env = env().await;
    let victim = mint_hs256(&claims("alice"));
    let attacker = mint_hs256(&claims("bob"));
    // Control: each cookie alone works.
    for (token, user) in [(&victim, "alice"), (&attacker, "bob")] {
        let response = env
            .send(Req::get("app1.example.test", "/").cookie(token))
            .await;
        assert_eq!(response.status, 200, "control {user}");
        assert_eq!(
            env.app1.last().headers["x-forwarded-user"],
            user,
            "control {user}"
        );
    }
    let before = env.upstream_count();
    let get = || Req::get("app1.example.test", "/");
    for (what, cookie) in [
        (
            "tossed cookie first",
            format!("{COOKIE}={attacker}; {COOKIE}={victim}"),
        ),
        (
            "tossed cookie last",
            format!("{COOKIE}={victim}; {COOKIE}={attacker}"),
        ),
        (
            "tossed cookie quoted",
            format!("{COOKIE}=\"{attacker}\"; {COOKIE}={victim}"),
        ),
        (
            "tossed cookie with spaces around the name",
            format!("{COOKIE} ={attacker}; {COOKIE}={victim}"),
        ),
        (
            "tossed cookie among others",
            format!("theme=dark; {COOKIE}={attacker}; lang=en; {COOKIE}={victim}; x=1"),
        ),
        (
            "tossed cookie without the separator space",
            format!("{COOKIE}={attacker};{COOKIE}={victim}"),
        ),
    ] {
        ambiguous(&env, &mut tally, what, get().header("cookie", &cookie)).await;
    }
    ambiguous(
        &env,
        &mut tally,
        "two Cookie header lines",
        get()
            .header("cookie", &format!("{COOKIE}={attacker}"))
            .header("cookie", &format!("{COOKIE}={victim}")),
    )
    .await;
    // HTTP/2 sends one field per cookie (RFC 9113 §8.2.3).
    let response = env
        .send_h2(
            get()
                .header("cookie", &format!("{COOKIE}={attacker}"))
                .header("cookie", &format!("{COOKIE}={victim}")),
        )
        .await;
    assert_error(&response, 400, "bad_request", "h2 split cookies");
    tally.refused();
    for (what, request) in [
        (
            "/.auth/me with a tossed cookie",
            Req::get("app1.example.test", "/.auth/me")
                .header("cookie", &format!("{COOKIE}={attacker}; {COOKIE}={victim}")),
        ),
        (
            "/.auth/verify with a tossed cookie",
            Req::get("app1.example.test", "/.auth/verify")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "app1.example.test")
                .header("x-forwarded-uri", "/")
                .header("x-forwarded-method", "GET")
                .header("cookie", &format!("{COOKIE}={victim}; {COOKIE}={attacker}")),
        ),
        (
            "two Authorization headers",
            get()
                .header("authorization", &format!("Bearer {victim}"))
                .header("authorization", &format!("Bearer {attacker}")),
        ),
        (
            "two Authorization headers, one of another scheme",
            get()
                .header("authorization", "Basic YWxpY2U6eA==")
                .header("authorization", &format!("Bearer {attacker}")),
        ),
    ] {
        ambiguous(&env, &mut tally, what, request).await;
    }
    // An invalid header credential is not rescued by a valid cookie, and a header holding
    // two tokens is no token.
    for (what, authorization) in [
        (
            "forged bearer beside a valid cookie",
            format!("Bearer {attacker}x"),
        ),
        (
            "two tokens in one header",
            format!("Bearer {victim}, Bearer {attacker}"),
        ),
        ("two spaces after Bearer", format!("Bearer  {victim}")),
        ("Bearer with a trailing token", format!("Bearer {victim} x")),
    ] {
        let response = refused(
            &env,
            &mut tally,
            what,
            get()
                .header("authorization", &authorization)
                .cookie(&victim),
            401,
        )
        .await;
        assert_error(&response, 401, "invalid_token", what);
    }
    // A cookie value that is not text cannot be a token.
    let request = format!(
        "GET / HTTP/1.1\r\nHost: app1.example.test\r\nCookie: {COOKIE}=\u{0}\r\nConnection: close\r\n\r\n"
    );
    let mut bytes = request.into_bytes();
    let nul = bytes.iter().position(|b| *b == 0).expect("placeholder");
    bytes.splice(nul..=nul, [0xff, 0xfe]);
    let exchange = raw(&env.client, &bytes, Duration::from_secs(10)).await;
    assert_eq!(exchange.statuses(), [400], "non-UTF-8 cookie: {exchange:?}");
    tally.refused();
    assert_eq!(
        env.upstream_count(),
        before,
        "a refused request was forwarded"
    );

    // Tossed garbage (a sibling subdomain's `Path=/.auth/logout; Max-Age=34560000` copy) or
    // a second copy of the victim's own token does not lock the victim out: the copy that
    // verifies is used, as the victim, and logout still works and expires every variant.
    for (what, cookie) in [
        (
            "tossed garbage first",
            format!("{COOKIE}=garbage; {COOKIE}={victim}"),
        ),
        (
            "the same token twice",
            format!("{COOKIE}={victim}; {COOKIE}={victim}"),
        ),
    ] {
        let response = env.send(get().header("cookie", &cookie)).await;
        assert_eq!(response.status, 200, "{what}: {}", response.text());
        assert_eq!(
            env.app1.last().headers["x-forwarded-user"],
            "alice",
            "{what}"
        );
        tally.neutralized();
    }
    let logout = env
        .send(
            Req::post("app1.example.test", "/.auth/logout")
                .header("cookie", &format!("{COOKIE}=garbage; {COOKIE}={victim}"))
                .origin("https://app1.example.test"),
        )
        .await;
    assert_eq!(
        logout.status,
        303,
        "logout past a tossed cookie: {}",
        logout.text()
    );
    tally.neutralized();
    let response = env.send(get().cookie(&victim)).await;
    assert_error(
        &response,
        401,
        "invalid_token",
        "the victim's session after logout",
    );

    // A public route never checks credentials, so there the tossed pair is forwarded — but
    // never either token.
    let response = env
        .send(Req::get("app1.example.test", "/public/x").header(
            "cookie",
            &format!("a=1; {COOKIE}={attacker}; {COOKIE}={victim}"),
        ))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let cookie = env.app1.last().headers.get("cookie").cloned();
    assert_eq!(
        cookie.as_ref().map(|c| c.as_bytes()),
        Some(&b"a=1"[..]),
        "the upstream got a gateway token"
    );
    tally.neutralized();
    tally.finish();
}

#[tokio::test]
async fn unsafe_cookie_requests_without_a_trusted_origin_are_refused() {
    let mut tally = Tally::new("csrf::unsafe_cookie_requests_without_a_trusted_origin_are_refused");
    let env = env().await;
    let token = mint_hs256(&claims("alice"));
    let post = || {
        Req::post("app1.example.test", "/transfer")
            .cookie(&token)
            .body(
                "application/x-www-form-urlencoded",
                "to=mallory&amount=1000",
            )
    };
    // Controls: same origin, bearer, and safe methods pass.
    let response = env.send(post().origin("https://app1.example.test")).await;
    assert_eq!(response.status, 200, "control: same origin");
    let response = env
        .send(Req::post("app1.example.test", "/transfer").bearer(&token))
        .await;
    assert_eq!(response.status, 200, "control: bearer without Origin");
    let response = env
        .send(Req::get("app1.example.test", "/transfer").cookie(&token))
        .await;
    assert_eq!(response.status, 200, "control: GET");

    let cases: Vec<(&str, Req)> = vec![
        ("neither Origin nor Referer", post()),
        ("Origin of another site", post().origin("https://evil.test")),
        ("Origin null (sandboxed frame)", post().origin("null")),
        (
            "http Origin of the same host",
            post().origin("http://app1.example.test"),
        ),
        (
            "Origin on a look-alike suffix",
            post().origin("https://app1.example.test.evil.test"),
        ),
        (
            "Origin without the dot",
            post().origin("https://evilexample.test"),
        ),
        (
            "Origin with a path",
            post().origin("https://app1.example.test/transfer"),
        ),
        (
            "Origin with userinfo",
            post().origin("https://app1.example.test@evil.test"),
        ),
        (
            "Origin with a trailing dot",
            post().origin("https://app1.example.test."),
        ),
        ("empty Origin", post().origin("")),
        (
            "two Origins, the good one second",
            post()
                .origin("https://evil.test")
                .origin("https://app1.example.test"),
        ),
        (
            "two Origins, the good one first",
            post()
                .origin("https://app1.example.test")
                .origin("https://evil.test"),
        ),
        (
            "foreign Origin, good Referer",
            post()
                .origin("https://evil.test")
                .header("referer", "https://app1.example.test/form"),
        ),
        (
            "foreign Referer",
            post().header("referer", "https://evil.test/page"),
        ),
        (
            "http Referer",
            post().header("referer", "http://app1.example.test/form"),
        ),
        (
            "Referer naming the site in its query",
            post().header("referer", "https://evil.test/?https://app1.example.test/"),
        ),
        (
            "Referer on a look-alike suffix",
            post().header("referer", "https://app1.example.test.evil.test/"),
        ),
        (
            "Referer with userinfo",
            post().header("referer", "https://app1.example.test@evil.test/"),
        ),
        (
            "method override header",
            post().header("x-http-method-override", "GET"),
        ),
        (
            "text/plain body (a CORS simple request)",
            Req::post("app1.example.test", "/transfer")
                .cookie(&token)
                .body("text/plain", "{\"to\":\"mallory\"}"),
        ),
    ];
    for (what, request) in cases {
        let response = refused(&env, &mut tally, what, request, 403).await;
        assert_error(&response, 403, "csrf_rejected", what);
    }
    for method in ["PUT", "DELETE", "PATCH", "PROPFIND", "MKCOL", "POSTX"] {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let what = format!("{method} without Origin");
        let request = Req::new(method, "app1.example.test", "/item").cookie(&token);
        let response = refused(&env, &mut tally, &what, request, 403).await;
        assert_error(&response, 403, "csrf_rejected", &what);
    }
    // Methods are case-sensitive: `post` is not POST, and not safe either.
    for method in ["post", "get", "Get"] {
        let request = format!(
            "{method} /transfer HTTP/1.1\r\nHost: app1.example.test\r\nCookie: {COOKIE}={token}\r\n\
             Accept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let before = env.upstream_count();
        let exchange = raw(&env.client, request.as_bytes(), Duration::from_secs(10)).await;
        assert_eq!(exchange.statuses(), [403], "method {method}: {exchange:?}");
        assert_eq!(env.upstream_count(), before, "method {method}");
        tally.refused();
    }
    tally.finish();
}

/// Asserts a refused login or logout: the status, no cookie set, nothing forwarded.
fn assert_no_session(response: &TestResponse, status: u16, what: &str) {
    assert_eq!(response.status, status, "{what}: {}", response.text());
    assert!(
        !sets_gateway_cookie(&response.headers),
        "{what}: a cookie was set"
    );
}

#[tokio::test]
async fn cross_site_login_and_logout_are_refused() {
    let mut tally = Tally::new("csrf::cross_site_login_and_logout_are_refused");
    let env = env().await;
    let password = crate::support::users::BOB_PASSWORD;
    let form = |origin: Option<&str>, referer: Option<&str>| {
        let mut request = Req::post("app1.example.test", "/.auth/login")
            .accept("text/html")
            .form(&[("username", "bob"), ("password", password)]);
        if let Some(origin) = origin {
            request = request.origin(origin);
        }
        if let Some(referer) = referer {
            request = request.header("referer", referer);
        }
        request
    };
    // Control: a same-site form login works.
    let response = env
        .send(form(Some("https://app1.example.test"), None))
        .await;
    assert_eq!(response.status, 303, "control: {}", response.text());

    // Login CSRF: signing the victim in as the attacker.
    for (what, request) in [
        ("form login without Origin or Referer", form(None, None)),
        (
            "form login from another site",
            form(Some("https://evil.test"), None),
        ),
        (
            "form login from a sandboxed frame",
            form(Some("null"), None),
        ),
        (
            "form login with a foreign Referer",
            form(None, Some("https://evil.test/login")),
        ),
        (
            "form login from an http page of the site",
            form(Some("http://app1.example.test"), None),
        ),
        (
            "JSON login from another site",
            json_login("app1.example.test", "bob", password).origin("https://evil.test"),
        ),
        (
            "JSON login with a foreign Referer",
            json_login("app1.example.test", "bob", password)
                .header("referer", "https://evil.test/"),
        ),
        (
            "JSON body sent as a form, without Origin",
            Req::post("app1.example.test", "/.auth/login").body(
                "application/x-www-form-urlencoded",
                format!("{{\"username\":\"bob\",\"password\":\"{password}\"}}"),
            ),
        ),
    ] {
        let before = env.upstream_count();
        let response = env.send(request).await;
        assert_no_session(&response, 403, what);
        assert!(response.text().contains("csrf_rejected"), "{what}");
        assert_eq!(env.upstream_count(), before);
        tally.refused();
    }
    // A JSON body sent as text/plain (what a cross-site form can send without preflight) is
    // not a login at all.
    let response = env
        .send(Req::post("app1.example.test", "/.auth/login").body(
            "text/plain",
            format!("{{\"username\":\"bob\",\"password\":\"{password}\"}}"),
        ))
        .await;
    assert_no_session(&response, 400, "text/plain JSON login");
    tally.refused();

    // Logout CSRF: the victim's session must survive a cross-site logout.
    let victim = mint_hs256(&claims("alice"));
    for (what, origin) in [
        ("logout without Origin", None),
        ("logout from another site", Some("https://evil.test")),
        ("logout from a sandboxed frame", Some("null")),
    ] {
        let mut request = Req::post("app1.example.test", "/.auth/logout").cookie(&victim);
        if let Some(origin) = origin {
            request = request.origin(origin);
        }
        let response = env.send(request).await;
        assert_eq!(response.status, 403, "{what}: {}", response.text());
        assert!(
            !sets_gateway_cookie(&response.headers),
            "{what}: the cookie was cleared"
        );
        let me = env
            .send(Req::get("app1.example.test", "/.auth/me").cookie(&victim))
            .await;
        assert_eq!(me.status, 200, "{what}: the session was revoked");
        tally.refused();
    }
    // GET never signs anybody out (an <img src> on another site).
    let response = env
        .send(
            Req::get("app1.example.test", "/.auth/logout")
                .cookie(&victim)
                .accept("text/html"),
        )
        .await;
    assert_eq!(response.status, 200);
    assert!(
        !sets_gateway_cookie(&response.headers),
        "GET logout cleared the cookie"
    );
    let me = env
        .send(Req::get("app1.example.test", "/.auth/me").cookie(&victim))
        .await;
    assert_eq!(me.status, 200, "GET logout revoked the session");
    tally.refused();
    tally.finish();
}
