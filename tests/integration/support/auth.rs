//! Authentication helpers: a common `[auth]` + `[users]` config with its files (a users file
//! of cheap argon2id hashes, a signing secret or key), tokens minted outside the gateway with
//! `jsonwebtoken` or crafted byte by byte, `Set-Cookie` parsing, request building, and the
//! assertions every rejection shares.
//!
//! Tokens are minted here, never taken from the gateway's own code: the tests check the
//! gateway against an independent JWT implementation (and against PyJWT, see [`python3`]).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, PasswordHasher, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::client::{Protocol, TestClient, TestResponse};
use super::gateway::{TestGateway, start_with};
use super::upstream::{self, Upstream};

/// The HS256 secret, as written to `jwt.secret` (the gateway trims the trailing newline).
pub const SECRET: &str = "integration-test-secret-0123456789-abcdefghijklmnop";
/// `auth.issuer`.
pub const ISSUER: &str = "https://auth.example.test";
/// The one configured audience.
pub const AUDIENCE: &str = "example.test";
/// `auth.cookie.name` (the default).
pub const COOKIE: &str = "gateway_token";
/// `auth.token_ttl` in seconds ("2h").
pub const TTL_SECS: i64 = 7200;
/// The challenge for a request without credentials (RFC 6750 §3).
pub const CHALLENGE: &str = "Bearer realm=\"gateway\"";
/// The challenge for invalid credentials.
pub const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"gateway\", error=\"invalid_token\"";

pub const ALICE_PASSWORD: &str = "alice-correct-horse";
pub const BOB_PASSWORD: &str = "bob-battery-staple";
pub const CAROL_PASSWORD: &str = "carol-disabled-pass";

/// The test-only RSA key pair of `tests/fixtures/keys/`.
pub const RSA_PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/keys/rsa-private.pem");
pub const RSA_PUBLIC_PEM: &[u8] = include_bytes!("../../fixtures/keys/rsa-public.pem");
/// Another RSA key: right algorithm, wrong key.
pub const RSA_OLD_PRIVATE_PEM: &[u8] = include_bytes!("../../fixtures/keys/rsa-old-private.pem");

/// An argon2id PHC string for `password`, with parameters cheap enough for tests.
pub fn hash_password(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("argon2 params");
    let argon2 = Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params);
    // A fixed salt per password keeps the helper independent of an RNG feature; the salt
    // only has to be valid, not secret, for a test.
    let salt = format!("salt-{:0>16}", password.len());
    argon2
        .hash_password_with_salt(password.as_bytes(), salt.as_bytes())
        .expect("hash password")
        .to_string()
}

/// The users file: alice (admins, dev; email), bob (no groups, no email), carol (disabled).
pub fn users_toml() -> String {
    format!(
        "[[user]]\nname = \"alice\"\npassword = \"{}\"\ngroups = [\"admins\", \"dev\"]\n\
         email = \"alice@example.test\"\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{}\"\ngroups = []\n\n\
         [[user]]\nname = \"carol\"\npassword = \"{}\"\ngroups = [\"dev\"]\n\
         email = \"carol@example.test\"\ndisabled = true\n",
        hash_password(ALICE_PASSWORD),
        hash_password(BOB_PASSWORD),
        hash_password(CAROL_PASSWORD),
    )
}

/// The common gateway config: `[auth]`, `[auth.cookie]`, `[auth.redirect]`, `[users]` and
/// these routes (the harness appends `[tls]`):
/// - `app1.example.test/` → app1, `access = "authenticated"`;
/// - `app1.example.test/public` → app1, `access = "public"`;
/// - `app1.example.test/admin` → app1, `access = { groups = ["admins"] }`;
/// - `app2.example.test/` → app2, no `access` (the default: authenticated).
pub struct AuthConfig {
    algorithm: &'static str,
    audience: Vec<String>,
    max_failures: u32,
    auth_lines: Vec<String>,
    server_lines: Vec<String>,
    routes: String,
    users: String,
}

/// [`AuthConfig`] for the two upstream URLs.
pub fn auth_config(app1: &str, app2: &str) -> AuthConfig {
    AuthConfig {
        algorithm: "HS256",
        audience: vec![AUDIENCE.to_owned()],
        // High, so that the few failed logins of ordinary tests never lock anything out;
        // the throttling tests lower it.
        max_failures: 100,
        auth_lines: Vec::new(),
        server_lines: Vec::new(),
        routes: format!(
            "[[route]]\nhost = \"app1.example.test\"\nupstream = \"{app1}\"\naccess = \"authenticated\"\n\n\
             [[route]]\nhost = \"app1.example.test\"\npath = \"/public\"\nupstream = \"{app1}\"\naccess = \"public\"\n\n\
             [[route]]\nhost = \"app1.example.test\"\npath = \"/admin\"\nupstream = \"{app1}\"\naccess = {{ groups = [\"admins\"] }}\n\n\
             [[route]]\nhost = \"app2.example.test\"\nupstream = \"{app2}\"\n"
        ),
        users: users_toml(),
    }
}

