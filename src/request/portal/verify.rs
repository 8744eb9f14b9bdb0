//! `/.auth/verify`: forward-auth for nginx `auth_request`, Traefik `forwardAuth` and
//! Caddy `forward_auth`.
//!
//! The proxy in front of the app asks about a request the gateway never sees. Which request
//! comes from exactly one set of headers, the one `[forward_auth] url_from` names
//! (`original_url`): `X-Forwarded-Proto/-Host/-Uri/-Method` by default, or
//! `X-Original-URL` and `X-Original-Method`. The other set is ignored, never a fallback:
//! the proxy overwrites the headers it sets and passes the rest as the client wrote them.
//! A missing, repeated or malformed header of the chosen set is a 400, never a guess.
//!
//! The decision, in order: the route of the original host and path (normalized as for
//! proxied requests, so it is the route the gateway itself would apply); no route → 403
//! (`unmatched = "deny"`, the default) or "any signed-in user" (`"authenticated"`); then
//! the same access decision as the pipeline's (`auth::access`), applied to the *original*
//! method and host with the client's `Origin`/`Referer`. Every 401 carries `Location` of
//! the login page on the original host with `rd` = the original path, which the proxy can
//! hand to a browser. A 200 carries the identity headers for the proxy to copy upstream,
//! and a JSON body with the token's `amr` (empty on a public route).

use http::{HeaderMap, HeaderValue, Response, StatusCode};
use tracing::{debug, warn};

use super::context::internal;
use crate::auth::Auth;
use crate::auth::access::{AccessRequest, decide};
use crate::config::{Access, Unmatched};
use crate::http::{Body, json};
use crate::request::Pipeline;
use crate::request::error::{LoginHint, RequestError};
use crate::request::original_url::{Original, OriginalUrlError};
use crate::upstream::headers::inject_identity;

/// The policy of a URL no route matches under `unmatched = "authenticated"`.
static ANY_SIGNED_IN_USER: Access = Access::AUTHENTICATED;

/// The policy that applies to `route`'s match (`None`: no route), or the refusal.
fn policy(route: Option<&Access>, unmatched: Unmatched) -> Result<&Access, RequestError> {
    match (route, unmatched) {
        (Some(access), _) => Ok(access),
        (None, Unmatched::Authenticated) => Ok(&ANY_SIGNED_IN_USER),
        (None, Unmatched::Deny) => Err(RequestError::Forbidden),
    }
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
        original.authority,
        auth.settings().prefix
    );
    HeaderValue::from_str(&url).map_or(LoginHint::None, LoginHint::Location)
}

/// `verify`.
pub(super) async fn respond(
    pipeline: &Pipeline,
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Response<Body>, RequestError> {
    let settings = &pipeline.forward_auth;
    let original = Original::from_headers(headers, settings.url_from).map_err(|error| {
        if matches!(error, OriginalUrlError::Missing { .. }) {
            // A proxy that never sends the header is misconfigured: say so where the
            // operator looks. (Malformed values are the client's doing: debug, as usual.)
            warn!(%error, "forward-auth request without its original URL");
        }
        RequestError::from(error)
    })?;
    let route = pipeline
        .router
        .route(&original.host, &original.path)
        .map_err(RequestError::InvalidPath)?;
    let access = policy(route.map(|r| &r.access), settings.unmatched).inspect_err(|_| {
        debug!(scheme = %original.scheme, host = %original.host, path = %original.path, "forward-auth url matches no route");
    })?;
    let asked = AccessRequest {
        headers,
        method: &original.method,
        host: &original.host,
    };
    let granted = decide(Some(auth), access, asked)
        .await
        .map_err(|error| RequestError::denied(error, || login_location(auth, &original)))?;
    // The body reports the sign-in's `amr` (the identity headers carry nothing new).
    let amr = granted.token.as_ref().map_or(&[][..], |t| t.amr.as_slice());
    let mut response = json(StatusCode::OK, &serde_json::json!({ "amr": amr }));
    if let Some(identity) = granted.identity() {
        inject_identity(response.headers_mut(), &auth.settings().headers, identity)
            .map_err(internal)?;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::policy;
    use crate::config::{Access, Unmatched};
    use crate::request::error::RequestError;

    #[test]
    fn a_url_no_route_matches_is_refused_unless_configured_otherwise() {
        assert!(matches!(
            policy(None, Unmatched::Deny),
            Err(RequestError::Forbidden)
        ));
        assert_eq!(
            policy(None, Unmatched::Authenticated).expect("allowed"),
            &Access::AUTHENTICATED
        );
        // A matching route's own rule applies whatever `unmatched` says.
        for unmatched in [Unmatched::Deny, Unmatched::Authenticated] {
            assert_eq!(
                policy(Some(&Access::Public), unmatched).expect("route"),
                &Access::Public
            );
            let groups = Access::Groups {
                groups: vec!["admins".to_owned()],
                second_factor: false,
            };
            assert_eq!(policy(Some(&groups), unmatched).expect("route"), &groups);
        }
    }
}
