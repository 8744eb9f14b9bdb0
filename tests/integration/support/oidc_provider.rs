//! A real OpenID provider: panva's `oidc-provider` (npm, pinned in
//! `tests/oidc-provider/package-lock.json`; `scripts/test.sh` runs `npm ci` there) run by
//! Node.js from `tests/oidc-provider/server.js`, over TLS with a certificate of a test CA
//! made here, on a loopback port picked here, killed when the guard drops — also when the
//! test fails.
//!
//! The provider's issuer is `https://127.0.0.1:<port>`. It knows three clients:
//! - [`GATEWAY_CLIENT_ID`] with a random secret, the redirect and post-logout redirect URIs
//!   given at start (changeable with [`OidcProvider::set_gateway_client`]), for the
//!   gateway's login flow;
//! - [`API_CLIENT_ID`], another relying party, whose ID tokens ([`OidcProvider::id_token`])
//!   carry another `aud`;
//! - [`MACHINE_CLIENT_ID`], a client-credentials client whose JWT access tokens
//!   ([`OidcProvider::machine_token`]) have `aud` [`MACHINE_RESOURCE`], `sub` `ci` and
//!   `groups` `["deployers"]`.
//!
//! Its users (login name = `sub` = `preferred_username`; any password is accepted):
//!
//! | user  | email                | email_verified | groups            |
//! |-------|----------------------|----------------|-------------------|
//! | alice | alice@example.com    | true           | staff, admins     |
//! | bob   | bob@example.com      | true           | contractors       |
//! | carol | carol@example.com    | false          | staff             |
//! | dave  | dave@elsewhere.test  | true           | staff             |
//! | erin  | erin@example.com     | true           | (no groups claim) |
//!
//! `groups` comes with the `openid` scope, `email`/`email_verified` with `email`,
//! `name`/`preferred_username` with `profile`; all are in the ID token unless the provider
//! is started with [`ProviderOptions::id_token_claims`] off: then the `email` and `profile`
//! claims are only at the userinfo endpoint (`sub` and `groups` stay in the ID token).
//!
//! Signing keys (an RS256 and an ES256 key) survive [`OidcProvider::stop`] and
//! [`OidcProvider::run`]; [`OidcProvider::rotate_keys`] replaces them with new kids.
//! [`OidcProvider::stats`] counts requests per endpoint (JWKS fetches, for rate-limit tests).
//! A [`ProviderBrowser`] drives the provider's pages over HTTP with its own cookie jar.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::certs::TestCa;
use super::client::{Protocol, TestClient, TestResponse};
use super::cookies::SetCookie;
use super::process::{KillOnDrop, free_addrs, tool, wait_until_accepting};
use super::requests::{Req, percent_encode, query_param};

/// The gateway's client at the provider.
pub const GATEWAY_CLIENT_ID: &str = "gateway";
/// Another relying party: its ID tokens have `aud` = `api-client`.
pub const API_CLIENT_ID: &str = "api-client";
/// Where the provider sends [`API_CLIENT_ID`]'s codes (never followed).
pub const API_CLIENT_REDIRECT_URI: &str = "https://api-client.example.test/callback";
/// A client-credentials client (a CI job, a service).
pub const MACHINE_CLIENT_ID: &str = "ci";
/// The resource (and so `aud`) of [`MACHINE_CLIENT_ID`]'s access tokens.
pub const MACHINE_RESOURCE: &str = "https://api.example.test";

/// The PKCE pair of RFC 7636 Appendix B, for [`OidcProvider::id_token`]'s own flow.
const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// How to start a provider.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// The gateway client's `redirect_uris`.
    pub redirect_uris: Vec<String>,
    /// The gateway client's `post_logout_redirect_uris`.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the `email` and `profile` claims are in the ID token (default); when false
    /// they are only at the userinfo endpoint.
    pub id_token_claims: bool,
}

impl ProviderOptions {
    pub fn new(redirect_uris: &[&str], post_logout_redirect_uris: &[&str]) -> ProviderOptions {
        ProviderOptions {
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            post_logout_redirect_uris: post_logout_redirect_uris
                .iter()
                .map(|u| u.to_string())
                .collect(),
            id_token_claims: true,
        }
    }
}

/// Requests the provider has served, by endpoint, since it (this process) started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct ProviderStats {
    pub discovery: u64,
    pub jwks: u64,
    pub token: u64,
    pub userinfo: u64,
    pub authorization: u64,
    pub end_session: u64,
}

