//! `oidc/<name>/start` and `oidc/<name>/callback`: signing in with an OpenID Connect
//! provider (`auth::oidc` does the protocol; this file is its HTTP edge).
//!
//! - `GET start?rd=…`: validates `rd` (today's rules), asks the provider for a new attempt
//!   (PKCE S256, `state`, `nonce`), stores it in a signed, HttpOnly cookie named after its
//!   `state` (two tabs, two cookies) and path-scoped to the callback, and redirects (302) to
//!   the provider. A provider whose discovery has not succeeded gets a 503 page.
//! - `GET callback?code&state` (or `?error&state`): expires the attempt's cookie whatever
//!   happens, refuses a provider error, an unknown/forged/expired/mismatched `state`, a
//!   failed code exchange or ID token check and a user outside `allowed_*` — each with a
//!   page and a log line, never a token — and otherwise issues the gateway's own token
//!   and cookie exactly as a local login does (`Auth::issue_at_provider`, `cookie::set_cookie`),
//!   then 303s to the attempt's `rd`.
//!
//! The callback URL is `https://<the request's host[:port]><prefix>/oidc/<name>/callback`:
//! register it at the provider for every host a login may start on. The host is the
//! request's own; a forged `Host` only yields a URL the provider does not accept.

use std::time::SystemTime;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::{info, warn};

use super::context::{EndpointContext, internal};
use super::form::query_param;
use super::pages::provider_error_page;
use crate::auth::Auth;
use crate::auth::oidc::login_state::{self, LoginStateError};
use crate::auth::oidc::{OidcError, Provider};
use crate::auth::session::cookie;
use crate::auth::session::redirect::{FALLBACK_REDIRECT, safe_redirect};
use crate::http::{Body, html, redirect};
use crate::request::error::RequestError;

/// What a refused sign-in page says, by kind; the details go to the log only.
const CANCELLED: &str = "Sign-in was cancelled or refused at the identity provider.";
const STALE: &str = "This sign-in attempt is not valid any more (it expired, was already used, or was started in another browser). Start again.";
const FAILED: &str = "The identity provider's answer could not be verified. Start again; if it keeps failing, contact your administrator.";
const NOT_ALLOWED: &str = "Your account at the identity provider is not allowed to sign in here.";
const UNAVAILABLE: &str = "The identity provider is unavailable right now. Try again in a minute.";

/// The start path of `provider` returning to `rd`: what the login page's button links to.
pub(super) fn start_path(prefix: &str, provider: &str, rd: &str) -> String {
    if rd.is_empty() {
        return format!("{prefix}/oidc/{provider}/start");
    }
    let rd: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    format!("{prefix}/oidc/{provider}/start?rd={rd}")
}