impl AuthConfig {
    /// Adds one `key = value` line to `[auth]`.
    pub fn auth(mut self, line: &str) -> AuthConfig {
        self.auth_lines.push(line.to_owned());
        self
    }

    /// Adds one `key = value` line to `[server]`.
    pub fn server(mut self, line: &str) -> AuthConfig {
        self.server_lines.push(line.to_owned());
        self
    }

    /// Replaces `auth.audience` (`[]`: no audience configured).
    pub fn audience(mut self, audience: &[&str]) -> AuthConfig {
        self.audience = audience.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Sets `users.max_failures`.
    pub fn max_failures(mut self, n: u32) -> AuthConfig {
        self.max_failures = n;
        self
    }

    /// RS256 with `tests/fixtures/keys/rsa-private.pem` instead of the HS256 secret.
    pub fn rs256(mut self) -> AuthConfig {
        self.algorithm = "RS256";
        self
    }

    /// Replaces the routes.
    pub fn routes(mut self, routes: &str) -> AuthConfig {
        self.routes = routes.to_owned();
        self
    }

    /// The config text (without `[tls]`, which the harness appends).
    pub fn text(&self) -> String {
        let mut text = String::new();
        if !self.server_lines.is_empty() {
            text.push_str("[server]\n");
            for line in &self.server_lines {
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
        }
        let audience: Vec<String> = self.audience.iter().map(|a| format!("\"{a}\"")).collect();
        text.push_str(&format!(
            "[auth]\nissuer = \"{ISSUER}\"\naudience = [{}]\nalgorithm = \"{}\"\n",
            audience.join(", "),
            self.algorithm
        ));
        if self.algorithm.starts_with("HS") {
            text.push_str("secret_file = \"jwt.secret\"\n");
        } else {
            text.push_str("private_key = \"jwt.pem\"\n");
        }
        text.push_str("token_ttl = \"2h\"\nrenew_before = \"30m\"\nleeway = \"30s\"\n");
        for line in &self.auth_lines {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!(
            "\n[auth.cookie]\nname = \"{COOKIE}\"\ndomains = [\"example.test\"]\n\n\
             [auth.redirect]\nallowed_domains = [\"example.test\"]\n\n\
             [users]\nfile = \"users.toml\"\nmax_failures = {}\nfailure_window = \"5m\"\nlockout = \"5m\"\n\n",
            self.max_failures
        ));
        text.push_str(&self.routes);
        text
    }

    /// The files the config refers to, relative to its folder.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut files = vec![("users.toml", self.users.clone().into_bytes())];
        if self.algorithm.starts_with("HS") {
            files.push(("jwt.secret", format!("{SECRET}\n").into_bytes()));
        } else {
            files.push(("jwt.pem", RSA_PRIVATE_PEM.to_vec()));
        }
        files
    }

    /// Starts a gateway with this config.
    pub async fn start(&self) -> TestGateway {
        let files = self.files();
        let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
        start_with(&self.text(), &[], &borrowed).await
    }
}

/// A gateway with the common config in front of two upstreams.
pub struct Env {
    pub gateway: TestGateway,
    pub client: TestClient,
    pub app1: Upstream,
    pub app2: Upstream,
}

/// [`Env`] with the common config.
pub async fn env() -> Env {
    env_with(|config| config).await
}

/// [`Env`] with the common config changed by `change`.
pub async fn env_with(change: impl FnOnce(AuthConfig) -> AuthConfig) -> Env {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let config = change(auth_config(&app1.url(), &app2.url()));
    let gateway = config.start().await;
    let client = gateway.client();
    Env {
        gateway,
        client,
        app1,
        app2,
    }
}

impl Env {
    /// Sends `request` over HTTP/1.1.
    pub async fn send(&self, request: Req) -> TestResponse {
        self.client.send(request.build(), Protocol::Http1).await
    }

    /// Sends `request` over HTTP/2 (`:authority` = its host and the gateway's port).
    pub async fn send_h2(&self, request: Req) -> TestResponse {
        self.client
            .send(request.build_h2(self.gateway.addr.port()), Protocol::Http2)
            .await
    }