/// A running (or stopped) `oidc-provider`.
pub struct OidcProvider {
    child: Option<KillOnDrop>,
    /// Where it listens (also while stopped: [`OidcProvider::run`] reuses it).
    pub addr: SocketAddr,
    /// The CA that signed its certificate.
    pub ca: TestCa,
    client_secret: String,
    api_client_secret: String,
    machine_client_secret: String,
    options: ProviderOptions,
    dir: tempfile::TempDir,
}

impl OidcProvider {
    /// Starts a provider whose gateway client has these redirect URIs.
    pub async fn start(redirect_uris: &[&str], post_logout_redirect_uris: &[&str]) -> OidcProvider {
        OidcProvider::start_with(ProviderOptions::new(
            redirect_uris,
            post_logout_redirect_uris,
        ))
        .await
    }

    /// Starts a provider with `options`. A port lost to another process between picking
    /// and binding is retried on a fresh one.
    pub async fn start_with(options: ProviderOptions) -> OidcProvider {
        let mut last_log = String::new();
        for _ in 0..5 {
            let mut provider = OidcProvider::stopped(options.clone());
            if provider.spawn().await {
                return provider;
            }
            last_log = provider.log();
        }
        panic!("oidc-provider did not start; its log:\n{last_log}");
    }

    /// A provider that is not running yet: its port is picked, its certificates and config
    /// written, so a gateway can be configured with its issuer while it is down. Start it
    /// with [`OidcProvider::run`].
    pub fn stopped(options: ProviderOptions) -> OidcProvider {
        let [addr] = free_addrs::<1>();
        let ca = TestCa::new();
        let dir = tempfile::tempdir().expect("tempdir");
        ca.leaf(dir.path(), "provider", &["127.0.0.1", "localhost"]);
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).expect("write ca");
        let provider = OidcProvider {
            child: None,
            addr,
            ca,
            client_secret: random_secret(),
            api_client_secret: random_secret(),
            machine_client_secret: random_secret(),
            options,
            dir,
        };
        provider.write_config();
        provider
    }

    /// Starts the provider (again) on its port, with the same keys and clients; retries
    /// while the old socket lingers.
    pub async fn run(&mut self) {
        assert!(self.child.is_none(), "the provider is already running");
        let deadline = tokio::time::Instant::now() + super::STEP_TIMEOUT;
        while !self.spawn().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "oidc-provider did not start on {}; its log:\n{}",
                self.addr,
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Kills the provider (its sessions and codes are gone; keys and clients stay).
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// `https://127.0.0.1:<port>` (no trailing slash), the `iss` of its tokens.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The private key of the provider's TLS certificate (a browser can be told to trust it).
    pub fn tls_key_path(&self) -> PathBuf {
        self.dir.path().join("provider.key")
    }

    /// A PEM file of the CA that signed the provider's certificate (the gateway's `ca_file`).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The gateway client's id ([`GATEWAY_CLIENT_ID`]).
    pub fn client_id(&self) -> &'static str {
        GATEWAY_CLIENT_ID
    }

    /// The gateway client's secret.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Replaces the gateway client's redirect URIs (e.g. once the gateway's port is known);
    /// applies at once when running, and on later starts.
    pub async fn set_gateway_client(
        &mut self,
        redirect_uris: &[&str],
        post_logout_redirect_uris: &[&str],
    ) {
        let id_token_claims = self.options.id_token_claims;
        self.options = ProviderOptions {
            id_token_claims,
            ..ProviderOptions::new(redirect_uris, post_logout_redirect_uris)
        };
        self.write_config();
        if self.child.is_some() {
            self.admin_post("/__admin/clients", &self.clients()).await;
        }
    }

    /// Replaces the signing keys with new ones (new kids) and returns their kids (RS256
    /// first, then ES256); the old keys are no longer published.
    pub async fn rotate_keys(&self) -> Vec<String> {
        let reply = self
            .admin_post("/__admin/rotate", &json!({ "keep_old": false }))
            .await;
        serde_json::from_value(reply["kids"].clone()).expect("kids")
    }

    /// The provider's published JWKS (counts as a JWKS request in [`OidcProvider::stats`]).
    pub async fn jwks(&self) -> Value {
        self.get_json("/jwks").await
    }

    /// The provider's discovery document (counts in [`OidcProvider::stats`]).
    pub async fn discovery(&self) -> Value {
        self.get_json("/.well-known/openid-configuration").await
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http()
            .send(Req::get(&self.host(), path).build(), Protocol::Http1)
            .await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response.json()
    }

    /// Request counts per endpoint since this process started.
    pub async fn stats(&self) -> ProviderStats {
        serde_json::from_value(self.get_json("/__admin/stats").await).expect("stats JSON")
    }

    /// A JWT the provider signs as described by `mint` (its own keys unless told otherwise).
    pub async fn mint(&self, mint: &Mint) -> String {
        let reply = self.admin_post("/__admin/mint", &mint.0).await;
        reply["token"].as_str().expect("token").to_owned()
    }

    /// A real ID token for `user` issued to [`API_CLIENT_ID`] (`aud` = `api-client`) through
    /// the authorization code flow.
    pub async fn id_token(&self, user: &str) -> String {
        let authorization = format!(
            "{}/auth?client_id={API_CLIENT_ID}&response_type=code&scope=openid%20email%20profile\
             &redirect_uri={}&state=s&nonce=n&code_challenge={PKCE_CHALLENGE}\
             &code_challenge_method=S256",
            self.issuer(),
            percent_encode(API_CLIENT_REDIRECT_URI)
        );
        let callback = self.browser().login(&authorization, user).await;
        let code = query_param(&callback, "code")
            .unwrap_or_else(|| panic!("no code in the redirect {callback}"));
        let tokens = self
            .token_request(
                API_CLIENT_ID,
                &self.api_client_secret,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", API_CLIENT_REDIRECT_URI),
                    ("code_verifier", PKCE_VERIFIER),
                ],
            )
            .await;
        tokens["id_token"].as_str().expect("id_token").to_owned()
    }

    /// A real JWT access token of [`MACHINE_CLIENT_ID`] for [`MACHINE_RESOURCE`] (client
    /// credentials grant): `sub` `ci`, `groups` `["deployers"]`, `typ` `at+jwt`.
    pub async fn machine_token(&self) -> String {
        let tokens = self
            .token_request(
                MACHINE_CLIENT_ID,
                &self.machine_client_secret,
                &[
                    ("grant_type", "client_credentials"),
                    ("resource", MACHINE_RESOURCE),
                    ("scope", "api"),
                ],
            )
            .await;
        tokens["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    async fn token_request(&self, client: &str, secret: &str, form: &[(&str, &str)]) -> Value {
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{client}:{secret}"),
        );
        let response = self
            .http()
            .send(
                Req::post(&self.host(), "/token")
                    .header("authorization", &format!("Basic {basic}"))
                    .form(form)
                    .build(),
                Protocol::Http1,
            )
            .await;
        assert_eq!(response.status, 200, "token endpoint: {}", response.text());
        response.json()
    }

    /// A browser with an empty cookie jar, for the provider's pages.
    pub fn browser(&self) -> ProviderBrowser {
        ProviderBrowser {
            http: self.http(),
            issuer: self.issuer(),
            jar: Vec::new(),
        }
    }

    /// Logs `user` in at the provider from the authorization request `authorization_url`
    /// (the gateway's redirect `Location`) in a new browser; returns the URL the provider
    /// redirects back to (the gateway's callback, with `code`, `state` and `iss`).
    pub async fn login(&self, authorization_url: &str, user: &str) -> String {
        self.browser().login(authorization_url, user).await
    }

    /// What the provider wrote so far (for failure messages).
    pub fn log(&self) -> String {
        ["provider.log", "provider.err"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .collect()
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn http(&self) -> TestClient {
        TestClient::new(self.addr, &self.ca.cert)
    }

    async fn admin_post(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http()
            .send(
                Req::post(&self.host(), path).json(body).build(),
                Protocol::Http1,
            )
            .await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response.json()
    }

    fn clients(&self) -> Value {
        json!([
            {
                "client_id": GATEWAY_CLIENT_ID,
                "client_secret": self.client_secret,
                "redirect_uris": self.options.redirect_uris,
                "post_logout_redirect_uris": self.options.post_logout_redirect_uris,
            },
            {
                "client_id": API_CLIENT_ID,
                "client_secret": self.api_client_secret,
                "redirect_uris": [API_CLIENT_REDIRECT_URI],
            },
            {
                "client_id": MACHINE_CLIENT_ID,
                "client_secret": self.machine_client_secret,
                "grant_types": ["client_credentials"],
                "response_types": [],
                "redirect_uris": [],
                "groups": ["deployers"],
            },
        ])
    }

    fn write_config(&self) {
        let dir = self.dir.path();
        let config = json!({
            "port": self.addr.port(),
            "cert": dir.join("provider.crt"),
            "key": dir.join("provider.key"),
            "state_dir": dir,
            "id_token_claims": self.options.id_token_claims,
            "clients": self.clients(),
        });
        std::fs::write(dir.join("config.json"), config.to_string()).expect("write config");
    }

    async fn spawn(&mut self) -> bool {
        let app = provider_app();
        assert!(
            app.join("node_modules/oidc-provider").is_dir(),
            "{} has no node_modules: scripts/test.sh installs them (npm ci)",
            app.display()
        );
        let log = self.dir.path().join("provider.log");
        let err = self.dir.path().join("provider.err");
        let mut child = KillOnDrop::new(
            Command::new(tool("node"))
                .arg(app.join("server.js"))
                .arg(self.dir.path().join("config.json"))
                .current_dir(&app)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).expect("log"))
                .stderr(std::fs::File::create(&err).expect("log"))
                .spawn()
                .expect("run node"),
        );
        let up = wait_until_accepting(&mut child, self.addr, "oidc-provider", &err).await;
        if up {
            self.child = Some(child);
        }
        up
    }
}

