//! The request the gateway judges is the one the proxy routed, never one the client
//! described: each shipped example overwrites (or drops) every header `/.auth/verify` reads.
//! The attacks are the ones issue 13 found against `622a6e9`: a client-written
//! `X-Original-URL` naming a public page, client-written `X-Forwarded-*`, an absolute-form
//! request target with a `Host` header naming a public host (`$http_host` in nginx), and a
//! host the gateway has no route for.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use super::{APP_HOST, PUBLIC_HOST, Proxy, UNROUTED_HOST, session_cookie};
use crate::support::client::TestResponse;
use crate::support::requests::login_json;
use crate::support::upstream::Upstream;
use crate::support::users::ALICE_PASSWORD;

/// Client-written headers that describe a public page instead of the one asked for.
const FORGED_URL_HEADERS: [(&str, &str); 7] = [
    ("x-original-url", "https://public.example.test/"),
    ("x-original-method", "GET"),
    ("x-forwarded-host", PUBLIC_HOST),
    ("x-forwarded-uri", "/public/index.html"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-method", "GET"),
    ("forwarded", "host=public.example.test;proto=https"),
];

/// What an attack must get: `anonymous` without a login (the 401, or the login redirect a
/// proxy makes of it), 403 for alice (not in `ops`, and no route for an unrouted host).
fn assert_refused(response: &TestResponse, expected: u16, what: &str, proxy: &Proxy) {
    assert_eq!(
        response.status.as_u16(),
        expected,
        "{what}: {}\n{}",
        response.text(),
        proxy.log()
    );
}

/// Through `proxy`, every way of naming another URL than the one asked for is refused (for
/// a client without a login with `anonymous`: 401, or 302 from a proxy that redirects every
/// 401 to the login page) and `app` never sees such a request; the legitimate requests still
/// pass, and the CSRF rule applies to the original method.
pub(super) async fn the_client_cannot_choose_the_url_that_is_judged(
    proxy: &Proxy,
    app: &Upstream,
    anonymous: u16,
) {
    let login = login_json(&proxy.client(), &proxy.host(), "alice", ALICE_PASSWORD).await;
    assert_eq!(login.status, 200, "{}\n{}", login.text(), proxy.log());
    let cookie = session_cookie(&login);
    let before = app.received().len();
    let port = proxy.addr.port();

    for (who, cookie, protected_status) in [
        ("anonymous", None, anonymous),
        ("alice", Some(&cookie), 403),
    ] {
        let with_cookie = |mut headers: Vec<(&'static str, String)>| {
            headers.push(("accept", "application/json".to_owned()));
            if let Some(cookie) = cookie {
                headers.push(("cookie", cookie.clone()));
            }
            headers
        };

        // 1 + 2. /ops needs the group ops; the forged headers name a public page.
        let forged = with_cookie(
            FORGED_URL_HEADERS
                .iter()
                .map(|(n, v)| (*n, (*v).to_owned()))
                .collect(),
        );
        let forged: Vec<(&str, &str)> = forged.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = proxy.get("/ops/deploy", &forged).await;
        assert_refused(
            &response,
            protected_status,
            &format!("{who}, forged URL headers"),
            proxy,
        );

        // 3. An absolute-form target for the app with a Host header naming the public host
        // (on the app's TLS connection): the proxy routes by the target, so must the gateway.
        let mut request = Request::get(format!("https://{APP_HOST}:{port}/ops/deploy"))
            .header("host", PUBLIC_HOST);
        for (name, value) in with_cookie(Vec::new()) {
            request = request.header(name, value);
        }
        let request = request.body(Full::<Bytes>::default()).expect("request");
        let response = proxy.send_on_app_connection(request).await;
        assert_refused(
            &response,
            protected_status,
            &format!("{who}, absolute-form target"),
            proxy,
        );

        // 4. A host the proxy serves but the gateway has no route for: nothing to vouch for.
        let mut request =
            Request::get("/docs/page").header("host", format!("{UNROUTED_HOST}:{port}"));
        for (name, value) in with_cookie(Vec::new()) {
            request = request.header(name, value);
        }
        let request = request.body(Full::<Bytes>::default()).expect("request");
        let response = proxy.send_on_app_connection(request).await;
        assert_refused(&response, 403, &format!("{who}, unrouted host"), proxy);

        // A host the proxy does not serve at all never reaches the app either.
        let mut request = Request::get("/public/x").header("host", PUBLIC_HOST);
        for (name, value) in with_cookie(Vec::new()) {
            request = request.header(name, value);
        }
        let request = request.body(Full::<Bytes>::default()).expect("request");
        let response = proxy.send_on_app_connection(request).await;
        assert!(
            response.status != 200 || response.body.is_empty(),
            "{who}, a host the proxy does not serve: {} {}",
            response.status,
            response.text()
        );
    }
    assert_eq!(
        app.received().len(),
        before,
        "a refused request reached the app: {:?}",
        app.received()
    );

    // The legitimate requests still pass: a signed-in page, a public one without login.
    // Path override headers a framework might obey never reach the app.
    let cookie_header = cookie.as_str();
    let response = proxy
        .get(
            "/docs/page",
            &[
                ("accept", "text/html"),
                ("cookie", cookie_header),
                ("x-original-url", "/ops/deploy"),
                ("x-rewrite-url", "/ops/deploy"),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    let received = app.last();
    assert_eq!(received.target, "/docs/page");
    for name in ["x-original-url", "x-rewrite-url"] {
        assert!(
            received.headers.get(name).is_none(),
            "{name} reached the app: {:?}",
            received.headers
        );
    }
    let response = proxy
        .get("/public/index.html", &[("accept", "text/html")])
        .await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    assert_eq!(app.last().target, "/public/index.html");

    // The CSRF rule of unsafe methods, on the original method: a cookie-authenticated POST
    // from this site passes, one from another site is the gateway's 403.
    let same_site = format!("https://{}", proxy.host());
    let post = |origin: &str| {
        Request::post("/docs/form")
            .header("host", proxy.host())
            .header("accept", "application/json")
            .header("cookie", cookie_header)
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"a=1")))
            .expect("request")
    };
    let response = proxy.send_on_app_connection(post(&same_site)).await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    assert_eq!(app.last().method, "POST");
    assert_eq!(app.last().target, "/docs/form");
    let before = app.received().len();
    let response = proxy
        .send_on_app_connection(post("https://evil.test"))
        .await;
    assert_eq!(response.status, 403, "{}\n{}", response.text(), proxy.log());
    assert_eq!(app.received().len(), before, "{:?}", app.received());
}
