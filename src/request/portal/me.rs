//! `GET me`: who the request's credential says it is, as JSON (`user`, `groups`, `email`,
//! `expires_at`, `amr`), or 401. The same access decision as a route open to any signed-in user.

use std::time::SystemTime;

use http::{HeaderMap, Method, Response, StatusCode};

use super::EndpointContext;
use crate::auth::Auth;
use crate::auth::access::{AccessRequest, decide};
use crate::config::Access;
use crate::http::{Body, json};
use crate::request::error::{LoginHint, RequestError};

/// `GET me`.
pub(super) async fn respond(
    auth: &Auth,
    headers: &HeaderMap,
    context: &EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    let asked = AccessRequest {
        headers,
        method: &Method::GET,
        host: context.host,
        client: context.client_ip,
    };
    let granted = decide(Some(auth), (&Access::AUTHENTICATED).into(), asked).await?;
    let token = granted
        .token
        .ok_or(RequestError::Unauthenticated(LoginHint::None))?;
    let expires_at = token
        .exp
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let identity = &token.identity;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "user": identity.user,
            "groups": identity.groups,
            "email": identity.email,
            "expires_at": expires_at,
            "amr": token.amr,
        }),
    ))
}
