//! Open redirects: every `rd=` shape that leaves the allowed domains (`example.test` and its
//! subdomains, https only) must fall back to the gateway's own local target, after logout
//! (`/.auth/login`) and after a form login (`/`). The shapes come from the OWASP
//! unvalidated-redirects cheat sheet, PortSwigger's URL-validation bypass list and past
//! advisories of oauth2-proxy, Authelia and Vouch: scheme-relative and backslash forms,
//! userinfo, look-alike and IP hosts, encodings, control characters, other schemes.
//!
//! Also: what the login and logout pages reflect (`rd`, a failed username) is inert markup.

use std::time::Duration;

use super::Tally;
use crate::support::cookies::gateway_set_cookie;
use crate::support::env::{Env, env};
use crate::support::raw::raw;
use crate::support::requests::{Req, percent_encode};
use crate::support::tokens::{claims, mint_hs256};
use crate::support::users::ALICE_PASSWORD;

/// Targets that leave the allowed domains (or the https scheme), each as the raw `rd`.
const OFF_SITE: &[&str] = &[
    "https://evil.test/",
    "https://evil.test",
    "http://evil.test/",
    "//evil.test/",
    "//evil.test",
    "///evil.test/",
    "////evil.test",
    "/\\evil.test",
    "\\/evil.test",
    "\\\\evil.test",
    "/\\/evil.test",
    "///\\evil.test",
    "https:evil.test",
    "https:/evil.test",
    "https:///evil.test",
    "https:\\\\evil.test",
    "https:/\\evil.test",
    "HTTPS://EVIL.TEST/",
    "hTtPs://evil.test/",
    "http://app1.example.test/",
    "https://example.test.evil.test/",
    "https://evilexample.test/",
    "https://app1.example.test.evil.test/",
    "https://app1-example.test/",
    "https://app1.example.test@evil.test/",
    "https://app1.example.test:443@evil.test/",
    "https://user:pass@app1.example.test/",
    "https://evil.test#@app1.example.test/",
    "https://evil.test?@app1.example.test/",
    "https://evil.test\\@app1.example.test/",
    "https://evil.test%40app1.example.test/",
    "https://evil.test%2F@app1.example.test/",
    "https://app1.example.test%2eevil.test/",
    "https://app1.example.test%00.evil.test/",
    "https://evil.test%23.example.test/",
    "https://evil.test;.example.test/",
    "https://evil.test&.example.test/",
    "https://app1.example.test\\.evil.test/",
    "https://app1.example.test\u{3002}evil.test/",
    "https://app1.example.test\u{ff0e}evil.test/",
    "https://\u{1d07}xample.test/",
    "https://xn--xample-2of.test/",
    "https://example.test./",
    "https://127.0.0.1/",
    "https://2130706433/",
    "https://0x7f.1/",
    "https://0177.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://app1.example.test:0/",
    "https://app1.example.test:99999/",
    "https://app1.example.test:-1/",
    "https://evil.test/https://app1.example.test/",
    "https://",
    "https:",
    "https://:443/",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "javascript://example.test/%0Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://app1.example.test/",
    " https://evil.test/",
    "\thttps://evil.test/",
    " //evil.test",
    "/\t/evil.test",
    "/%09/evil.test",
    "/%0a/evil.test",
    "/%0d%0aSet-Cookie:%20x=y",
    "/x\r\nLocation: https://evil.test/",
    "/x\u{0}",
    "/%2F%2Fevil.test",
    "/%2f/evil.test",
    "/%5Cevil.test",
    "/%5c%5cevil.test",
    "%2F%2Fevil.test",
    "%2f%2fevil.test",
    "evil.test",
    "@evil.test",
    "/\u{2215}\u{2215}evil.test",
    "/\u{ff0f}\u{ff0f}evil.test",
];

/// `POST /.auth/logout?rd=…` from the gateway's own origin.
fn logout(rd: &str) -> Req {
    Req::post(
        "app1.example.test",
        &format!("/.auth/logout?rd={}", percent_encode(rd)),
    )
    .origin("https://app1.example.test")
}

