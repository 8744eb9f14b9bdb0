//! `/.auth/verify` asked directly, as a proxy would: the original request comes from the
//! one header set `[forward_auth] url_from` names, every header of it is required, the other
//! set never counts; a URL no route matches is refused unless `unmatched = "authenticated"`;
//! and the CSRF rule applies to the original method.

use http::Request;
use http_body_util::Full;

use super::{APP_HOST, TestGateway, gateway_and_app, session_cookie};
use crate::support::client::{Protocol, TestResponse};
use crate::support::requests::login_json;
use crate::support::users::ALICE_PASSWORD;

/// `GET /.auth/verify` on the gateway with `headers`.
pub(super) async fn verify(gateway: &TestGateway, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = Request::get("/.auth/verify").header("host", APP_HOST);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::default()).expect("request");
    gateway.client().send(request, Protocol::Http1).await
}

/// The cookie header of a fresh login of alice (groups: admins).
pub(super) async fn alice_cookie(gateway: &TestGateway) -> String {
    let login = login_json(&gateway.client(), APP_HOST, "alice", ALICE_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text());
    session_cookie(&login)
}

/// The four headers the default source needs, for `method` `host` `uri`.
pub(super) fn x_forwarded<'a>(
    method: &'a str,
    host: &'a str,
    uri: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", host),
        ("x-forwarded-uri", uri),
        ("x-forwarded-method", method),
    ]
}

pub(super) fn with<'a>(
    mut headers: Vec<(&'a str, &'a str)>,
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    headers.extend_from_slice(more);
    headers
}

pub(super) fn assert_status(response: &TestResponse, status: u16, error: Option<&str>, what: &str) {
    assert_eq!(
        response.status.as_u16(),
        status,
        "{what}: {}",
        response.text()
    );
    if let Some(error) = error {
        assert_eq!(response.json()["error"], error, "{what}");
    }
}

#[tokio::test]
async fn verify_ignores_a_client_written_x_original_url_by_default() {
    let (gateway, _app) = gateway_and_app("").await;
    let cookie = alice_cookie(&gateway).await;
    let forged = [
        (
            "x-original-url",
            "https://app.example.test/public/index.html",
        ),
        ("x-original-method", "GET"),
    ];
    let ops = x_forwarded("GET", "app.example.test:8443", "/ops/deploy");

    let response = verify(&gateway, &with(ops.clone(), &forged)).await;
    assert_status(&response, 401, Some("unauthorized"), "anonymous");
    let response = verify(
        &gateway,
        &with(ops.clone(), &[forged[0], forged[1], ("cookie", &cookie)]),
    )
    .await;
    assert_status(&response, 403, Some("forbidden"), "alice, not in ops");
    // X-Original-URL alone is no original request at all under url_from = "x-forwarded".
    let response = verify(&gateway, &[forged[0], forged[1], ("cookie", &cookie)]).await;
    assert_status(&response, 400, Some("bad_request"), "only X-Original-URL");
    // Without the forgery the same requests get the same answers, and a page alice may see
    // passes with her identity.
    let response = verify(&gateway, &with(ops, &[("cookie", &cookie)])).await;
    assert_status(&response, 403, Some("forbidden"), "alice, /ops");
    let docs = x_forwarded("GET", "app.example.test:8443", "/docs");
    let response = verify(&gateway, &with(docs, &[("cookie", &cookie)])).await;
    assert_status(&response, 200, None, "alice, /docs");
    assert_eq!(response.headers["x-forwarded-user"], "alice");
}