/// `tests/oidc-provider/`.
fn provider_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

fn random_secret() -> String {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`OidcProvider::mint`] signs: claims over the defaults `iss` (the provider), `iat`
/// (now) and `exp` (now + ttl), with the provider's current RS256 key unless told otherwise.
#[derive(Debug, Clone)]
pub struct Mint(Value);

impl Mint {
    /// A token for audience `aud` about subject `sub`, valid for 5 minutes.
    pub fn new(aud: &str, sub: &str) -> Mint {
        Mint(json!({ "claims": { "aud": aud, "sub": sub } }))
    }

    /// `exp` = now + `seconds` (negative: already expired).
    pub fn ttl(mut self, seconds: i64) -> Mint {
        self.0["ttl"] = seconds.into();
        self
    }

    /// `RS256` (default) or `ES256`, with the provider's current key of that type.
    pub fn alg(mut self, alg: &str) -> Mint {
        self.0["alg"] = alg.into();
        self
    }

    /// Signs with a fresh key the provider never publishes (its kid is new too).
    pub fn unpublished_key(mut self) -> Mint {
        self.0["key"] = "unpublished".into();
        self
    }
}

/// One cookie the provider set: sent back on requests under its path.
#[derive(Debug, Clone)]
struct JarCookie {
    name: String,
    value: String,
    path: String,
}

