//! `GET /.auth/verify`: forward-auth for nginx `auth_request`, Traefik `forwardAuth` and
//! Caddy `forward_auth`.
//!
//! The proxy in front of the app asks about a request the gateway never sees. Which request
//! comes from exactly one set of headers, the one `[forward_auth] url_from` names
//! ([`original`]): `X-Forwarded-Proto/-Host/-Uri/-Method` by default, or `X-Original-URL` +
//! `X-Original-Method`. The other set is ignored, never a fallback: the proxy overwrites
//! the headers it sets and passes the rest as the client wrote them. A missing, repeated or
//! malformed header of the chosen set is a 400, never a guess.
//!
//! The decision, in order: the route of the original host and path (normalized as for
//! proxied requests, so it is the route the gateway itself would apply); no route → 403
//! (`unmatched = "deny"`, the default) or "any signed-in user" (`"authenticated"`); a
//! `public` route → 200 without identity; otherwise the credential, the route's policy, and
//! the CSRF rule of unsafe methods applied to the *original* method with the client's
//! `Origin`/`Referer`. Every 401 carries `Location` of the login page on the original host
//! with `rd` = the original path, which the proxy can hand to a browser.

mod original;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use tracing::{debug, warn};

use super::login::{internal, json, same_site_request};
use super::{Auth, CredentialSource};
use crate::config::Unmatched;
use crate::error::{LoginHint, RequestError};
use crate::gateway::Snapshot;
use crate::policy::{Access, Decision, decide};
use crate::proxy::headers::inject_identity;
use crate::response::Body;
use original::Original;
pub use original::OriginalUrlError;

/// The policy of a URL no route matches under `unmatched = "authenticated"`.
static ANY_SIGNED_IN_USER: Access = Access::Authenticated;

/// The policy that applies to `route`'s match (`None`: no route), or the refusal.
fn policy(route: Option<&Access>, unmatched: Unmatched) -> Result<&Access, RequestError> {
    match (route, unmatched) {
        (Some(access), _) => Ok(access),
        (None, Unmatched::Authenticated) => Ok(&ANY_SIGNED_IN_USER),
        (None, Unmatched::Deny) => Err(RequestError::Forbidden),
    }
}

/// Whether `method` cannot change state (no CSRF check needed).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `https://host/.auth/login?rd=<path?query>`.
fn login_location(auth: &Auth, original: &Original) -> LoginHint {
    let rd = match &original.query {
        Some(q) => format!("{}?{q}", original.path),
        None => original.path.clone(),
    };
    let encoded: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    let url = format!(
        "https://{}{}/login?rd={encoded}",
        original.authority, auth.settings.prefix
    );
    HeaderValue::from_str(&url).map_or(LoginHint::None, LoginHint::Location)
}

pub(super) fn verify(
    snapshot: &Snapshot,
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Response<Body>, RequestError> {
    let settings = &snapshot.config.forward_auth;
    let original = Original::from_headers(headers, settings.url_from).map_err(|error| {
        if matches!(error, OriginalUrlError::Missing { .. }) {
            // A proxy that never sends the header is misconfigured: say so where the
            // operator looks. (Malformed values are the client's doing: debug, as usual.)
            warn!(%error, "forward-auth request without its original URL");
        }
        RequestError::InvalidOriginalUrl(error)
    })?;
    let route = snapshot
        .router
        .route(&original.host, &original.path)
        .map_err(RequestError::InvalidPath)?;
    let access = policy(route.map(|r| &r.access), settings.unmatched).inspect_err(|_| {
        debug!(scheme = %original.scheme, host = %original.host, path = %original.path, "forward-auth url matches no route");
    })?;
    if *access == Access::Public {
        return Ok(json(StatusCode::OK, &serde_json::json!({})));
    }
    let hint = || login_location(auth, &original);
    let credential = auth.credential(headers)?;
    let identity = match &credential {
        None => None,
        Some(credential) => {
            Some(auth.verify_credential(credential, headers, SystemTime::now(), hint)?)
        }
    };
    match decide(access, identity.as_deref()) {
        Decision::Allow => {}
        Decision::Unauthenticated => return Err(RequestError::Unauthenticated(hint())),
        Decision::Forbidden => return Err(RequestError::Forbidden),
    }
    if credential.is_some_and(|c| c.source == CredentialSource::Cookie)
        && !is_safe(&original.method)
        && !same_site_request(auth, headers, &original.host)
    {
        return Err(RequestError::CsrfRejected);
    }
    let mut response = json(StatusCode::OK, &serde_json::json!({}));
    if let Some(identity) = &identity {
        inject_identity(response.headers_mut(), &auth.settings.headers, identity)
            .map_err(internal)?;
    }
    Ok(response)
}