    /// How many requests both upstreams have received.
    pub fn upstream_count(&self) -> usize {
        self.app1.received().len() + self.app2.received().len()
    }

    /// JSON login on `host`, without Origin (a non-browser client).
    pub async fn login_json(&self, host: &str, user: &str, password: &str) -> TestResponse {
        self.send(json_login(host, user, password)).await
    }

    /// JSON login on app1 that must succeed; returns (access_token, cookie token).
    pub async fn login(&self, user: &str, password: &str) -> (String, String) {
        let response = self.login_json("app1.example.test", user, password).await;
        assert_eq!(response.status, 200, "login failed: {}", response.text());
        let token = response.json()["access_token"]
            .as_str()
            .expect("access_token is a string")
            .to_owned();
        let cookie = gateway_set_cookie(&response.headers).value;
        (token, cookie)
    }

    /// Form login on `host` with `Origin: https://{host}`.
    pub async fn login_form(
        &self,
        host: &str,
        user: &str,
        password: &str,
        rd: Option<&str>,
    ) -> TestResponse {
        let mut fields = vec![("username", user), ("password", password)];
        if let Some(rd) = rd {
            fields.push(("rd", rd));
        }
        self.send(
            Req::post(host, "/.auth/login")
                .origin(&format!("https://{host}"))
                .accept("text/html")
                .form(&fields),
        )
        .await
    }
}

/// Concurrent requests and metrics, for the throttling tests.
impl Env {
    /// The value of one series of the gateway's metrics (`name{labels}`), 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        self.gateway
            .gateway
            .metrics()
            .encode()
            .lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0.0)
    }

    /// Sends every request at once, multiplexed over `connections` HTTP/2 connections;
    /// returns the responses in the order of `requests`.
    pub async fn send_all_h2(&self, requests: Vec<Req>, connections: usize) -> Vec<TestResponse> {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let mut senders = Vec::new();
        for _ in 0..connections.max(1) {
            let tls = self
                .client
                .connect("app1.example.test", Protocol::Http2)
                .await;
            let (sender, connection) = super::within(hyper::client::conn::http2::handshake(
                TokioExecutor::new(),
                TokioIo::new(tls),
            ))
            .await
            .expect("http2 handshake");
            tokio::spawn(connection);
            senders.push(sender);
        }
        let port = self.gateway.addr.port();
        let tasks: Vec<_> = requests
            .into_iter()
            .enumerate()
            .map(|(i, request)| {
                let mut sender = senders[i % senders.len()].clone();
                let request = request.build_h2(port);
                tokio::spawn(async move {
                    let response = sender.send_request(request).await.expect("response");
                    super::client::read(response).await
                })
            })
            .collect();
        let mut responses = Vec::new();
        for task in tasks {
            responses.push(super::within(task).await.expect("request task"));
        }
        responses
    }
}

/// A JSON login request without Origin or Referer.
pub fn json_login(host: &str, user: &str, password: &str) -> Req {
    Req::post(host, "/.auth/login").json(&json!({ "username": user, "password": password }))
}

/// A request under construction. `Accept: application/json` unless replaced: an API
/// client, never mistaken for a browser navigation.
#[derive(Debug, Clone)]
pub struct Req {
    method: http::Method,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Req {
    pub fn new(method: http::Method, host: &str, path: &str) -> Req {
        Req {
            method,
            host: host.to_owned(),
            path: path.to_owned(),
            headers: vec![("accept".to_owned(), "application/json".to_owned())],
            body: Bytes::new(),
        }
    }

    pub fn get(host: &str, path: &str) -> Req {
        Req::new(http::Method::GET, host, path)
    }

    pub fn post(host: &str, path: &str) -> Req {
        Req::new(http::Method::POST, host, path)
    }

    /// Appends a header (a second one of the same name is a second header line).
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes every header named `name`.
    pub fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces `Accept` (`""` removes it).
    pub fn accept(self, value: &str) -> Req {
        let req = self.without("accept");
        if value.is_empty() {
            req
        } else {
            req.header("accept", value)
        }
    }

    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// `Cookie: gateway_token=<token>`.
    pub fn cookie(self, token: &str) -> Req {
        self.header("cookie", &format!("{COOKIE}={token}"))
    }

    pub fn origin(self, origin: &str) -> Req {
        self.header("origin", origin)
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> Req {
        self.body = body.into();
        self.header("content-type", content_type)
    }

    pub fn json(self, value: &Value) -> Req {
        self.body("application/json", value.to_string())
    }

    pub fn form(self, fields: &[(&str, &str)]) -> Req {
        self.body("application/x-www-form-urlencoded", form_encode(fields))
    }

    /// An HTTP/1.1 request: origin-form target and a `Host` header.
    pub fn build(self) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method)
            .uri(self.path.as_str())
            .header("host", self.host.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder.body(Full::new(self.body)).expect("request")
    }

    /// An HTTP/2 request: absolute URI, no `Host` header.
    pub fn build_h2(self, port: u16) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method)
            .uri(format!("https://{}:{port}{}", self.host, self.path));
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder.body(Full::new(self.body)).expect("request")
    }
}

