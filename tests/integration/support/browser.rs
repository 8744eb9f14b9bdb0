//! A real browser: Debian's headless Chromium driven by chromedriver over the W3C WebDriver
//! protocol, with a small client of our own on hyper (the dozen commands the tests use; no
//! WebDriver crate and its dependency tree).
//!
//! Each [`Browser`] starts its own chromedriver on an ephemeral port (`--port=0`; the port is
//! read back from its startup line) in its own process group, and Chromium with a fresh
//! profile folder. Dropping the [`Browser`] ends the session and kills that process group,
//! so no browser outlives its test, even one that failed. A missing `chromium` or
//! `chromedriver` fails the test: `scripts/test.sh` installs them.
//!
//! The browser sees the real names: `--host-resolver-rules` maps `*.example.test` and
//! `evil.test` to 127.0.0.1 (the URL keeps the gateway's ephemeral port), and Chromium
//! accepts exactly the test gateway's certificates (`--ignore-certificate-errors-spki-list`
//! with their public-key hashes; a certificate with any other key is still refused), so
//! `https://app1.example.test:PORT` and `https://app2.example.test:PORT` are two sites under
//! one parent domain, with secure cookies and real `Origin` headers.

mod devtools;
mod driver;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rcgen::{KeyPair, PublicKeyData};
use serde_json::{Value, json};

use super::gateway::TestGateway;
use super::within;
pub use devtools::{SentRequest, png_size};
use driver::Driver;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Test host names, all resolved to loopback by the browser.
pub const HOST_RULES: &str = "MAP *.example.test 127.0.0.1, MAP evil.test 127.0.0.1";

/// How long a wait for something the page should do (a redirect, a rendered view) may
/// take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The W3C name of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error answer: `error` is the W3C code (`no such element`, …).
#[derive(Debug)]
pub struct WebDriverError {
    status: u16,
    error: String,
    message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.error, self.message)
    }
}

/// One Chromium session.
pub struct Browser {
    session: String,
    http: Client<HttpConnector, Full<Bytes>>,
    /// Set once the session was deleted by [`Browser::close`].
    closed: bool,
    driver: Driver,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
}

/// The base64 SHA-256 of a certificate's SubjectPublicKeyInfo, as
/// `--ignore-certificate-errors-spki-list` wants it.
fn spki_hash(key: &std::path::Path) -> String {
    let pem = std::fs::read_to_string(key).expect("read test key");
    let key = KeyPair::from_pem(&pem).expect("parse test key");
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key.subject_public_key_info());
    STANDARD.encode(digest.as_ref())
}

impl Browser {
    /// Starts Chromium (headless, fresh profile, offline) that trusts `gateway`'s test
    /// certificates, with a 1280x800 viewport.
    pub async fn launch(gateway: &TestGateway) -> Browser {
        Browser::launch_trusting(gateway, &[]).await
    }

