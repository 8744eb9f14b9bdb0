//! The gateway's own endpoints under `auth.prefix` (default `/.auth`), on every host:
//!
//! | endpoint | |
//! |---|---|
//! | `GET login` | the sign-in page |
//! | `POST login` | form → 303 + cookie; JSON → 200 token + cookie; throttled → 429 |
//! | `GET logout` / `POST logout` | confirm page / revoke the token, expire the cookie, 303 |
//! | `GET me` | the current identity as JSON, or 401 |
//! | `GET verify` | forward-auth for nginx `auth_request`, Traefik, Caddy ([`super::forward_auth`]) |
//! | `GET jwks.json` | public keys (asymmetric algorithms only) |
//!
//! Login order, each step before any password hashing that could be skipped: CSRF (Origin
//! or Referer on an allowed domain or this host; a JSON login with neither header is a
//! non-browser client and allowed), body within [`MAX_LOGIN_BODY`] and [`LOGIN_BODY_TIMEOUT`],
//! then the attempt (`attempt.rs`): its throttle keys reserved — the client IP and the
//! username, or the device of a valid device cookie — (429 + `Retry-After`), the password
//! check on the bounded, fair queue of the blocking pool (503 + `Retry-After` when full),
//! and the keys settled. A success sets the session cookie and a fresh device cookie.
//! Logs name the user and the outcome, never the password or token.

mod attempt;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::pages::{LoginPage, login_page, logout_page};
use super::redirect::{FALLBACK_REDIRECT, origin_allowed, safe_redirect};
use super::{Auth, CredentialSource, cookie, forward_auth, users};
use crate::error::{LoginHint, RequestError};
use crate::gateway::Snapshot;
use crate::metrics::LoginResult;
use crate::response::{Body, discard_body, full, redirect};
use attempt::AttemptError;

/// Largest login or logout body read.
pub const MAX_LOGIN_BODY: usize = 16 * 1024;
/// Time a client has to send the login body.
pub const LOGIN_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The one message a failed sign-in shows, whatever failed.
/// `Retry-After` of a login refused because the revocation list is full: entries expire as
/// sessions end, which takes a while.
const REVOCATIONS_FULL_RETRY_AFTER: Duration = Duration::from_secs(60);
const LOGIN_FAILED: &str = "Incorrect username or password.";
/// Security headers of the HTML pages: nothing but inline styles may load, no framing.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

/// What the endpoints need to know about the request besides the request itself.
#[derive(Debug)]
pub(crate) struct EndpointContext<'a> {
    /// Normalized host.
    pub host: &'a str,
    /// The endpoint: the normalized path after the prefix (`/login`, `/me`, …).
    pub endpoint: &'a str,
    /// Client address for throttling (trusted proxies applied).
    pub client_ip: IpAddr,
}

