//! `GET /.auth/verify`: forward-auth for nginx `auth_request`, Traefik `forwardAuth` and
//! Caddy `forward_auth`.
//!
//! The proxy in front of the app asks about a request the gateway never sees. Which request
//! comes from `X-Original-URL` (nginx setups), else from `X-Forwarded-Proto`,
//! `X-Forwarded-Host` and `X-Forwarded-Uri` (Traefik, Caddy). Host and path are normalized
//! exactly as for proxied requests, so the route and policy chosen here are the ones the
//! gateway itself would apply. A matching route's `access` rule decides (`public` → 200
//! without identity); no match → authentication only; headers that do not parse → 400.
//! Every 401 carries `Location` of the login page on the original host with `rd` = the
//! original path, which the proxy can hand to a browser.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Uri};
use tracing::debug;

use super::Auth;
use super::login::{internal, json};
use crate::error::{LoginHint, RequestError};
use crate::gateway::Snapshot;
use crate::policy::{Access, Decision, decide};
use crate::proxy::headers::{X_FORWARDED_HOST, inject_identity};
use crate::response::Body;
use crate::router::{normalize_host, normalize_path};

/// The request a forward-auth proxy asks about.
struct Original {
    host: String,
    authority: String,
    path: String,
    query: Option<String>,
}

/// `X-Original-URL`: the whole original URL (nginx setups).
static X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
/// `X-Forwarded-Uri`: the original path and query (Traefik, Caddy).
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// `X-Original-URL`, else `X-Forwarded-Proto/-Host/-Uri`; `None` when neither is there.
fn original_request(headers: &HeaderMap) -> Result<Option<Original>, RequestError> {
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .map(|v| v.to_str().map_err(|_| RequestError::InvalidOriginalUrl))
    };
    let (authority, target) = if let Some(url) = text(&X_ORIGINAL_URL) {
        let uri: Uri = url?.parse().map_err(|_| RequestError::InvalidOriginalUrl)?;
        let authority = uri
            .authority()
            .ok_or(RequestError::InvalidOriginalUrl)?
            .to_string();
        let target = uri
            .path_and_query()
            .map_or("/".to_owned(), |pq| pq.to_string());
        (authority, target)
    } else if let Some(host) = text(&X_FORWARDED_HOST) {
        let target = text(&X_FORWARDED_URI).transpose()?.unwrap_or("/");
        (host?.to_owned(), target.to_owned())
    } else {
        return Ok(None);
    };
    let target: http::uri::PathAndQuery = target
        .parse()
        .map_err(|_| RequestError::InvalidOriginalUrl)?;
    let host = normalize_host(&authority).map_err(RequestError::InvalidHost)?;
    let path = normalize_path(target.path()).map_err(RequestError::InvalidPath)?;
    Ok(Some(Original {
        host,
        authority,
        path,
        query: target.query().map(str::to_owned),
    }))
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
    let original = original_request(headers)?;
    let route = match &original {
        Some(o) => snapshot
            .router
            .route(&o.host, &o.path)
            .map_err(RequestError::InvalidPath)?,
        None => None,
    };
    let access = route.map_or(Access::Authenticated, |route| route.access.clone());
    let hint = || {
        original
            .as_ref()
            .map_or(LoginHint::None, |o| login_location(auth, o))
    };
    if access == Access::Public {
        return Ok(json(StatusCode::OK, &serde_json::json!({})));
    }
    let identity = match auth.credential(headers)? {
        None => None,
        Some(credential) => Some(
            auth.authenticate(credential.token, SystemTime::now())
                .map_err(|failure| {
                    debug!(reason = failure.reason(), "forward-auth token rejected");
                    RequestError::InvalidToken {
                        failure,
                        hint: hint(),
                    }
                })?,
        ),
    };
    match decide(&access, identity.as_deref()) {
        Decision::Allow => {}
        Decision::Unauthenticated => return Err(RequestError::Unauthenticated(hint())),
        Decision::Forbidden => return Err(RequestError::Forbidden),
    }
    let mut response = json(StatusCode::OK, &serde_json::json!({}));
    if let Some(identity) = &identity {
        inject_identity(response.headers_mut(), &auth.settings.headers, identity)
            .map_err(internal)?;
    }
    Ok(response)
}