/// What ingress-nginx sends: the whole URL, nginx's own `$scheme://$host$request_uri`, and
/// the method; here with a client's forged `X-Forwarded-*` passed along.
#[tokio::test]
async fn with_url_from_x_original_url_only_x_original_url_counts() {
    let (gateway, _app) = gateway_and_app("[forward_auth]\nurl_from = \"x-original-url\"\n").await;
    let cookie = alice_cookie(&gateway).await;
    let forged = x_forwarded("GET", "public.example.test", "/public/index.html");
    let ops = [
        (
            "x-original-url",
            "https://app.example.test:8443/ops/deploy?x=1",
        ),
        ("x-original-method", "GET"),
    ];

    let response = verify(&gateway, &with(forged.clone(), &ops)).await;
    assert_status(&response, 401, Some("unauthorized"), "anonymous");
    // The login URL is built from X-Original-URL: its host and port, its path and query.
    let location = response.headers["location"].to_str().expect("ascii");
    assert_eq!(
        location,
        "https://app.example.test:8443/.auth/login?rd=%2Fops%2Fdeploy%3Fx%3D1"
    );
    let response = verify(
        &gateway,
        &with(forged.clone(), &[ops[0], ops[1], ("cookie", &cookie)]),
    )
    .await;
    assert_status(&response, 403, Some("forbidden"), "alice, not in ops");
    // X-Forwarded-* alone are no original request under this setting.
    let response = verify(&gateway, &with(forged, &[("cookie", &cookie)])).await;
    assert_status(&response, 400, Some("bad_request"), "only X-Forwarded-*");

    let docs = [
        ("x-original-url", "https://app.example.test/docs/page"),
        ("x-original-method", "GET"),
    ];
    let response = verify(&gateway, &[docs[0], docs[1], ("cookie", &cookie)]).await;
    assert_status(&response, 200, None, "alice, /docs");
    assert_eq!(response.headers["x-forwarded-user"], "alice");
    let public = [
        ("x-original-url", "https://public.example.test/"),
        ("x-original-method", "GET"),
    ];
    let response = verify(&gateway, &public).await;
    assert_status(&response, 200, None, "anonymous, a public host");
    assert!(response.headers.get("x-forwarded-user").is_none());
    let missing_method = [
        ("x-original-url", "https://app.example.test/docs/page"),
        ("cookie", &cookie),
    ];
    let response = verify(&gateway, &missing_method).await;
    assert_status(&response, 400, Some("bad_request"), "no X-Original-Method");
}

#[tokio::test]
async fn verify_without_every_header_of_its_source_is_a_400_not_a_guess() {
    let (gateway, _app) = gateway_and_app("").await;
    let cookie = alice_cookie(&gateway).await;
    let complete = x_forwarded("GET", "app.example.test", "/docs");
    let response = verify(&gateway, &with(complete.clone(), &[("cookie", &cookie)])).await;
    assert_status(&response, 200, None, "complete");
    for skip in 0..complete.len() {
        let mut headers = complete.clone();
        let (name, _) = headers.remove(skip);
        headers.push(("cookie", &cookie));
        let response = verify(&gateway, &headers).await;
        assert_status(
            &response,
            400,
            Some("bad_request"),
            &format!("without {name}"),
        );
    }
    // Nothing at all: not "authenticated is enough".
    let response = verify(&gateway, &[("cookie", &cookie)]).await;
    assert_status(&response, 400, Some("bad_request"), "no original URL");
    // A proxy that appends to the client's copy instead of replacing it: two values.
    let response = verify(
        &gateway,
        &with(
            complete.clone(),
            &[
                ("x-forwarded-host", "public.example.test"),
                ("cookie", &cookie),
            ],
        ),
    )
    .await;
    assert_status(&response, 400, Some("bad_request"), "two X-Forwarded-Host");
    // A method that is no method, a scheme that is no scheme.
    let response = verify(
        &gateway,
        &with(
            x_forwarded("GE T", "app.example.test", "/docs"),
            &[("cookie", &cookie)],
        ),
    )
    .await;
    assert_status(&response, 400, Some("bad_request"), "bad method");
    let mut bad_proto = x_forwarded("GET", "app.example.test", "/docs");
    bad_proto[0].1 = "gopher";
    let response = verify(&gateway, &with(bad_proto, &[("cookie", &cookie)])).await;
    assert_status(&response, 400, Some("bad_request"), "bad proto");
}

