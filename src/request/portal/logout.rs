//! `logout`: a confirmation page (`GET`: a link or an `<img>` on another site cannot end
//! the user's session) and the sign-out (`POST`): every credential the request carries
//! that verifies is revoked — the header's token, or every copy of our cookie, so a stale
//! or tossed copy does not survive — and every variant of our cookie is expired.
//!
//! A session that came from an identity provider (`idp` in its token) whose
//! `rp_initiated_logout` is on, and which publishes an `end_session_endpoint`, is then also
//! ended there: the 303 goes to that endpoint (with `client_id` and
//! `post_logout_redirect_uri` = this host's login page, which must be registered at the
//! provider) instead of to `rd`.

use std::time::SystemTime;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::{debug, info};

use super::context::{EndpointContext, internal};
use super::form::{FormKind, content_kind, form_field, query_param, read_body};
use super::oidc::public_origin;
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
    let origin = public_origin(&request, context);
    let query_rd = query_param(request.uri(), "rd");
    let form = content_kind(request.headers()) == Some(FormKind::Form);
    let (headers, body) = read_body(request).await?;
    let rd = query_rd
        .or_else(|| form.then(|| form_field(&body, "rd")).flatten())
        .unwrap_or_default();

    let settings = auth.settings();
    let mut at_provider = None;
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
                    let idp = token.session.as_ref().and_then(|s| s.idp.as_deref());
                    info!(user = %token.identity.user, idp, "logout");
                    let after = format!("{origin}{}/login", settings.prefix);
                    at_provider = at_provider.or_else(|| auth.oidc().get(idp?)?.logout_url(&after));
                }
                Err(failure) => debug!(reason = failure.reason(), "logout with an invalid token"),
            }
        }
    }
    let target = at_provider.unwrap_or_else(|| {
        safe_redirect(&rd, &settings.allowed_domains)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}/login", settings.prefix))
    });
    let mut response = redirect(
        StatusCode::SEE_OTHER,
        HeaderValue::from_str(&target).map_err(internal)?,
    );
    for clear in cookie::clear_cookies(&settings.cookie, context.host).map_err(internal)? {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}
