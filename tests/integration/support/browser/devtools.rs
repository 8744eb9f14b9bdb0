//! What the tests read from Chromium besides the page itself, and the DevTools emulation
//! they set: the viewport and color scheme, the requests the page sent (from the
//! performance log), screenshots and the cookie jar.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use serde_json::{Value, json};

use super::Browser;

/// A request as the browser sent it.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    /// A JSON object of header name to value, as the page set them.
    pub headers: Value,
}

impl SentRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_object()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

impl Browser {
    /// Runs the DevTools protocol command `cmd` (chromedriver passes it to Chromium).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.command(
            Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
        .await
    }

    /// Sets the viewport: `width`x`height` CSS pixels at `scale` device pixels each;
    /// `mobile` emulates a phone (the viewport meta tag applies, scrollbars overlay).
    pub async fn viewport(&self, width: u32, height: u32, scale: f64, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": width, "height": height,
                "deviceScaleFactor": scale, "mobile": mobile,
            }),
        )
        .await;
    }

    /// Emulates the user's `prefers-color-scheme` (`"light"` or `"dark"`).
    pub async fn color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
    }

    /// The requests the page sent since the last call, as Chromium's network stack saw
    /// them (from chromedriver's performance log): method, URL and the headers the page
    /// set (`Authorization` included).
    pub async fn sent_requests(&self) -> Vec<SentRequest> {
        let entries = self
            .command(
                Method::POST,
                "/se/log",
                Some(json!({ "type": "performance" })),
            )
            .await;
        entries
            .as_array()
            .expect("log entries")
            .iter()
            .filter_map(|entry| serde_json::from_str::<Value>(entry["message"].as_str()?).ok())
            .filter(|event| event["message"]["method"] == "Network.requestWillBeSent")
            .map(|event| {
                let request = &event["message"]["params"]["request"];
                SentRequest {
                    method: request["method"].as_str().unwrap_or("").to_owned(),
                    url: request["url"].as_str().unwrap_or("").to_owned(),
                    headers: request["headers"].clone(),
                }
            })
            .collect()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command(Method::GET, "/screenshot", None).await;
        STANDARD
            .decode(encoded.as_str().expect("base64 screenshot"))
            .expect("screenshot is base64")
    }

    /// The cookies the browser would send to the current page (HttpOnly ones included).
    pub async fn cookies(&self) -> Vec<Value> {
        let cookies = self.command(Method::GET, "/cookie", None).await;
        cookies.as_array().expect("cookie list").clone()
    }

    /// Adds `cookie` (WebDriver's cookie object: name, value, domain, path, secure,
    /// httpOnly) to the browser, as if the current page's site had set it.
    pub async fn add_cookie(&self, cookie: Value) {
        self.command(
            Method::POST,
            "/cookie",
            Some(serde_json::json!({ "cookie": cookie })),
        )
        .await;
    }
}

/// The width and height of a PNG, from its IHDR chunk.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    (number(16), number(20))
}