/// A browser on the provider's pages: follows its redirects, keeps its cookies (so a
/// second login in the same browser is single sign-on at the provider), fills its forms.
pub struct ProviderBrowser {
    http: TestClient,
    issuer: String,
    jar: Vec<JarCookie>,
}

/// Where a walk through the provider's pages stopped.
enum Stop {
    /// A redirect away from the provider (to the gateway): its absolute URL.
    Left(String),
    /// A page of the provider: its URL and response.
    Page(String, TestResponse),
}

impl ProviderBrowser {
    /// Follows `authorization_url` to the login form, signs in as `user` (skipped when this
    /// browser already has a session), and returns the URL the provider redirects back to.
    pub async fn login(&mut self, authorization_url: &str, user: &str) -> String {
        match self.walk(Req::get("", authorization_url)).await {
            Stop::Left(url) => url,
            Stop::Page(url, page) => {
                let action = form_action(&page.text(), &url);
                let form = [("prompt", "login"), ("login", user), ("password", "any")];
                match self.walk(Req::post("", &action).form(&form)).await {
                    Stop::Left(url) => url,
                    Stop::Page(url, page) => {
                        panic!(
                            "the provider stayed at {url} after the login: {}",
                            page.text()
                        )
                    }
                }
            }
        }
    }

    /// Follows `authorization_url` to the login form and cancels it; returns the URL the
    /// provider redirects back to (with `error=access_denied`).
    pub async fn deny(&mut self, authorization_url: &str) -> String {
        match self.walk(Req::get("", authorization_url)).await {
            Stop::Left(url) => panic!("the provider did not show a login form but sent to {url}"),
            Stop::Page(url, page) => {
                let abort = format!("{}/abort", form_action(&page.text(), &url));
                self.left(Req::get("", &abort)).await
            }
        }
    }

