//! Forward auth with the real tools users pair the gateway with: nginx's `auth_request`
//! asking the gateway's `/.auth/verify`, driven by the shipped example
//! `examples/nginx/gateway-forward-auth.conf`; and a bcrypt hash made by Apache's
//! `htpasswd -B`. A missing tool fails the test, never skips it: `scripts/test.sh`
//! installs them.
//!
//! nginx runs as a child process (one process, `master_process off`, so killing the child
//! leaves nothing behind) in its own temp folder, on a loopback port picked by binding
//! `127.0.0.1:0` and releasing it just before nginx binds it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Uri};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::certs::TestCa;
use crate::support::client::{Protocol, TestClient, TestResponse};
use crate::support::gateway::{TestGateway, start_with};
use crate::support::upstream::{self, Upstream};
use crate::support::{STEP_TIMEOUT, within};

/// The example users copy; the nginx tests run exactly this, with addresses substituted.
const EXAMPLE: &str = include_str!("../../examples/nginx/gateway-forward-auth.conf");

/// The host nginx serves; it is under the gateway's cookie domain.
const APP_HOST: &str = "app.example.test";

/// An HS256 secret of 48 bytes.
const SECRET: &[u8] = b"forward-auth-test-secret-0123456789abcdef-xyz!!!";

const ALICE_PASSWORD: &str = "correct horse battery staple";

/// The gateway config of these tests: `/public` is public, `/ops` needs a group alice is
/// not in, everything else needs a login. nginx at 127.0.0.1 is a trusted proxy, as the
/// example's README recommends.
const GATEWAY_CONFIG: &str = r#"
[server]
trusted_proxies = ["127.0.0.1/32"]

[auth]
issuer = "https://auth.example.test"
secret_file = "jwt.secret"

[auth.cookie]
domains = ["example.test"]

[auth.redirect]
allowed_domains = ["example.test"]

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
upstream = "builtin:whoami"
"#;

/// An argon2id PHC string with cheap parameters (fast in debug builds).
fn argon2_hash(password: &str) -> String {
    use argon2::{Argon2, Params, PasswordHash, PasswordHasher};
    let argon2 = Argon2::from(Params::new(8, 1, 1, None).expect("cheap argon2 params"));
    let hash: PasswordHash =
        PasswordHasher::hash_password_with_salt(&argon2, password.as_bytes(), b"fwd-auth-salt-16")
            .expect("argon2 hash");
    hash.to_string()
}

fn alice_users_file() -> String {
    format!(
        "[[user]]\nname = \"alice\"\npassword = '{}'\ngroups = [\"admins\"]\nemail = \"alice@example.test\"\n",
        argon2_hash(ALICE_PASSWORD)
    )
}

async fn start_gateway(users: &str) -> TestGateway {
    start_with(
        GATEWAY_CONFIG,
        &[],
        &[("jwt.secret", SECRET), ("users.toml", users.as_bytes())],
    )
    .await
}

/// `POST /.auth/login` with a JSON body, as a non-browser client (no Origin).
async fn json_login(client: &TestClient, host: &str, user: &str, password: &str) -> TestResponse {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let request = Request::post("/.auth/login")
        .header("host", host)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    client.send(request, Protocol::Http1).await
}

/// `name=value` of the gateway's `Set-Cookie`.
fn session_cookie(response: &TestResponse) -> String {
    let set_cookie = response
        .headers
        .get("set-cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {response:?}"))
        .to_str()
        .expect("ascii Set-Cookie");
    assert!(
        set_cookie.starts_with("gateway_token="),
        "unexpected cookie: {set_cookie}"
    );
    assert!(
        set_cookie.contains("Domain=example.test"),
        "the cookie must cover the parent domain: {set_cookie}"
    );
    set_cookie
        .split(';')
        .next()
        .expect("split yields one item")
        .to_owned()
}

/// Decodes `%XX` escapes (and `+` as a space, as in a query).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii escape");
                let byte =
                    u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape in {text}"));
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// The decoded `rd` parameter of a login URL.
fn rd_of(login_url: &Uri) -> String {
    let query = login_url
        .query()
        .unwrap_or_else(|| panic!("no query: {login_url}"));
    let rd = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("rd="))
        .unwrap_or_else(|| panic!("no rd= in {login_url}"));
    percent_decode(rd)
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}: {headers:?}"))
        .to_str()
        .expect("ascii header")
}