/// The Location of a 303 answer.
async fn location(env: &Env, request: Req, what: &str) -> String {
    let response = env.send(request).await;
    assert_eq!(response.status, 303, "{what}: {}", response.text());
    response.headers["location"]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

#[tokio::test]
async fn open_redirect_shapes_fall_back_to_a_local_path() {
    let mut tally = Tally::new("redirects::open_redirect_shapes_fall_back_to_a_local_path");
    let env = env().await;
    // Controls: the allowed shapes are kept, so a fallback below is the validator's doing.
    for rd in [
        "/welcome?x=1",
        "https://app2.example.test/p?q=1",
        "https://example.test/",
        "https://deep.app2.example.test:8443/x",
    ] {
        assert_eq!(location(&env, logout(rd), rd).await, rd, "control {rd}");
    }
    for rd in OFF_SITE {
        let what = format!("logout rd {rd:?}");
        assert_eq!(
            location(&env, logout(rd), &what).await,
            "/.auth/login",
            "{what}"
        );
        tally.refused();
    }
    // rd in the logout form body instead of the query.
    for rd in ["//evil.test", "https://evil.test/", "/\\evil.test"] {
        let request = Req::post("app1.example.test", "/.auth/logout")
            .origin("https://app1.example.test")
            .form(&[("rd", rd)]);
        let what = format!("logout form rd {rd:?}");
        assert_eq!(
            location(&env, request, &what).await,
            "/.auth/login",
            "{what}"
        );
        tally.refused();
    }
    // After a real sign-in: the session is created, the redirect stays home.
    for rd in [
        "//evil.test",
        "https://evil.test/",
        "/\\evil.test",
        "https://app1.example.test@evil.test/",
        "https://evil.test#@app1.example.test/",
        "https:evil.test",
        "javascript:alert(1)",
        "/%2F%2Fevil.test",
    ] {
        let response = env
            .login_form("app1.example.test", "alice", ALICE_PASSWORD, Some(rd))
            .await;
        assert_eq!(response.status, 303, "login rd {rd:?}: {}", response.text());
        assert_eq!(response.headers["location"], "/", "login rd {rd:?}");
        gateway_set_cookie(&response.headers);
        tally.refused();
    }
    // A browser sent to the login page comes back to the normalized local path: a
    // scheme-relative request target cannot become a scheme-relative `rd`.
    for (target, rd) in [
        ("//evil.test/x", "%2Fevil.test%2Fx"),
        ("///evil.test", "%2Fevil.test"),
        ("/%2e%2e//evil.test", ""),
    ] {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: app1.example.test\r\nAccept: text/html\r\n\
             Connection: close\r\n\r\n"
        );
        let exchange = raw(&env.client, request.as_bytes(), Duration::from_secs(10)).await;
        let what = format!("navigation to {target}");
        if rd.is_empty() {
            assert_eq!(exchange.statuses(), [400], "{what}: {exchange:?}");
        } else {
            assert_eq!(exchange.statuses(), [302], "{what}: {exchange:?}");
            let location = exchange.responses[0].header("location").unwrap_or_default();
            assert_eq!(location, format!("/.auth/login?rd={rd}"), "{what}");
        }
        tally.refused();
    }
    assert_eq!(env.upstream_count(), 0, "nothing here is for an upstream");
    tally.finish();
}

#[tokio::test]
async fn login_page_reflects_nothing_executable() {
    let mut tally = Tally::new("redirects::login_page_reflects_nothing_executable");
    let env = env().await;
    let payloads = [
        "\"><script>alert(1)</script>",
        "'><img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        "\" autofocus onfocus=\"alert(1)",
        "</title><script>alert(1)</script>",
        "<svg/onload=alert(1)>",
    ];
    let assert_inert = |body: &str, payload: &str, what: &str| {
        let lower = body.to_ascii_lowercase();
        assert!(
            !lower.contains("<script>alert") && !lower.contains("<img") && !lower.contains("<svg"),
            "{what}: markup reflected: {body}"
        );
        // Escaped, a payload can only be text; verbatim, its quotes or brackets are markup.
        if payload.contains(['<', '>', '"', '\'']) {
            assert!(
                !body.contains(payload),
                "{what}: payload reflected verbatim"
            );
        }
        // `javascript:` may only be reflected where it is inert: never as a link or action.
        assert!(
            !lower.contains("href=\"javascript:") && !lower.contains("action=\"javascript:"),
            "{what}: javascript: URL as a link"
        );
    };
    for payload in payloads {
        for path in ["/.auth/login", "/.auth/logout"] {
            let response = env
                .send(
                    Req::get(
                        "app1.example.test",
                        &format!("{path}?rd={}", percent_encode(payload)),
                    )
                    .accept("text/html"),
                )
                .await;
            let what = format!("GET {path} rd {payload:?}");
            assert_eq!(response.status, 200, "{what}");
            let csp = response.headers["content-security-policy"]
                .to_str()
                .expect("ascii");
            assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
            assert_inert(&response.text(), payload, &what);
            tally.refused();
        }
        // A failed form login shows the username again.
        let response = env
            .send(
                Req::post("app1.example.test", "/.auth/login")
                    .origin("https://app1.example.test")
                    .accept("text/html")
                    .form(&[
                        ("username", payload),
                        ("password", "wrong"),
                        ("rd", payload),
                    ]),
            )
            .await;
        let what = format!("failed login as {payload:?}");
        assert_eq!(response.status, 401, "{what}");
        assert_inert(&response.text(), payload, &what);
        tally.refused();
    }
    // The token of a signed-in user never appears in a page either.
    let token = mint_hs256(&claims("alice"));
    let response = env
        .send(
            Req::get("app1.example.test", "/.auth/logout")
                .accept("text/html")
                .cookie(&token),
        )
        .await;
    assert!(
        !response.text().contains(&token),
        "the logout page shows the token"
    );
    tally.refused();
    assert_eq!(env.upstream_count(), 0);
    tally.finish();
}

/// The sign-in page names the site the user signs in to, taken from `rd` without checking
/// it: `?rd=https://accounts.evil.test/` shows "Sign in to accounts.evil.test" on the
/// gateway's own, trusted page (content spoofing for phishing). The redirect itself falls
/// back to `/`, so this is about what the page claims.
#[tokio::test]
async fn login_page_never_names_a_foreign_site() {
    let env = env().await;
    for rd in [
        "https://accounts.evil.test/",
        "https://app1.example.test@evil.test/",
    ] {
        let response = env
            .send(
                Req::get(
                    "app1.example.test",
                    &format!("/.auth/login?rd={}", percent_encode(rd)),
                )
                .accept("text/html"),
            )
            .await;
        assert_eq!(response.status, 200);
        let body = response.text();
        assert!(
            !body.contains("evil.test"),
            "rd {rd}: the page names the attacker's host"
        );
        assert!(body.contains("app1.example.test"), "rd {rd}: the real site");
    }
}
