//! `login`: the sign-in page (`GET`) and the sign-in itself (`POST`, a form or JSON).
//!
//! Order, each step before any password hashing that could be skipped: CSRF (`Origin` or
//! `Referer` on an allowed domain or this host; a JSON login with neither header is a
//! non-browser client and allowed), the body within its limits (`form`), then the
//! throttled attempt (`Auth::sign_in`: 429 + `Retry-After` when throttled, 503 when the
//! checks queue or the revocation list is full). A right password for a user with a second
//! factor issues no token: the form shows the code step, the JSON API answers 401
//! `second_factor_required` with a challenge, and the same endpoint takes the challenge
//! back with a `code` or a `recovery_code` (`auth::two_step`); `rd` rides along in the
//! form's hidden field through both steps. A success sets the session cookie (its token's
//! `amr` says which steps were passed) and a fresh device cookie; a failure shows one
//! generic message, whatever failed.

use std::time::SystemTime;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Deserialize;
use tracing::info;

use super::context::{EndpointContext, internal};
use super::form::{FormKind, content_kind, form_field, query_param, read_body};
use super::oidc::start_path;
use super::pages::{CodePage, LoginPage, ProviderButton, code_page, login_page};
use crate::auth::oidc::{Provider, ProviderStatus};
use crate::auth::second_factor::ChallengeId;
use crate::auth::session::cookie;
use crate::auth::session::redirect::{FALLBACK_REDIRECT, safe_redirect};
use crate::auth::{Auth, PasswordStep, SecondFactorCode, SignInError};
use crate::http::{Body, html, json, redirect};
use crate::request::error::RequestError;

/// The one message a failed sign-in shows, whatever failed.
const LOGIN_FAILED: &str = "Incorrect username or password.";

/// The one message of a wrong or replayed code.
const CODE_FAILED: &str = "That code didn't work. Check your authenticator and try again.";

/// The message when the code step cannot go on (challenge spent, expired, out of tries).
const SIGN_IN_AGAIN: &str = "Your sign-in expired or had too many wrong codes. Sign in again.";

/// The message of a right password under `second_factor = "required"` without a factor.
const ENROLL_FIRST: &str = "Your account needs a second factor before you can sign in. Ask an administrator to enroll you.";

/// `{"username","password"}` (the password step) or `{"challenge","code"}` /
/// `{"challenge","recovery_code"}` (the code step). Unknown members are skipped, as they
/// always were (a client may send more); a repeated member is refused.
#[derive(Deserialize)]
struct JsonLogin {
    username: Option<String>,
    password: Option<String>,
    challenge: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// What a sign-in request carries: the password step's fields or the code step's.
struct LoginFields {
    username: String,
    password: String,
    rd: String,
    /// The code step: the challenge and the code sent with it.
    second: Option<(String, SecondFactorCode)>,
}

impl LoginFields {
    fn from_form(body: &[u8]) -> Self {
        let field = |name| form_field(body, name).unwrap_or_default();
        let second = form_field(body, "challenge").map(|challenge| {
            let recovery = field("recovery_code");
            let code = if recovery.trim().is_empty() {
                SecondFactorCode::Totp(field("code"))
            } else {
                SecondFactorCode::Recovery(recovery)
            };
            (challenge, code)
        });
        Self {
            username: field("username"),
            password: field("password"),
            rd: field("rd"),
            second,
        }
    }

    fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        let malformed = RequestError::MalformedLogin(
            "expected {\"username\",\"password\"} or {\"challenge\",\"code\"|\"recovery_code\"}",
        );
        let parsed: JsonLogin = serde_json::from_slice(body).map_err(|_| malformed)?;
        let second = match (parsed.challenge, parsed.code, parsed.recovery_code) {
            (None, None, None) => None,
            (Some(c), Some(code), None) => Some((c, SecondFactorCode::Totp(code))),
            (Some(c), None, Some(code)) => Some((c, SecondFactorCode::Recovery(code))),
            _ => {
                return Err(RequestError::MalformedLogin(
                    "expected {\"challenge\"} with one of \"code\" or \"recovery_code\"",
                ));
            }
        };
        let (username, password) = match (&second, parsed.username, parsed.password) {
            (Some(_), None, None) => (String::new(), String::new()),
            (None, Some(username), Some(password)) => (username, password),
            _ => {
                return Err(RequestError::MalformedLogin(
                    "expected {\"username\",\"password\"} or {\"challenge\",\"code\"}",
                ));
            }
        };
        Ok(Self {
            username,
            password,
            rd: String::new(),
            second,
        })
    }
}