/// `GET oidc/<name>/start`.
///
/// # Errors
/// [`RequestError::NoRoute`] for an unknown provider; internal errors.
pub(super) async fn start(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
    name: &str,
) -> Result<Response<Body>, RequestError> {
    let provider = auth.oidc().get(name).ok_or(RequestError::NoRoute)?;
    let settings = auth.settings();
    let rd = query_param(request.uri(), "rd").unwrap_or_default();
    let rd = safe_redirect(&rd, &settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
    let callback = callback_url(request, context, &settings.prefix, name);
    let (url, attempt) = match provider.begin(&callback, rd, SystemTime::now()).await {
        Ok(begun) => begun,
        Err(error) => {
            warn!(idp = name, error = %error, "oidc login cannot start");
            return Ok(refused(
                auth,
                context,
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
            ));
        }
    };
    let cookie_name = login_state::cookie_name(&settings.cookie.name, &attempt.state)
        .ok_or_else(|| internal(OidcError::MalformedCallback))?;
    let sealed = auth.login_state_key().seal(&attempt);
    let set = login_state::set_cookie(
        &cookie_name,
        &sealed,
        &callback_path(&settings.prefix, name),
    )
    .ok_or_else(|| internal(OidcError::MalformedCallback))?;
    let mut response = redirect(
        StatusCode::FOUND,
        HeaderValue::from_str(&url).map_err(internal)?,
    );
    response.headers_mut().append(header::SET_COOKIE, set);
    Ok(response)
}

/// `GET oidc/<name>/callback`.
///
/// # Errors
/// [`RequestError::NoRoute`] for an unknown provider; internal errors.
pub(super) async fn callback(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
    name: &str,
) -> Result<Response<Body>, RequestError> {
    let provider = auth.oidc().get(name).ok_or(RequestError::NoRoute)?;
    let settings = auth.settings();
    let path = callback_path(&settings.prefix, name);
    let state = query_param(request.uri(), "state").unwrap_or_default();
    let cookie_name = login_state::cookie_name(&settings.cookie.name, &state);
    let outcome = sign_in(
        auth,
        provider,
        request,
        context,
        name,
        &state,
        cookie_name.as_deref(),
    )
    .await;
    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => {
            let (status, message) = page_for(&error);
            warn!(idp = name, client = %context.client_ip, error = %error, "oidc login refused");
            auth.oidc_login_outcome(name, false);
            refused(auth, context, status, message)
        }
    };
    // The attempt is over whatever happened: its cookie goes.
    if let Some(clear) = cookie_name.and_then(|n| login_state::clear_cookie(&n, &path)) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

/// The checks and the token, in order; any failure is an [`OidcError`] for the page.
async fn sign_in(
    auth: &Auth,
    provider: &Provider,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
    name: &str,
    state: &str,
    cookie_name: Option<&str>,
) -> Result<Response<Body>, OidcError> {
    if let Some(error) = query_param(request.uri(), "error") {
        return Err(OidcError::ProviderError(error));
    }
    let cookie_name = cookie_name.ok_or(LoginStateError::Missing)?;
    let now = SystemTime::now();
    let key = auth.login_state_key();
    // A browser may hold several values under one name (a stale one on another path):
    // the attempt is whichever genuine one opens.
    let mut attempt = Err(LoginStateError::Missing);
    for value in cookie::values(request.headers(), cookie_name) {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        attempt = key.open(value, name, state, now);
        if attempt.is_ok() {
            break;
        }
    }
    let attempt = attempt?;
    let code = query_param(request.uri(), "code")
        .filter(|code| !code.is_empty())
        .ok_or(OidcError::MalformedCallback)?;
    let settings = auth.settings();
    let callback = callback_url(request, context, &settings.prefix, name);
    let signed_in = provider.finish(&callback, &code, attempt).await?;
    if !auth.accepts_new_sessions(now) {
        return Err(OidcError::Unavailable);
    }
    let ttl = settings.token_ttl;
    let token = auth
        .issue_at_provider(name, &signed_in.identity, ttl, now)
        .map_err(|e| OidcError::IdToken(format!("cannot issue our token: {e}")))?;
    let set_cookie = cookie::set_cookie(&settings.cookie, context.host, &token, ttl)
        .map_err(|e| OidcError::IdToken(format!("cannot set our cookie: {e}")))?;
    let target =
        safe_redirect(&signed_in.rd, &settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
    let location =
        HeaderValue::from_str(target).unwrap_or(HeaderValue::from_static(FALLBACK_REDIRECT));
    info!(user = %signed_in.identity.user, idp = name, client = %context.client_ip, "login succeeded");
    auth.oidc_login_outcome(name, true);
    let mut response = redirect(StatusCode::SEE_OTHER, location);
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie);
    Ok(response)
}

/// The status and the fixed message of a refused sign-in.
fn page_for(error: &OidcError) -> (StatusCode, &'static str) {
    match error {
        OidcError::ProviderError(_) => (StatusCode::FORBIDDEN, CANCELLED),
        OidcError::State(_) | OidcError::MalformedCallback => (StatusCode::BAD_REQUEST, STALE),
        OidcError::Refused(_) => (StatusCode::FORBIDDEN, NOT_ALLOWED),
        OidcError::Unavailable
        | OidcError::UnknownProvider
        | OidcError::Discovery(_)
        | OidcError::Keys(_)
        | OidcError::NoTokenEndpoint => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        OidcError::IssuerMismatch { .. }
        | OidcError::BadCallback(_)
        | OidcError::TokenRequest(_)
        | OidcError::NoIdToken
        | OidcError::IdToken(_)
        | OidcError::Userinfo(_) => (StatusCode::UNAUTHORIZED, FAILED),
    }
}

fn refused(
    auth: &Auth,
    context: &EndpointContext<'_>,
    status: StatusCode,
    message: &str,
) -> Response<Body> {
    let again = format!("{}/login", auth.settings().prefix);
    html(status, provider_error_page(context.host, message, &again))
}

fn callback_path(prefix: &str, name: &str) -> String {
    format!("{prefix}/oidc/{name}/callback")
}

/// `https://host[:port]<callback path>`.
fn callback_url(
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
    prefix: &str,
    name: &str,
) -> String {
    format!(
        "{}{}",
        public_origin(request, context),
        callback_path(prefix, name)
    )
}

/// `https://host[:port]` as the browser sees this gateway: the routing host, and the port
/// from the request's authority when it names this same host and is not 443 (the browser
/// must come back exactly where it started).
pub(super) fn public_origin(request: &Request<Incoming>, context: &EndpointContext<'_>) -> String {
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let port = authority
        .rsplit_once(':')
        .filter(|(host, port)| {
            host.trim_end_matches('.')
                .eq_ignore_ascii_case(context.host)
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && *port != "443"
        })
        .map(|(_, port)| format!(":{port}"))
        .unwrap_or_default();
    format!("https://{}{port}", context.host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_path_carries_rd_encoded() {
        assert_eq!(start_path("/.auth", "corp", ""), "/.auth/oidc/corp/start");
        assert_eq!(
            start_path("/.auth", "corp", "/deep?a=1&b=2"),
            "/.auth/oidc/corp/start?rd=%2Fdeep%3Fa%3D1%26b%3D2"
        );
    }

    #[test]
    fn every_refusal_kind_has_a_page_and_no_success_status() {
        let cases = [
            OidcError::ProviderError("access_denied".into()),
            OidcError::State(LoginStateError::Forged),
            OidcError::MalformedCallback,
            OidcError::Unavailable,
            OidcError::TokenRequest("invalid_grant".into()),
            OidcError::IdToken("nonce".into()),
        ];
        for error in cases {
            let (status, message) = page_for(&error);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{error}"
            );
            assert!(!message.is_empty());
        }
    }
}
