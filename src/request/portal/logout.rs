//! `logout`: a confirmation page (`GET`: a link or an `<img>` on another site cannot end
//! the user's session) and the sign-out (`POST`): every credential the request carries
//! that verifies is revoked — the header's token, or every copy of our cookie, so a stale
//! or tossed copy does not survive — and every variant of our cookie is expired.

use std::time::SystemTime;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::{debug, info};

use super::context::{EndpointContext, internal};
use super::form::{FormKind, content_kind, form_field, query_param, read_body};
use super::pages::logout_page;
use crate::auth::Auth;
use crate::auth::session::redirect::safe_redirect;
use crate::auth::session::{CredentialSource, cookie};
use crate::http::{Body, html, redirect};
use crate::request::error::RequestError;

/// `GET logout`.
pub(super) fn show(
    auth: &Auth,
    request: &Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Response<Body> {
    let rd = query_param(request.uri(), "rd").unwrap_or_default();
    let action = format!("{}/logout", auth.settings().prefix);
    html(StatusCode::OK, logout_page(context.host, &action, &rd))
}

/// `POST logout`.
pub(super) async fn sign_out(
    auth: &Auth,
    request: Request<Incoming>,
    context: &EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    if !auth.is_same_site(request.headers(), context.host) {
        return Err(RequestError::CsrfRejected);
    }
    let query_rd = query_param(request.uri(), "rd");
    let form = content_kind(request.headers()) == Some(FormKind::Form);
    let (headers, body) = read_body(request).await?;
    let rd = query_rd
        .or_else(|| form.then(|| form_field(&body, "rd")).flatten())
        .unwrap_or_default();

    let settings = auth.settings();
    if let Some(credential) = auth.credential(&headers)? {
        let now = SystemTime::now();
        let copies: Vec<&str> = match credential.source {
            CredentialSource::Header => vec![credential.token],
            CredentialSource::Cookie => cookie::values(&headers, &settings.cookie.name)
                .filter_map(|value| std::str::from_utf8(value).ok())
                .collect(),
        };
        for copy in copies {
            match auth.authenticate(copy, now) {
                Ok(token) => {
                    auth.revoke(&token, now).await.map_err(internal)?;
                    info!(user = %token.identity.user, "logout");
                }
                Err(failure) => debug!(reason = failure.reason(), "logout with an invalid token"),
            }
        }
    }
    let target = safe_redirect(&rd, &settings.allowed_domains)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}/login", settings.prefix));
    let mut response = redirect(
        StatusCode::SEE_OTHER,
        HeaderValue::from_str(&target).map_err(internal)?,
    );
    for clear in cookie::clear_cookies(&settings.cookie, context.host).map_err(internal)? {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}
