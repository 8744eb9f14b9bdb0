//! Rendering a [`RequestError`] for the client that asked.
//!
//! An error is JSON (`{"error":"<code>"}`) unless the request is a browser navigation
//! (`Accept` lists `text/html` before JSON, and it is not `fetch`/XHR), which gets a small
//! self-contained HTML page with the same code. Neither ever names an upstream or the
//! reason behind the error.
//!
//! A missing or invalid credential is where clients differ most (DESIGN, pipeline step 6): a
//! browser *navigation* is redirected to the login page (302 for GET/HEAD, 303 otherwise),
//! while `fetch`/XHR and API clients get 401 JSON with an RFC 6750 `WWW-Authenticate`
//! challenge, so a single-page app sees a 401 it can act on, never a login page in place of
//! its JSON.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};

use super::error::{LoginHint, RequestError};
use crate::http::{Body, escape_html, html, json_text, redirect};

/// `X-Requested-With`, set by XHR libraries.
static X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");
/// `Sec-Fetch-Mode`, set by browsers: `navigate` for page loads, `cors` etc. for `fetch`.
static SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// How the client asked, which decides the form of an error: only a browser navigation
/// gets HTML (or a redirect to the login page); `fetch`, XHR and API clients get JSON even
/// when their `Accept` lists `text/html`.
#[derive(Debug, Clone, Copy)]
pub struct ClientKind {
    /// For a browser navigation, the redirect status to the login page (302 or 303).
    pub navigation: Option<StatusCode>,
}

impl ClientKind {
    /// Classifies a request by its method and headers.
    pub fn of(method: &Method, headers: &HeaderMap) -> ClientKind {
        let fetch_mode = headers.get(&SEC_FETCH_MODE).map(HeaderValue::as_bytes);
        let navigating = prefers_html(headers)
            && !headers.contains_key(&X_REQUESTED_WITH)
            && fetch_mode.is_none_or(|mode| mode.eq_ignore_ascii_case(b"navigate"));
        let navigation = navigating.then(|| {
            if method == Method::GET || method == Method::HEAD {
                StatusCode::FOUND
            } else {
                StatusCode::SEE_OTHER
            }
        });
        ClientKind { navigation }
    }
}

/// Whether the client prefers HTML over JSON: `text/html` appears in `Accept` before any
/// JSON type. Browsers' navigations send `text/html` first; `fetch` sends `*/*`.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    for media in accept.split(',') {
        let media = media.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("text/html") {
            return true;
        }
        if media.eq_ignore_ascii_case("application/json") {
            return false;
        }
    }
    false
}

/// What `Allow` lists on a 405: the methods the gateway forwards (RFC 9110 §15.5.6).
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Renders `error` for `client`.
pub fn error_response(error: &RequestError, client: ClientKind) -> Response<Body> {
    let hint = match error {
        RequestError::Unauthenticated(hint)
        | RequestError::InvalidToken { hint, .. }
        | RequestError::InsufficientAuthentication(hint) => Some(hint),
        _ => None,
    };
    if let Some(LoginHint::Redirect(location)) = hint {
        return redirect(StatusCode::FOUND, location.clone());
    }
    if let (Some(LoginHint::Navigate(login)), Some(status)) = (hint, client.navigation)
        && let Ok(location) = HeaderValue::from_str(login)
    {
        return redirect(status, location);
    }
    let login = match hint {
        Some(LoginHint::Navigate(url)) => Some(url.as_str()),
        Some(LoginHint::Location(url)) => url.to_str().ok(),
        _ => None,
    };
    let mut response = page_or_json(error, client.navigation.is_some(), login);
    let headers = response.headers_mut();
    match error {
        RequestError::Unauthenticated(_) => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gateway\""),
            );
        }
        RequestError::InvalidToken { .. } => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gateway\", error=\"invalid_token\""),
            );
        }
        RequestError::InsufficientAuthentication(_) => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"gateway\", error=\"insufficient_user_authentication\", \
                     error_description=\"A second factor is required\", acr_values=\"otp\"",
                ),
            );
        }
        RequestError::EmptyBearer => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gateway\", error=\"invalid_request\""),
            );
        }
        RequestError::MethodNotAllowed => {
            headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        }
        RequestError::MethodNotRouted { allow } => {
            headers.insert(header::ALLOW, allow.clone());
        }
        RequestError::TooManyRequests { retry_after }
        | RequestError::LoginsBusy { retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        _ => {}
    }
    if let Some(LoginHint::Location(location)) = hint {
        headers.insert(header::LOCATION, location.clone());
    }
    response
}

/// `login`: where a browser can sign in, linked from the HTML page (forward-auth proxies
/// such as Traefik show the gateway's 401 page instead of redirecting).
fn page_or_json(error: &RequestError, html_page: bool, login: Option<&str>) -> Response<Body> {
    if html_page {
        html(error.status(), error_page(error, login))
    } else {
        json_text(
            error.status(),
            format!("{{\"error\":\"{}\"}}", error.code()),
        )
    }
}