/// Dispatches a request under the prefix.
///
/// # Errors
/// Any [`RequestError`]; the caller renders it.
pub(crate) async fn handle(
    snapshot: &Snapshot,
    auth: &Auth,
    request: Request<Incoming>,
    context: EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    let method = request.method().clone();
    match (context.endpoint, method) {
        ("/login", Method::GET | Method::HEAD) => Ok(show_login(auth, &request, &context)),
        ("/login", Method::POST) => login(auth, request, &context).await,
        ("/logout", Method::GET | Method::HEAD) => Ok(show_logout(auth, &request, &context)),
        ("/logout", Method::POST) => logout(auth, request, &context).await,
        ("/me", Method::GET | Method::HEAD) => me(auth, request.headers()),
        ("/verify", _) => forward_auth::verify(snapshot, auth, request.headers()),
        ("/jwks.json", Method::GET | Method::HEAD) => jwks(auth),
        _ => Err(RequestError::NoRoute),
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut response = Response::new(full(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

pub(super) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The host a (validated) `rd` leads to, for "Sign in to …"; the request's host otherwise.
/// Only ever called with a `rd` that passed `safe_redirect`, so the page never names a site
/// outside the allowed domains.
fn site<'a>(rd: &'a str, host: &'a str) -> &'a str {
    rd.strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .filter(|authority| !authority.is_empty())
        .unwrap_or(host)
}

fn show_login(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Response<Body> {
    let rd = query_param(request.uri(), "rd").unwrap_or_default();
    let rd = safe_redirect(&rd, &auth.settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
    let action = format!("{}/login", auth.settings.prefix);
    let page = LoginPage {
        site: site(rd, context.host),
        action: &action,
        rd,
        username: "",
        error: None,
    };
    html(StatusCode::OK, login_page(&page))
}

fn show_logout(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Response<Body> {
    let rd = query_param(request.uri(), "rd").unwrap_or_default();
    let action = format!("{}/logout", auth.settings.prefix);
    html(StatusCode::OK, logout_page(context.host, &action, &rd))
}

/// CSRF for the login and logout forms and for cookie-authenticated unsafe requests.
pub(crate) fn same_site_request(auth: &Auth, headers: &HeaderMap, host: &str) -> bool {
    origin_allowed(headers, &auth.csrf_domains) || origin_allowed(headers, &[host.to_owned()])
}

/// How the credentials arrived.
enum LoginForm {
    Form,
    Json,
}

#[derive(Deserialize)]
struct JsonLogin {
    username: String,
    password: String,
}

struct LoginFields {
    username: String,
    password: String,
    rd: String,
}

async fn read_body(request: Request<Incoming>) -> Result<(HeaderMap, Bytes), RequestError> {
    let (parts, body) = request.into_parts();
    let body = tokio::time::timeout(LOGIN_BODY_TIMEOUT, read_at_most(body, MAX_LOGIN_BODY))
        .await
        .map_err(|_| RequestError::MalformedLogin("body not received in time"))??;
    Ok((parts.headers, body))
}

/// Collects `body` up to `limit` bytes. A longer body is refused, after what is left of it
/// has been read on and dropped ([`discard_body`]): answering and closing while the client
/// is still sending would make its TCP stack reset the connection, and the client would see
/// a reset instead of the 400 (the lingering close of RFC 9112 §9.6).
async fn read_at_most(mut body: Incoming, limit: usize) -> Result<Bytes, RequestError> {
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| RequestError::MalformedLogin("body broken"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing a login reads
        };
        if collected.len().saturating_add(data.len()) > limit {
            discard_body(body).await;
            return Err(RequestError::MalformedLogin("body too large"));
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

fn content_kind(headers: &HeaderMap) -> Option<LoginForm> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = content_type.split(';').next()?.trim();
    if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Some(LoginForm::Form)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(LoginForm::Json)
    } else {
        None
    }
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn login(
    auth: &Auth,
    request: Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    let Some(users) = auth.users.clone() else {
        return Err(RequestError::NoRoute);
    };
    let kind = content_kind(request.headers())
        .ok_or(RequestError::MalformedLogin("unsupported content type"))?;
    let headers = request.headers();
    let no_browser_headers =
        !headers.contains_key(header::ORIGIN) && !headers.contains_key(header::REFERER);
    let csrf_exempt = matches!(kind, LoginForm::Json) && no_browser_headers;
    if !csrf_exempt && !same_site_request(auth, headers, context.host) {
        return Err(RequestError::CsrfRejected);
    }
    let (headers, body) = read_body(request).await?;
    let fields = match kind {
        LoginForm::Form => LoginFields {
            username: form_field(&body, "username").unwrap_or_default(),
            password: form_field(&body, "password").unwrap_or_default(),
            rd: form_field(&body, "rd").unwrap_or_default(),
        },
        LoginForm::Json => {
            let parsed: JsonLogin = serde_json::from_slice(&body).map_err(|_| {
                RequestError::MalformedLogin("expected {\"username\",\"password\"}")
            })?;
            LoginFields {
                username: parsed.username,
                password: parsed.password,
                rd: String::new(),
            }
        }
    };

    // A full revocation list could not revoke the new session's tokens one by one: fail
    // closed, before any password work.
    if !auth.accepts_new_sessions(SystemTime::now()) {
        warn!("login refused: the revocation list is full");
        auth.metrics.login(LoginResult::RevocationsFull);
        return Err(RequestError::LoginsBusy {
            retry_after: REVOCATIONS_FULL_RETRY_AFTER,
        });
    }
    let user = match attempt::sign_in(
        auth,
        users,
        &headers,
        context.client_ip,
        // One spelling of the name for the throttle keys and the device cookie, whichever
        // Unicode form the keyboard produced (the users file is read in NFC too).
        users::normalized_name(&fields.username).into_owned(),
        fields.password,
    )
    .await
    {
        Ok(user) => user,
        Err(AttemptError::Refused(error)) => return Err(error),
        Err(AttemptError::Rejected) => {
            return match kind {
                LoginForm::Json => Err(RequestError::InvalidCredentials),
                LoginForm::Form => {
                    let action = format!("{}/login", auth.settings.prefix);
                    let rd = safe_redirect(&fields.rd, &auth.settings.allowed_domains)
                        .unwrap_or(FALLBACK_REDIRECT);
                    let page = LoginPage {
                        site: site(rd, context.host),
                        action: &action,
                        rd,
                        username: &fields.username,
                        error: Some(LOGIN_FAILED),
                    };
                    Ok(html(StatusCode::UNAUTHORIZED, login_page(&page)))
                }
            };
        }
    };

    let ttl = auth.settings.token_ttl;
    let token = auth
        .issue_for(&user.name, None, ttl, SystemTime::now())
        .map_err(internal)?;
    let set_cookie =
        cookie::set_cookie(&auth.settings.cookie, context.host, &token, ttl).map_err(internal)?;
    info!(user = %user.name, client = %context.client_ip, "login succeeded");
    auth.metrics.login(LoginResult::Success);
    let mut response = match kind {
        LoginForm::Json => json(
            StatusCode::OK,
            &serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl.as_secs(),
            }),
        ),
        LoginForm::Form => {
            let target = safe_redirect(&fields.rd, &auth.settings.allowed_domains)
                .unwrap_or(FALLBACK_REDIRECT);
            redirect(
                StatusCode::SEE_OTHER,
                HeaderValue::from_str(target).map_err(internal)?,
            )
        }
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie);
    if let Some(device) = device_cookie(auth, &user.name) {
        response.headers_mut().append(header::SET_COOKIE, device);
    }
    Ok(response)
}

/// A fresh device cookie for `user` (a new device id on every sign-in), if they are on.
/// Failing to make one is logged and the sign-in goes on without it.
fn device_cookie(auth: &Auth, user: &str) -> Option<HeaderValue> {
    let devices = auth.devices.as_ref()?;
    let made = devices
        .key
        .issue(user, SystemTime::now())
        .map_err(|error| warn!(%error, "no device cookie"))
        .ok()?;
    cookie::set_device_cookie(
        &auth.settings.cookie,
        &auth.settings.prefix,
        &made,
        devices.ttl,
    )
    .map_err(|error| warn!(%error, "no device cookie"))
    .ok()
}

async fn logout(
    auth: &Auth,
    request: Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    if !same_site_request(auth, request.headers(), context.host) {
        return Err(RequestError::CsrfRejected);
    }
    let query_rd = query_param(request.uri(), "rd");
    let form = matches!(content_kind(request.headers()), Some(LoginForm::Form));
    let (headers, body) = read_body(request).await?;
    let rd = query_rd
        .or_else(|| form.then(|| form_field(&body, "rd")).flatten())
        .unwrap_or_default();

    // Every credential the request carries that verifies is signed out: the header's token,
    // or every copy of our cookie (a stale or tossed copy must not survive the logout).
    if let Some(credential) = auth.credential(&headers)? {
        let now = SystemTime::now();
        let copies: Vec<&str> = match credential.source {
            CredentialSource::Header => vec![credential.token],
            CredentialSource::Cookie => cookie::values(&headers, &auth.settings.cookie.name)
                .filter_map(|value| std::str::from_utf8(value).ok())
                .collect(),
        };
        for copy in copies {
            match auth.authenticate(copy, now) {
                Ok(token) => {
                    auth.revoke(&token, now).await.map_err(internal)?;
                    info!(user = %token.user, "logout");
                }
                Err(failure) => debug!(reason = failure.reason(), "logout with an invalid token"),
            }
        }
    }
    let target = safe_redirect(&rd, &auth.settings.allowed_domains)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}/login", auth.settings.prefix));
    let mut response = redirect(
        StatusCode::SEE_OTHER,
        HeaderValue::from_str(&target).map_err(internal)?,
    );
    for clear in cookie::clear_cookies(&auth.settings.cookie, context.host).map_err(internal)? {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

fn me(auth: &Auth, headers: &HeaderMap) -> Result<Response<Body>, RequestError> {
    let credential = auth
        .credential(headers)?
        .ok_or(RequestError::Unauthenticated(LoginHint::None))?;
    let token =
        auth.verify_credential(&credential, headers, SystemTime::now(), || LoginHint::None)?;
    let expires_at = token
        .exp
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "user": token.user,
            "groups": token.groups,
            "email": token.email,
            "expires_at": expires_at,
        }),
    ))
}

fn jwks(auth: &Auth) -> Result<Response<Body>, RequestError> {
    let keys = auth.keys.jwks().ok_or(RequestError::NoRoute)?;
    let mut response = json(StatusCode::OK, &keys);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

pub(super) fn internal<E: std::error::Error + Send + Sync + 'static>(error: E) -> RequestError {
    warn!(error = %error, "auth endpoint failed");
    RequestError::Internal(Box::new(error))
}

#[cfg(test)]
mod tests;