    /// [`Browser::launch`], also accepting the certificates whose private keys are the PEM
    /// files `extra_keys` (e.g. a test identity provider's).
    pub async fn launch_trusting(
        gateway: &TestGateway,
        extra_keys: &[std::path::PathBuf],
    ) -> Browser {
        let driver = Driver::start();
        let spki: Vec<String> = std::iter::once(&gateway.default_cert)
            .chain(gateway.sni_certs.iter().map(|(_, leaf)| leaf))
            .map(|leaf| spki_hash(&leaf.key))
            .chain(extra_keys.iter().map(|key| spki_hash(key)))
            .collect();
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--password-store=basic".to_owned(),
            "--window-size=1280,800".to_owned(),
            format!("--user-data-dir={}", driver.profile.path().display()),
            format!("--host-resolver-rules={HOST_RULES}"),
            format!("--ignore-certificate-errors-spki-list={}", spki.join(",")),
        ];
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": { "implicit": 0, "pageLoad": 15_000, "script": 10_000 },
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                // DevTools network events, for [`Browser::sent_requests`].
                "goog:loggingPrefs": { "performance": "ALL" },
            }}
        });
        let http = Client::builder(TokioExecutor::new()).build_http();
        let mut browser = Browser {
            session: String::new(),
            http,
            closed: true,
            driver,
        };
        let created = browser
            .request(Method::POST, "/session".to_owned(), Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("start a Chromium session: {e}"));
        browser.session = created["sessionId"].as_str().expect("sessionId").to_owned();
        browser.closed = false;
        browser.viewport(1280, 800, 1.0, false).await;
        browser
    }

    /// Ends the session (Chromium exits); chromedriver is killed when `self` drops.
    pub async fn close(mut self) {
        let path = format!("/session/{}", self.session);
        let _ = self.request(Method::DELETE, path, None).await;
        self.closed = true;
    }

    async fn request(
        &self,
        method: Method,
        path: String,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let uri = format!("http://{}{path}", self.driver.addr);
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(body))
            .expect("webdriver request");
        let response = within(self.http.request(request))
            .await
            .unwrap_or_else(|e| panic!("chromedriver {path}: {e}"));
        let status = response.status().as_u16();
        let bytes = within(response.into_body().collect())
            .await
            .unwrap_or_else(|e| panic!("chromedriver {path}: {e}"))
            .to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "chromedriver {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        let value = json.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            Ok(value)
        } else {
            Err(WebDriverError {
                status,
                error: value["error"].as_str().unwrap_or("").to_owned(),
                message: value["message"].as_str().unwrap_or("").to_owned(),
            })
        }
    }

    /// A command on this session (`suffix` after `/session/{id}`), which must succeed.
    async fn command(&self, method: Method, suffix: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{suffix}", self.session);
        self.request(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {suffix}: {e}"))
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The current page's URL.
    pub async fn url(&self) -> String {
        let url = self.command(Method::GET, "/url", None).await;
        url.as_str().expect("url string").to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its JSON result.
    /// A returned Promise is awaited.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The value of the JavaScript expression `expression`.
    pub async fn eval(&self, expression: &str) -> Value {
        self.script(&format!("return ({expression});"), json!([]))
            .await
    }

    /// Polls `expression` until it is truthy (a page may be mid-navigation, when the
    /// script fails: that counts as not yet), for at most [`WAIT`]; returns its value.
    pub async fn wait_for(&self, expression: &str, what: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        let script = format!("return ({expression});");
        loop {
            let result = self
                .request(
                    Method::POST,
                    format!("/session/{}/execute/sync", self.session),
                    Some(json!({ "script": script, "args": [] })),
                )
                .await;
            let last = match result {
                Ok(value) if truthy(&value) => return value,
                Ok(value) => format!("{value}"),
                Err(e) => format!("{e}"),
            };
            if Instant::now() > deadline {
                let url = self.url().await;
                let text = self.eval("document.body && document.body.innerText").await;
                panic!(
                    "timed out waiting for {what} ({expression}); last: {last}\nurl: {url}\npage: {text}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's `location.pathname` is `path` (and the document has loaded).
    pub async fn wait_for_path(&self, path: &str) {
        let expression = format!(
            "location.pathname === {} && document.readyState === 'complete'",
            json!(path)
        );
        self.wait_for(&expression, &format!("the page {path}"))
            .await;
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.try_find(css).await {
                Ok(element) => return element,
                Err(e) if Instant::now() > deadline => {
                    let url = self.url().await;
                    panic!("no element {css:?} on {url}: {e}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn try_find(&self, css: &str) -> Result<Element, WebDriverError> {
        let value = self
            .request(
                Method::POST,
                format!("/session/{}/element", self.session),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        let id = value[ELEMENT_KEY].as_str().expect("element reference");
        Ok(Element { id: id.to_owned() })
    }

    /// The text of `css` as the user sees it (`innerText`), waiting for the element.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self
            .command(Method::GET, &format!("/element/{}/text", element.id), None)
            .await;
        text.as_str().expect("text").to_owned()
    }

    /// Clears the field `css` and types `text` into it, key by key.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            Method::POST,
            &format!("/element/{}/clear", element.id),
            Some(json!({})),
        )
        .await;
        self.command(
            Method::POST,
            &format!("/element/{}/value", element.id),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks `css` the way a user does (scrolled into view, a real mouse event).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            Method::POST,
            &format!("/element/{}/click", element.id),
            Some(json!({})),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // A failed test: let chromedriver close Chromium, then the driver's Drop kills
            // whatever is left of the process group.
            self.driver.delete_session_blocking(&self.session);
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