fn error_page(error: &RequestError, login: Option<&str>) -> String {
    let status = error.status().as_u16();
    let title = error.title();
    let code = error.code();
    let sign_in = login.map_or_else(String::new, |url| {
        format!("<p><a href=\"{}\">Sign in</a></p>", escape_html(url))
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{status} {title}</title>\
<style>body{{font:16px/1.5 system-ui,sans-serif;color:#1f2328;background:#f6f8fa;margin:0;\
display:grid;place-items:center;min-height:100vh}}main{{background:#fff;border:1px solid #d0d7de;\
border-radius:8px;padding:2rem 2.5rem;max-width:28rem}}h1{{font-size:1.25rem;margin:0 0 .5rem}}\
code{{color:#57606a}}</style></head>\
<body><main><h1>{title}</h1><p>HTTP {status} · <code>{code}</code></p>{sign_in}</main></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::ACCEPT, HeaderValue::from_str(value).expect("value"));
        map
    }

    #[test]
    fn browser_navigation_prefers_html_and_fetch_does_not() {
        assert!(prefers_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json, text/html")));
        assert!(!prefers_html(&HeaderMap::new()));
    }

    fn kind(method: Method, pairs: &[(&'static str, &'static str)]) -> ClientKind {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        ClientKind::of(&method, &headers)
    }

    #[test]
    fn only_browser_navigations_are_redirected_to_login() {
        let html = ("accept", "text/html,*/*;q=0.8");
        assert_eq!(
            kind(Method::GET, &[html]).navigation,
            Some(StatusCode::FOUND)
        );
        assert_eq!(
            kind(Method::HEAD, &[html]).navigation,
            Some(StatusCode::FOUND)
        );
        assert_eq!(
            kind(Method::POST, &[html]).navigation,
            Some(StatusCode::SEE_OTHER)
        );
        assert_eq!(
            kind(Method::GET, &[html, ("sec-fetch-mode", "navigate")]).navigation,
            Some(StatusCode::FOUND)
        );
        assert_eq!(
            kind(Method::GET, &[html, ("sec-fetch-mode", "cors")]).navigation,
            None
        );
        assert_eq!(
            kind(Method::GET, &[html, ("x-requested-with", "XMLHttpRequest")]).navigation,
            None
        );
        assert_eq!(kind(Method::GET, &[("accept", "*/*")]).navigation, None);
    }

    #[test]
    fn unauthenticated_navigation_redirects_and_api_call_gets_a_challenge() {
        let error =
            RequestError::Unauthenticated(LoginHint::Navigate("/.auth/login?rd=%2Fx".to_owned()));
        let browser = kind(Method::GET, &[("accept", "text/html")]);
        let redirected = error_response(&error, browser);
        assert_eq!(redirected.status(), StatusCode::FOUND);
        assert_eq!(
            redirected.headers()[header::LOCATION],
            "/.auth/login?rd=%2Fx"
        );
        let api = error_response(&error, kind(Method::GET, &[("accept", "application/json")]));
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            api.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"gateway\""
        );
        assert!(api.headers().get(header::LOCATION).is_none());
    }

    #[test]
    fn step_up_redirects_a_navigation_and_challenges_an_api_client_per_rfc_9470() {
        let error = RequestError::InsufficientAuthentication(LoginHint::Navigate(
            "/.auth/login?rd=%2Fadmin".to_owned(),
        ));
        let browser = kind(Method::GET, &[("accept", "text/html")]);
        let redirected = error_response(&error, browser);
        assert_eq!(redirected.status(), StatusCode::FOUND);
        assert_eq!(
            redirected.headers()[header::LOCATION],
            "/.auth/login?rd=%2Fadmin"
        );
        let api = error_response(&error, kind(Method::GET, &[]));
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
        let challenge = api.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii");
        assert!(
            challenge.starts_with(
                "Bearer realm=\"gateway\", error=\"insufficient_user_authentication\""
            ),
            "{challenge}"
        );
    }

    #[test]
    fn browser_error_page_links_to_the_login_url_escaped() {
        let error = RequestError::Unauthenticated(LoginHint::Location(HeaderValue::from_static(
            "https://a.example/.auth/login?rd=%2F&x=\"",
        )));
        let page = error_page(&error, Some("https://a.example/.auth/login?rd=%2F&x=\""));
        assert!(
            page.contains(
                "<a href=\"https://a.example/.auth/login?rd=%2F&amp;x=&quot;\">Sign in</a>"
            ),
            "{page}"
        );
        assert!(!error_page(&RequestError::NoRoute, None).contains("Sign in"));
    }

    #[test]
    fn invalid_token_challenge_names_the_error_and_throttling_says_when() {
        let invalid = RequestError::InvalidToken {
            failure: crate::auth::AuthFailure::Revoked,
            hint: LoginHint::Location(HeaderValue::from_static("https://a.example/.auth/login")),
        };
        let api = kind(Method::GET, &[]);
        let response = error_response(&invalid, api);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"gateway\", error=\"invalid_token\""
        );
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://a.example/.auth/login"
        );
        let throttled = RequestError::TooManyRequests {
            retry_after: std::time::Duration::from_millis(1500),
        };
        assert_eq!(
            error_response(&throttled, api).headers()[header::RETRY_AFTER],
            "2"
        );
        let busy = RequestError::LoginsBusy {
            retry_after: std::time::Duration::from_secs(1),
        };
        let response = error_response(&busy, api);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn error_bodies_carry_only_the_stable_code() {
        let api = ClientKind { navigation: None };
        let browser = ClientKind {
            navigation: Some(StatusCode::FOUND),
        };
        let json = error_response(&RequestError::NoRoute, api);
        assert_eq!(json.status(), 404);
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
        let html = error_response(&RequestError::UpstreamTimeout, browser);
        assert_eq!(html.status(), 504);
        assert!(
            html.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
    }
}