/// `GET login`: the sign-in page, returning to a validated `rd`.
pub(super) fn show(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Response<Body> {
    let rd = query_param(request.uri(), "rd").unwrap_or_default();
    // No users file and one provider that is up: nothing to choose, straight to it.
    let mut providers = auth.oidc().iter();
    if let (false, Some(only), None) = (auth.has_users(), providers.next(), providers.next())
        && only.status() == ProviderStatus::Ready
    {
        let settings = auth.settings();
        let rd = safe_redirect(&rd, &settings.allowed_domains).unwrap_or_default();
        let start = start_path(&settings.prefix, &only.settings().name, rd);
        if let Ok(location) = HeaderValue::from_str(&start) {
            return redirect(StatusCode::FOUND, location);
        }
    }
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
    let starts: Vec<(String, &Provider)> = auth
        .oidc()
        .iter()
        .map(|p| (start_path(&settings.prefix, &p.settings().name, rd), p))
        .collect();
    let providers: Vec<ProviderButton> = starts
        .iter()
        .map(|(href, provider)| ProviderButton {
            label: &provider.settings().display_name,
            href,
            available: provider.status() == ProviderStatus::Ready,
        })
        .collect();
    let page = LoginPage {
        site: site(rd, context.host),
        action: &action,
        rd,
        username,
        error,
        password_form: auth.has_users() || providers.is_empty(),
        providers: &providers,
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
        FormKind::Form => LoginFields::from_form(&body),
        FormKind::Json => LoginFields::from_json(&body)?,
    };
    let now = SystemTime::now();
    let (user, amr) = match fields.second {
        Some((challenge, code)) => {
            let outcome = auth
                .sign_in_second_factor(context.client_ip, &challenge, code, now)
                .await;
            match outcome {
                Ok(done) => done,
                Err(error) => return code_refused(auth, context, kind, &fields.rd, error),
            }
        }
        None => {
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
                    let status = StatusCode::UNAUTHORIZED;
                    return Ok(page(auth, context, rd, username, failed, status));
                }
                (Err(error), _) => return Err(error.into()),
            };
            match auth.after_password(&user, now).await {
                Ok(PasswordStep::SignedIn { amr }) => (user, amr),
                Ok(PasswordStep::CodeDue(challenge)) => {
                    info!(user = %user.name, client = %context.client_ip, "login password accepted, code due");
                    return Ok(code_due(auth, context, kind, &fields.rd, &challenge, None));
                }
                Err(SignInError::EnrollmentRequired) if kind == FormKind::Form => {
                    let (rd, status) = (&fields.rd, StatusCode::FORBIDDEN);
                    return Ok(page(auth, context, rd, "", Some(ENROLL_FIRST), status));
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    signed_in(auth, context, kind, &fields.rd, &user.name, amr, now)
}

/// The answer to a right password when a code is due: the code step's page, or 401
/// `second_factor_required` with the challenge for an API client.
fn code_due(
    auth: &Auth,
    context: &EndpointContext<'_>,
    kind: FormKind,
    rd: &str,
    challenge: &ChallengeId,
    error: Option<&str>,
) -> Response<Body> {
    match kind {
        FormKind::Json => {
            let code = if error.is_some() {
                "invalid_credentials"
            } else {
                "second_factor_required"
            };
            json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({ "error": code, "challenge": challenge.as_str() }),
            )
        }
        FormKind::Form => {
            let settings = auth.settings();
            let rd = safe_redirect(rd, &settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
            let action = format!("{}/login", settings.prefix);
            let page = CodePage {
                site: site(rd, context.host),
                action: &action,
                rd,
                challenge: challenge.as_str(),
                error,
            };
            let status = if error.is_some() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            html(status, code_page(&page))
        }
    }
}

/// The answer to a refused code step: another try on a fresh challenge while the sign-in
/// has tries left, else back to the password step.
fn code_refused(
    auth: &Auth,
    context: &EndpointContext<'_>,
    kind: FormKind,
    rd: &str,
    error: SignInError,
) -> Result<Response<Body>, RequestError> {
    match (error, kind) {
        (SignInError::WrongCode { retry: Some(next) }, _) => {
            Ok(code_due(auth, context, kind, rd, &next, Some(CODE_FAILED)))
        }
        (
            SignInError::WrongCode { retry: None } | SignInError::ChallengeInvalid,
            FormKind::Form,
        ) => {
            let status = StatusCode::UNAUTHORIZED;
            Ok(page(auth, context, rd, "", Some(SIGN_IN_AGAIN), status))
        }
        (error, _) => Err(error.into()),
    }
}

/// A finished sign-in: the token with `amr`, as a cookie, and JSON or a redirect to `rd`.
fn signed_in(
    auth: &Auth,
    context: &EndpointContext<'_>,
    kind: FormKind,
    rd: &str,
    user: &str,
    amr: Vec<String>,
    now: SystemTime,
) -> Result<Response<Body>, RequestError> {
    let settings = auth.settings();
    let ttl = settings.token_ttl;
    let token = auth
        .issue_signed_in(user, amr, ttl, now)
        .map_err(internal)?;
    let set_cookie =
        cookie::set_cookie(&settings.cookie, context.host, &token, ttl).map_err(internal)?;
    info!(user = %user, client = %context.client_ip, "login succeeded");
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
            let target = safe_redirect(rd, &settings.allowed_domains).unwrap_or(FALLBACK_REDIRECT);
            redirect(
                StatusCode::SEE_OTHER,
                HeaderValue::from_str(target).map_err(internal)?,
            )
        }
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie);
    if let Some(device) = auth.new_device_cookie(user) {
        response.headers_mut().append(header::SET_COOKIE, device);
    }
    Ok(response)
}

#[cfg(test)]
mod tests;