    /// Opens the end-session URL (the gateway's logout redirect), confirms the sign-out,
    /// and returns where the provider sends the browser: the `post_logout_redirect_uri`
    /// (with `state`), or the provider's own success page when there is none.
    pub async fn logout(&mut self, end_session_url: &str) -> String {
        match self.walk(Req::get("", end_session_url)).await {
            Stop::Left(url) => url,
            Stop::Page(url, page) => {
                let html = page.text();
                let action = form_action(&html, &url);
                let xsrf = attribute_after(&html, "name=\"xsrf\"", "value")
                    .unwrap_or_else(|| panic!("no xsrf on the logout page: {html}"));
                match self
                    .walk(Req::post("", &action).form(&[("xsrf", &xsrf), ("logout", "yes")]))
                    .await
                {
                    Stop::Left(url) | Stop::Page(url, _) => url,
                }
            }
        }
    }

    /// Walks from `req` and expects to leave the provider; the URL left to.
    async fn left(&mut self, req: Req) -> String {
        match self.walk(req).await {
            Stop::Left(url) => url,
            Stop::Page(url, page) => panic!("the provider stayed at {url}: {}", page.text()),
        }
    }

    /// Sends `req` (its path an absolute provider URL) and follows redirects while they stay
    /// on the provider.
    async fn walk(&mut self, first: Req) -> Stop {
        let mut req = first;
        let mut url = String::new();
        for _ in 0..10 {
            let (method_url, response) = self.send(req).await;
            url = method_url;
            let location = response
                .headers
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(|l| absolute(&self.issuer, l));
            match location {
                Some(next) if response.status.is_redirection() => {
                    if !next.starts_with(&format!("{}/", self.issuer)) {
                        return Stop::Left(next);
                    }
                    req = Req::get("", &next);
                }
                _ => {
                    assert!(
                        response.status.is_success(),
                        "the provider answered {} at {url}: {}",
                        response.status,
                        response.text()
                    );
                    return Stop::Page(url, response);
                }
            }
        }
        panic!("more than 10 redirects at the provider, last {url}");
    }

    /// Sends `req`, whose path is an absolute URL on the provider, with the jar's cookies;
    /// stores the cookies it sets. Returns the URL and the response.
    async fn send(&mut self, req: Req) -> (String, TestResponse) {
        let built = req.accept("text/html").build();
        let url = built.uri().to_string();
        let path = url
            .strip_prefix(&self.issuer)
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or_else(|| panic!("{url} is not on the provider {}", self.issuer))
            .to_owned();
        let path_only = path.split('?').next().unwrap_or("/").to_owned();
        let (mut parts, body) = built.into_parts();
        parts.uri = path.parse().expect("path");
        let host = self.issuer.trim_start_matches("https://").to_owned();
        parts
            .headers
            .insert("host", host.parse().expect("host header"));
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|c| path_only.starts_with(&c.path))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        if !cookies.is_empty() {
            parts
                .headers
                .insert("cookie", cookies.join("; ").parse().expect("cookie header"));
        }
        let response = self
            .http
            .send(http::Request::from_parts(parts, body), Protocol::Http1)
            .await;
        for header in response.headers.get_all("set-cookie") {
            let cookie = SetCookie::parse(header.to_str().expect("set-cookie"));
            let path = cookie.value_of("path").unwrap_or("/").to_owned();
            self.jar
                .retain(|c| !(c.name == cookie.name && c.path == path));
            let expired = cookie.value.is_empty()
                || cookie
                    .value_of("expires")
                    .is_some_and(|e| e.contains("1970"));
            if !expired {
                self.jar.push(JarCookie {
                    name: cookie.name,
                    value: cookie.value,
                    path,
                });
            }
        }
        (url, response)
    }
}

/// `location` made absolute against `issuer` when it is a path.
fn absolute(issuer: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{issuer}{location}")
    } else {
        location.to_owned()
    }
}

/// The `action` of the first form on a provider page (absolute), or `page_url` without
/// its query when the form has none.
fn form_action(html: &str, page_url: &str) -> String {
    attribute_after(html, "<form", "action")
        .unwrap_or_else(|| page_url.split('?').next().unwrap_or(page_url).to_owned())
}

/// The value of attribute `attr` in the tag that contains `marker` (first occurrence).
fn attribute_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<').unwrap_or(at);
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let needle = format!("{attr}=\"");
    let value_start = tag.find(&needle)? + needle.len();
    let value_len = tag[value_start..].find('"')?;
    Some(html_unescape(&tag[value_start..value_start + value_len]))
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}
