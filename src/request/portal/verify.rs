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

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tracing::{debug, warn};

use super::context::{EndpointContext, internal};
use crate::auth::Auth;
use crate::auth::access::{AccessRequest, RouteRule, decide};
use crate::auth::session::redirect::safe_redirect;
use crate::config::{Access, Unmatched};
use crate::http::{Body, json};
use crate::request::Pipeline;
use crate::request::error::{LoginHint, RequestError};
use crate::request::original_url::{Original, OriginalUrlError};
use crate::request::render::ClientKind;
use crate::router::Routed;
use crate::upstream::headers::{inject_auth_request_headers, inject_identity};

/// The policy of a URL no route matches under `unmatched = "authenticated"`.
static ANY_SIGNED_IN_USER: Access = Access::AUTHENTICATED;

/// The rule that applies to the original request's routing (`None`: no route), or the
/// refusal. A path whose routes serve other methods only is a 403 here, not a 405: nginx's
/// `auth_request` takes any answer but 2xx, 401 and 403 for a failure of its own.
fn policy<'p, T>(
    routed: Routed<'p, T>,
    rule: impl FnOnce(&'p T) -> RouteRule<'p>,
    unmatched: Unmatched,
) -> Result<RouteRule<'p>, RequestError> {
    match (routed, unmatched) {
        (Routed::Found(route), _) => Ok(rule(route)),
        (Routed::MethodNotAllowed(_), _) | (Routed::NotFound, Unmatched::Deny) => {
            Err(RequestError::Forbidden)
        }
        (Routed::NotFound, Unmatched::Authenticated) => Ok((&ANY_SIGNED_IN_USER).into()),
    }
}

/// Where a client that must sign in is sent: `https://host/.auth/login?rd=…`, with `rd`
/// the verify request's own `rd=` when it passes the redirect rules, else the original
/// path and query. A browser navigation, or any request with a safe `rd=`, gets a 302 to
/// it (Traefik and Caddy pass that on); anything else a 401 carrying it as `Location`.
fn login_hint(
    auth: &Auth,
    original: &Original,
    headers: &HeaderMap,
    query: Option<&str>,
) -> LoginHint {
    let settings = auth.settings();
    let asked_rd = query.and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "rd")
            .map(|(_, value)| value.into_owned())
    });
    let safe_rd = asked_rd
        .as_deref()
        .and_then(|rd| safe_redirect(rd, &settings.allowed_domains));
    if asked_rd.is_some() && safe_rd.is_none() {
        debug!("forward-auth rd= refused by the redirect rules");
    }
    let original_rd = match &original.query {
        Some(q) => format!("{}?{q}", original.path),
        None => original.path.clone(),
    };
    let rd = safe_rd.unwrap_or(&original_rd);
    let encoded: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    let url = format!(
        "https://{}{}/login?rd={encoded}",
        original.authority, settings.prefix
    );
    let Ok(location) = HeaderValue::from_str(&url) else {
        return LoginHint::None;
    };
    let navigation = ClientKind::of(&original.method, headers)
        .navigation
        .is_some();
    if safe_rd.is_some() || (navigation && asked_rd.is_none()) {
        LoginHint::Redirect(location)
    } else {
        LoginHint::Location(location)
    }
}

/// `verify`.
pub(super) async fn respond<B>(
    pipeline: &Pipeline,
    auth: &Auth,
    request: &Request<B>,
    context: &EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    let headers = request.headers();
    let settings = &pipeline.forward_auth;
    let original = Original::from_headers(headers, settings.url_from).map_err(|error| {
        if matches!(error, OriginalUrlError::Missing { .. }) {
            // A proxy that never sends the header is misconfigured: say so where the
            // operator looks. (Malformed values are the client's doing: debug, as usual.)
            warn!(%error, "forward-auth request without its original URL");
        }
        RequestError::from(error)
    })?;
    let routed = pipeline
        .router
        .route(&original.host, &original.path, &original.method)
        .map_err(RequestError::InvalidPath)?;
    let rule = policy(routed, |route| route.rule(), settings.unmatched).inspect_err(|_| {
        debug!(scheme = %original.scheme, method = %original.method, host = %original.host, path = %original.path, "forward-auth url matches no route for its method");
    })?;
    let asked = AccessRequest {
        headers,
        method: &original.method,
        host: &original.host,
        client: context.client_ip,
    };
    let granted = decide(Some(auth), rule, asked).await.map_err(|error| {
        RequestError::denied(error, || {
            login_hint(auth, &original, headers, request.uri().query())
        })
    })?;
    // The body reports the sign-in's `amr` (the identity headers carry nothing new).
    let amr = granted.token.as_ref().map_or(&[][..], |t| t.amr.as_slice());
    let mut response = json(StatusCode::OK, &serde_json::json!({ "amr": amr }));
    if let Some(identity) = granted.identity() {
        let headers = response.headers_mut();
        inject_identity(headers, &auth.settings().headers, identity).map_err(internal)?;
        inject_auth_request_headers(headers, identity).map_err(internal)?;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::policy;
    use crate::auth::access::RouteRule;
    use crate::config::{Access, Unmatched};
    use crate::request::error::RequestError;
    use crate::router::Routed;

    fn rule(access: &Access) -> RouteRule<'_> {
        access.into()
    }

    #[test]
    fn a_url_no_route_matches_is_refused_unless_configured_otherwise() {
        assert!(matches!(
            policy::<Access>(Routed::NotFound, rule, Unmatched::Deny),
            Err(RequestError::Forbidden)
        ));
        assert_eq!(
            policy::<Access>(Routed::NotFound, rule, Unmatched::Authenticated)
                .expect("allowed")
                .access,
            &Access::AUTHENTICATED
        );
        // A matching route's own rule applies whatever `unmatched` says; a path whose
        // routes serve other methods only is refused either way.
        for unmatched in [Unmatched::Deny, Unmatched::Authenticated] {
            let public = Access::Public;
            assert_eq!(
                policy(Routed::Found(&public), rule, unmatched)
                    .expect("route")
                    .access,
                &Access::Public
            );
            assert!(matches!(
                policy::<Access>(Routed::MethodNotAllowed(vec![Method::GET]), rule, unmatched),
                Err(RequestError::Forbidden)
            ));
        }
    }
}
