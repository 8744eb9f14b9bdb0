//! Requests built for the gateway: [`Req`] (an API client's request under construction,
//! sent by [`super::env::Env`]), the JSON login request, and form and query encoding.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};

use super::client::{Protocol, TestClient, TestResponse};
use super::cookies::COOKIE;

/// A JSON login request without Origin or Referer.
pub fn json_login(host: &str, user: &str, password: &str) -> Req {
    Req::post(host, "/.auth/login").json(&json!({ "username": user, "password": password }))
}

/// A JSON login on app1 as if from `ip`, through a trusted proxy's `X-Forwarded-For`.
pub fn login_via(ip: &str, user: &str, password: &str) -> Req {
    json_login("app1.example.test", user, password).header("x-forwarded-for", ip)
}

/// Sends a JSON login for `user` on `host` through `client` over HTTP/1.1, without Origin
/// (a non-browser client).
pub async fn login_json(
    client: &TestClient,
    host: &str,
    user: &str,
    password: &str,
) -> TestResponse {
    client
        .send(json_login(host, user, password).build(), Protocol::Http1)
        .await
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
