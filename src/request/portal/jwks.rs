//! `GET jwks.json`: the public keys of asymmetric algorithms as an RFC 7517 JWK Set, for
//! upstreams that verify the gateway's tokens themselves. HS secrets are never published:
//! with an HS algorithm this is 404.

use http::{HeaderValue, Response, StatusCode, header};

use crate::auth::Auth;
use crate::http::{Body, json};
use crate::request::error::RequestError;

/// `GET jwks.json`.
pub(super) fn respond(auth: &Auth) -> Result<Response<Body>, RequestError> {
    let keys = auth.jwks().ok_or(RequestError::NoRoute)?;
    let mut response = json(StatusCode::OK, &keys);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