/// The program `name`: found on `PATH`, else in the sbin folders a non-root `PATH` lacks
/// (Debian installs nginx in /usr/sbin). Panics, failing the test, when it is not installed.
fn tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let sbin = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    on_path
        .iter()
        .chain(sbin.iter())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is required by this test and is not installed; scripts/test.sh installs it")
        })
}

/// A running nginx serving the example config; killed on drop.
struct Nginx {
    child: Child,
    /// Where browsers connect: `127.0.0.1:PORT`, serving `app.example.test` over TLS.
    addr: SocketAddr,
    /// Trusts the certificate nginx serves for `app.example.test`.
    ca: TestCa,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx with the example config in front of `gateway` and `app`.
    async fn start(gateway: SocketAddr, app: SocketAddr) -> Nginx {
        let nginx = tool("nginx");
        // The port is released before nginx binds it; another process could take it in
        // between, so a bind failure is retried on a fresh port.
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let ca = TestCa::new();
            let cert = ca.leaf(dir.path(), APP_HOST, &[APP_HOST]);
            let addr = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe");
                probe.local_addr().expect("probe addr")
            };
            let config = nginx_config(dir.path(), addr, &cert.cert, &cert.key, gateway, app);
            let config_path = dir.path().join("nginx.conf");
            std::fs::write(&config_path, config).expect("write nginx.conf");
            let log_path = dir.path().join("nginx.log");
            let log = std::fs::File::create(&log_path).expect("create nginx.log");
            let child = Command::new(&nginx)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&config_path)
                .arg("-g")
                .arg(format!(
                    "daemon off; master_process off; pid {}; error_log stderr info;",
                    dir.path().join("nginx.pid").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", nginx.display()));
            let mut running = Nginx {
                child,
                addr,
                ca,
                dir,
            };
            if running.wait_until_accepting().await {
                return running;
            }
            last_log = running.log();
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start; its log:\n{last_log}");
    }

    /// Polls until nginx accepts connections (true) or exits (false); bounded by
    /// [`STEP_TIMEOUT`].
    async fn wait_until_accepting(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return true;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nginx did not accept connections within {STEP_TIMEOUT:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// nginx's error log so far (for failure messages).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nginx.log")).unwrap_or_default()
    }

    fn client(&self) -> TestClient {
        TestClient::new(self.addr, &self.ca.cert)
    }

    /// The `Host` a browser sends to nginx on this port.
    fn host(&self) -> String {
        format!("{APP_HOST}:{}", self.addr.port())
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

/// Replaces every `from` in `text`; fails when the example no longer contains it.
fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "examples/nginx/gateway-forward-auth.conf no longer contains {from:?}; update this test"
    );
    text.replace(from, to)
}

/// The example, with the test's addresses and files, inside a minimal `nginx.conf` whose
/// logs and temp folders are all in `dir`.
fn nginx_config(
    dir: &Path,
    listen: SocketAddr,
    cert: &Path,
    key: &Path,
    gateway: SocketAddr,
    app: SocketAddr,
) -> String {
    let mut server = EXAMPLE.to_owned();
    for (from, to) in [
        (
            "listen 443 ssl http2;",
            format!("listen {listen} ssl http2;"),
        ),
        (
            "/etc/nginx/tls/app.example.com.crt",
            cert.display().to_string(),
        ),
        (
            "/etc/nginx/tls/app.example.com.key",
            key.display().to_string(),
        ),
        ("app.example.com", APP_HOST.to_owned()),
        ("server 127.0.0.1:8443;", format!("server {gateway};")),
        ("server 127.0.0.1:9001;", format!("server {app};")),
    ] {
        server = substitute(&server, from, &to);
    }
    let dir = dir.display();
    format!(
        "events {{\n    worker_connections 64;\n}}\n\
         http {{\n\
         access_log {dir}/access.log;\n\
         client_body_temp_path {dir}/client_body;\n\
         proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n\
         scgi_temp_path {dir}/scgi;\n\
         {server}\n}}\n"
    )
}

/// A gateway with alice, the recording app, and nginx in front of both.
async fn nginx_setup() -> (TestGateway, Upstream, Nginx) {
    let gateway = start_gateway(&alice_users_file()).await;
    let app = upstream::start("app").await;
    let nginx = Nginx::start(gateway.addr, app.addr).await;
    (gateway, app, nginx)
}

#[tokio::test]
async fn htpasswd_bcrypt_hash_logs_in() {
    let htpasswd = tool("htpasswd");
    let output = Command::new(&htpasswd)
        .args(["-nbB", "-C", "5", "dave", "s3cret pass"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", htpasswd.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hash = stdout
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("dave:"))
        .unwrap_or_else(|| panic!("unexpected htpasswd output: {stdout:?}"))
        .trim()
        .to_owned();
    assert!(hash.starts_with("$2y$05$"), "not a bcrypt hash: {hash}");

    let users = format!(
        "[[user]]\nname = \"dave\"\npassword = '{hash}'\ngroups = []\nemail = \"dave@example.test\"\n"
    );
    let gateway = start_gateway(&users).await;
    let client = gateway.client();

    let response = json_login(&client, APP_HOST, "dave", "s3cret pass").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    let token = body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token: {body}"))
        .to_owned();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    // The login also sets the cookie (checked inside: our name, the parent domain).
    session_cookie(&response);

    // The token is dave's.
    let request = Request::get("/.auth/me")
        .header("host", APP_HOST)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .expect("request");
    let me = client.send(request, Protocol::Http1).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["user"], "dave", "{}", me.text());

    let response = json_login(&client, APP_HOST, "dave", "s3cret pasS").await;
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.json()["error"], "invalid_credentials");
    assert!(response.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn nginx_forward_auth_sends_browsers_to_login_and_apis_a_401() {
    let (_gateway, app, nginx) = nginx_setup().await;
    let original = "/docs/page?q=1&lang=en";

    // (a) A browser navigation (HTTP/2, as browsers do) without a cookie: nginx redirects to
    // the login URL the gateway answered, on this host and port, carrying the original URL.
    let request = Request::get(format!("https://{}{original}", nginx.host()))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("sec-fetch-mode", "navigate")
        .body(Full::default())
        .expect("request");
    let response = nginx.client().send(request, Protocol::Http2).await;
    assert_eq!(response.status, 302, "{}\n{}", response.text(), nginx.log());
    let login = location(&response.headers);
    assert_eq!(login.scheme_str(), Some("https"), "{login}");
    assert_eq!(
        login.authority().map(|a| a.as_str()),
        Some(nginx.host().as_str()),
        "{login}"
    );
    assert_eq!(login.path(), "/.auth/login", "{login}");
    assert_eq!(rd_of(&login), original, "{login}");

    // The login page it points to is served on this host, through nginx.
    let path_and_query = login.path_and_query().expect("path").as_str();
    let page = nginx.get(path_and_query, &[("accept", "text/html")]).await;
    assert_eq!(page.status, 200, "{}\n{}", page.text(), nginx.log());
    assert!(
        header(&page.headers, "content-type").starts_with("text/html"),
        "{:?}",
        page.headers
    );
    assert!(page.text().contains("<form"), "{}", page.text());

    // (b) API clients get a 401 with the gateway's challenge, never a redirect: plain API
    // calls, XHR, and fetch() even when it accepts HTML.
    for headers in [
        vec![("accept", "application/json")],
        vec![("accept", "*/*")],
        vec![
            ("accept", "text/html"),
            ("x-requested-with", "XMLHttpRequest"),
        ],
        vec![("accept", "text/html"), ("sec-fetch-mode", "cors")],
    ] {
        let response = nginx.get(original, &headers).await;
        assert_eq!(response.status, 401, "{headers:?}: {}", response.text());
        assert!(
            response.headers.get("location").is_none(),
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

#[tokio::test]
async fn nginx_forward_auth_passes_the_gateways_identity_never_the_clients() {
    let (_gateway, app, nginx) = nginx_setup().await;

    // (c) Log in through nginx's /.auth/ on the app's own host: the cookie is for the parent
    // domain.
    let response = json_login(&nginx.client(), &nginx.host(), "alice", ALICE_PASSWORD).await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), nginx.log());
    let cookie = session_cookie(&response);
    let token = response.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();

    // With the cookie, the request reaches the app with the identity nginx took from the
    // gateway's answer; the client's forged copies do not.
    let response = nginx
        .get(
            "/docs/page?q=1",
            &[
                ("accept", "text/html"),
                ("cookie", &format!("theme=dark; {cookie}")),
                ("x-forwarded-user", "mallory"),
                ("X-Forwarded-Groups", "ops"),
                ("x-forwarded-email", "mallory@evil.test"),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), nginx.log());
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

    // An API client with the bearer token from the JSON login is let through the same way.
    let response = nginx
        .get(
            "/api/items",
            &[
                ("accept", "application/json"),
                ("authorization", &format!("Bearer {token}")),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), nginx.log());
    assert_eq!(app.last().target, "/api/items");
    assert_eq!(app.last().headers["x-forwarded-user"], "alice");

    // A public route of the gateway: no login needed, and still no forged identity.
    let response = nginx
        .get(
            "/public/index.html",
            &[("accept", "text/html"), ("x-forwarded-user", "mallory")],
        )
        .await;
    assert_eq!(response.status, 200, "{}\n{}", response.text(), nginx.log());
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

    // A route needing a group alice is not in: 403, and the app is not asked.
    let before = app.received().len();
    let response = nginx
        .get(
            "/ops/deploy",
            &[("accept", "text/html"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(response.status, 403, "{}\n{}", response.text(), nginx.log());
    assert_eq!(app.received().len(), before, "{:?}", app.received());
}

/// One response read from a raw connection until the server closed it.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    text: String,
}

impl RawResponse {
    fn parse(text: String) -> RawResponse {
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        RawResponse {
            status,
            headers,
            text,
        }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends `request` byte for byte on a TLS connection with SNI `app.example.test` (what
/// nginx's `proxy_ssl_name $host` sends) and reads until the gateway closes it.
async fn send_raw(gateway: &TestGateway, request: &str) -> RawResponse {
    let mut tls = gateway.client().connect(APP_HOST, Protocol::Http1).await;
    within(tls.write_all(request.as_bytes()))
        .await
        .expect("write request");
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // A close without close_notify is an error to rustls; what was read still counts.
        match within(tls.read(&mut chunk)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    RawResponse::parse(String::from_utf8_lossy(&out).into_owned())
}

/// What nginx sends for `auth_request /.auth/verify` with the example's verify location
/// (captured from nginx 1.22): HTTP/1.0, the `proxy_set_header` lines in order, then the
/// browser's own headers; no body and no `Content-Length`.
fn nginx_verify_request(original_host: &str, original_uri: &str, cookie: Option<&str>) -> String {
    let mut request = format!(
        "GET /.auth/verify HTTP/1.0\r\n\
         Host: {APP_HOST}\r\n\
         X-Forwarded-Proto: https\r\n\
         X-Forwarded-Host: {original_host}\r\n\
         X-Forwarded-Uri: {original_uri}\r\n\
         X-Forwarded-For: 127.0.0.1\r\n\
         Connection: close\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    );
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: theme=dark; {cookie}\r\n"));
    }
    request.push_str("\r\n");
    request
}

#[tokio::test]
async fn verify_accepts_the_exact_request_shape_nginx_sends() {
    let gateway = start_gateway(&alice_users_file()).await;
    let login = json_login(&gateway.client(), APP_HOST, "alice", ALICE_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text());
    let cookie = session_cookie(&login);
    let original_host = format!("{APP_HOST}:8443");
    let original_uri = "/docs/page?q=1&lang=en";

    // Logged in: 200 with the identity headers nginx copies with auth_request_set.
    let response = send_raw(
        &gateway,
        &nginx_verify_request(&original_host, original_uri, Some(&cookie)),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(
        response.all("x-forwarded-user"),
        ["alice"],
        "{}",
        response.text
    );
    assert_eq!(
        response.all("x-forwarded-groups"),
        ["admins"],
        "{}",
        response.text
    );
    assert_eq!(
        response.all("x-forwarded-email"),
        ["alice@example.test"],
        "{}",
        response.text
    );

    // Not logged in: 401 even for a browser's Accept (auth_request treats anything but
    // 2xx, 401 and 403 as an error), with the login URL for nginx to redirect to: on the
    // original host and port, carrying the original path and query.
    let response = send_raw(
        &gateway,
        &nginx_verify_request(&original_host, original_uri, None),
    )
    .await;
    assert_eq!(response.status, 401, "{}", response.text);
    assert!(
        response.all("x-forwarded-user").is_empty(),
        "{}",
        response.text
    );
    let locations = response.all("location");
    assert_eq!(locations.len(), 1, "{}", response.text);
    let login_url: Uri = locations[0].parse().expect("Location is a URL");
    assert_eq!(login_url.scheme_str(), Some("https"), "{login_url}");
    assert_eq!(
        login_url.authority().map(|a| a.as_str()),
        Some(original_host.as_str()),
        "{login_url}"
    );
    assert_eq!(login_url.path(), "/.auth/login", "{login_url}");
    assert_eq!(rd_of(&login_url), original_uri, "{login_url}");
}
