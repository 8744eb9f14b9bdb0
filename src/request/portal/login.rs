//! `login`: the sign-in page (`GET`) and the sign-in itself (`POST`, a form or JSON).
//!
//! Order, each step before any password hashing that could be skipped: CSRF (`Origin` or
//! `Referer` on an allowed domain or this host; a JSON login with neither header is a
//! non-browser client and allowed), the body within its limits (`form`), then the
//! throttled attempt (`Auth::sign_in`: 429 + `Retry-After` when throttled, 503 when the
//! checks queue or the revocation list is full). A success sets the session cookie and a
//! fresh device cookie; a failure shows one generic message, whatever failed.

use std::time::SystemTime;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Deserialize;
use tracing::info;

use super::context::{EndpointContext, internal};
use super::form::{FormKind, content_kind, form_field, query_param, read_body};
use super::pages::{LoginPage, login_page};
use crate::auth::session::cookie;
use crate::auth::session::redirect::{FALLBACK_REDIRECT, safe_redirect};
use crate::auth::{Auth, SignInError};
use crate::http::{Body, html, json, redirect};
use crate::request::error::RequestError;

/// The one message a failed sign-in shows, whatever failed.
const LOGIN_FAILED: &str = "Incorrect username or password.";

#[derive(Deserialize)]
struct JsonLogin {
    username: String,
    password: String,
}

/// What a sign-in request carries.
struct LoginFields {
    username: String,
    password: String,
    rd: String,
}

/// `GET login`: the sign-in page, returning to a validated `rd`.
pub(super) fn show(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Response<Body> {
    let rd = query_param(request.uri(), "rd").unwrap_or_default();
    page(auth, context, &rd, "", None, StatusCode::OK)
}

/// The sign-in page for `rd` (validated here), with `username` filled in and `error`.
fn page(
    auth: &Auth,
    context: &EndpointContext<'_>,
    rd: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response<Body> {
    let settings = auth.settings();
    let rd = safe_redirect(rd, &settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
    let action = format!("{}/login", settings.prefix);
    let page = LoginPage {
        site: site(rd, context.host),
        action: &action,
        rd,
        username,
        error,
    };
    html(status, login_page(&page))
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

/// `POST login`.
pub(super) async fn sign_in(
    auth: &Auth,
    request: Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    let kind = content_kind(request.headers())
        .ok_or(RequestError::MalformedLogin("unsupported content type"))?;
    let headers = request.headers();
    let no_browser_headers =
        !headers.contains_key(header::ORIGIN) && !headers.contains_key(header::REFERER);
    let csrf_exempt = kind == FormKind::Json && no_browser_headers;
    if !csrf_exempt && !auth.is_same_site(headers, context.host) {
        return Err(RequestError::CsrfRejected);
    }
    let (headers, body) = read_body(request).await?;
    let fields = match kind {
        FormKind::Form => LoginFields {
            username: form_field(&body, "username").unwrap_or_default(),
            password: form_field(&body, "password").unwrap_or_default(),
            rd: form_field(&body, "rd").unwrap_or_default(),
        },
        FormKind::Json => {
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
    let signed_in = auth
        .sign_in(
            &headers,
            context.client_ip,
            &fields.username,
            fields.password,
        )
        .await;
    let user = match (signed_in, kind) {
        (Ok(user), _) => user,
        (Err(SignInError::Rejected), FormKind::Form) => {
            let (rd, username) = (&fields.rd, &fields.username);
            let failed = Some(LOGIN_FAILED);
            return Ok(page(
                auth,
                context,
                rd,
                username,
                failed,
                StatusCode::UNAUTHORIZED,
            ));
        }
        (Err(error), _) => return Err(error.into()),
    };

    let settings = auth.settings();
    let ttl = settings.token_ttl;
    let token = auth
        .issue_for(&user.name, None, ttl, SystemTime::now())
        .map_err(internal)?;
    let set_cookie =
        cookie::set_cookie(&settings.cookie, context.host, &token, ttl).map_err(internal)?;
    info!(user = %user.name, client = %context.client_ip, "login succeeded");
    let mut response = match kind {
        FormKind::Json => json(
            StatusCode::OK,
            &serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl.as_secs(),
            }),
        ),
        FormKind::Form => {
            let target =
                safe_redirect(&fields.rd, &settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
            redirect(
                StatusCode::SEE_OTHER,
                HeaderValue::from_str(target).map_err(internal)?,
            )
        }
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie);
    if let Some(device) = auth.new_device_cookie(&user.name) {
        response.headers_mut().append(header::SET_COOKIE, device);
    }
    Ok(response)
}

#[cfg(test)]
mod tests;