/// `application/x-www-form-urlencoded` for `fields`.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes every byte but ALPHA DIGIT `-._~`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` (and `+` as a space, as in a query string).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        match bytes[i] {
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
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded value of `key` in the query of `url` (a path or absolute URL).
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// One parsed `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Attributes in order: lower-cased name, value (`None` for flags).
    pub attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';');
        let (name, value) = parts
            .next()
            .and_then(|nv| nv.split_once('='))
            .unwrap_or_else(|| panic!("Set-Cookie without name=value: {header}"));
        let attributes = parts
            .map(|attr| {
                let attr = attr.trim();
                match attr.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
                    None => (attr.to_ascii_lowercase(), None),
                }
            })
            .collect();
        SetCookie {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
        }
    }

    /// The value of attribute `name` (case-insensitive); `Some(None)` for a flag.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        let name = name.to_ascii_lowercase();
        self.attributes
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_deref())
    }

    pub fn has_flag(&self, name: &str) -> bool {
        matches!(self.attribute(name), Some(None))
    }

    pub fn value_of(&self, name: &str) -> Option<&str> {
        self.attribute(name).flatten()
    }
}

/// Every `Set-Cookie` of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<SetCookie> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| SetCookie::parse(v.to_str().expect("ascii Set-Cookie")))
        .collect()
}

/// The gateway's `Set-Cookie`, which must be present exactly once.
pub fn gateway_set_cookie(headers: &HeaderMap) -> SetCookie {
    let ours: Vec<SetCookie> = set_cookies(headers)
        .into_iter()
        .filter(|c| c.name == COOKIE)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "expected one {COOKIE} Set-Cookie: {headers:?}"
    );
    ours.into_iter().next().expect("one cookie")
}

/// Whether the response sets the gateway's cookie at all.
pub fn sets_gateway_cookie(headers: &HeaderMap) -> bool {
    set_cookies(headers).iter().any(|c| c.name == COOKIE)
}

/// Asserts the attributes every gateway cookie must carry on a host under example.test.
pub fn assert_session_cookie_attributes(cookie: &SetCookie) {
    assert_eq!(
        cookie.value_of("domain"),
        Some("example.test"),
        "{cookie:?}"
    );
    assert_eq!(cookie.value_of("path"), Some("/"), "{cookie:?}");
    assert!(cookie.has_flag("httponly"), "HttpOnly: {cookie:?}");
    assert!(cookie.has_flag("secure"), "Secure: {cookie:?}");
    assert_eq!(
        cookie.value_of("samesite").map(str::to_ascii_lowercase),
        Some("lax".to_owned()),
        "{cookie:?}"
    );
}

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
    assert_eq!(response.status, 401, "{what}: {}", response.text());
    assert_eq!(json_of(response, what)["error"], "unauthorized", "{what}");
    assert_eq!(
        response
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(CHALLENGE),
        "{what}"
    );
}

/// Asserts a 401 `invalid_token` with the RFC 6750 `error="invalid_token"` challenge.
pub fn assert_invalid_token(response: &TestResponse, what: &str) {
    assert_eq!(response.status, 401, "{what}: {}", response.text());
    assert_eq!(json_of(response, what)["error"], "invalid_token", "{what}");
    assert_eq!(
        response
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(INVALID_TOKEN_CHALLENGE),
        "{what}"
    );
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

/// Runs `/usr/bin/python3 -c script args…` and returns its stdout, trimmed. Fails loudly
/// when python3 or the module is missing: the interop tests are not optional.
pub fn python3(script: &str, args: &[&str]) -> String {
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("/usr/bin/python3 is required for the interop tests (apt-get install python3-jwt): {e}")
        });
    assert!(
        output.status.success(),
        "python3 failed (is python3-jwt installed? apt-get install python3-jwt): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 output")
        .trim()
        .to_owned()
}