#[tokio::test]
async fn verify_denies_a_url_no_route_matches() {
    let (gateway, _app) = gateway_and_app("").await;
    let cookie = alice_cookie(&gateway).await;
    let unknown = x_forwarded("GET", "unknown.example.test", "/anything");
    for headers in [unknown.clone(), with(unknown, &[("cookie", &cookie)])] {
        let response = verify(&gateway, &headers).await;
        assert_status(&response, 403, Some("forbidden"), "a host with no route");
        assert!(response.headers.get("x-forwarded-user").is_none());
    }
}

#[tokio::test]
async fn unmatched_authenticated_lets_any_signed_in_user_through() {
    let (gateway, _app) = gateway_and_app("[forward_auth]\nunmatched = \"authenticated\"\n").await;
    let cookie = alice_cookie(&gateway).await;
    let unknown = x_forwarded("GET", "unknown.example.test", "/anything");
    let response = verify(&gateway, &unknown).await;
    assert_status(&response, 401, Some("unauthorized"), "anonymous");
    let response = verify(&gateway, &with(unknown, &[("cookie", &cookie)])).await;
    assert_status(&response, 200, None, "alice");
    assert_eq!(response.headers["x-forwarded-user"], "alice");
}

#[tokio::test]
async fn verify_applies_the_csrf_rule_to_the_original_method() {
    let (gateway, _app) = gateway_and_app("").await;
    let login = login_json(&gateway.client(), APP_HOST, "alice", ALICE_PASSWORD).await;
    let cookie = session_cookie(&login);
    let bearer = format!(
        "Bearer {}",
        login.json()["access_token"].as_str().expect("token")
    );
    let post = x_forwarded("POST", "app.example.test:8443", "/docs/form");
    let evil = ("origin", "https://evil.test");
    let same_site = ("origin", "https://app.example.test:8443");

    let response = verify(&gateway, &with(post.clone(), &[("cookie", &cookie), evil])).await;
    assert_status(
        &response,
        403,
        Some("csrf_rejected"),
        "cookie, cross-site POST",
    );
    let response = verify(&gateway, &with(post.clone(), &[("cookie", &cookie)])).await;
    assert_status(
        &response,
        403,
        Some("csrf_rejected"),
        "cookie, POST without Origin",
    );
    let response = verify(
        &gateway,
        &with(post.clone(), &[("cookie", &cookie), same_site]),
    )
    .await;
    assert_status(&response, 200, None, "cookie, same-site POST");
    // A bearer token is not sent by browsers on their own: no CSRF rule.
    let response = verify(&gateway, &with(post, &[("authorization", &bearer), evil])).await;
    assert_status(&response, 200, None, "bearer, cross-site POST");
    // A safe method is not subject to it either.
    let get = x_forwarded("GET", "app.example.test:8443", "/docs/form");
    let response = verify(&gateway, &with(get, &[("cookie", &cookie), evil])).await;
    assert_status(&response, 200, None, "cookie, cross-site GET");
}

/// The access decision is one function for proxied requests and forward-auth alike, so the
/// WebSocket rule of the pipeline (a handshake opens a channel a cross-site page could use
/// with the cookie) holds for `verify` too; before they shared it, `verify` let a
/// cross-site handshake through.
#[tokio::test]
async fn verify_refuses_a_cross_site_websocket_handshake_with_a_cookie() {
    let (gateway, _app) = gateway_and_app("").await;
    let cookie = alice_cookie(&gateway).await;
    let handshake = with(
        x_forwarded("GET", "app.example.test:8443", "/docs/socket"),
        &[("upgrade", "websocket"), ("connection", "Upgrade")],
    );
    let evil = ("origin", "https://evil.test");
    let same_site = ("origin", "https://app.example.test:8443");

    let response = verify(
        &gateway,
        &with(handshake.clone(), &[("cookie", &cookie), evil]),
    )
    .await;
    assert_status(
        &response,
        403,
        Some("csrf_rejected"),
        "cookie, cross-site handshake",
    );
    assert!(response.headers.get("x-forwarded-user").is_none());
    let response = verify(
        &gateway,
        &with(handshake.clone(), &[("cookie", &cookie), same_site]),
    )
    .await;
    assert_status(&response, 200, None, "cookie, same-site handshake");
    assert_eq!(response.headers["x-forwarded-user"], "alice");
}
