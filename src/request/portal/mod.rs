//! The gateway's own endpoints under `auth.prefix` (default `/.auth`), on every host: step
//! 2 of the pipeline. The path and method are parsed once into an [`Endpoint`], then
//! dispatched; each endpoint has a file of its own.
//!
//! | endpoint | file | |
//! |---|---|---|
//! | `GET login` | `login` | the sign-in page |
//! | `POST login` | `login` | form → 303 + cookie; JSON → 200 token + cookie; throttled → 429 |
//! | `GET logout` | `logout` | a confirmation page (a GET never signs anybody out) |
//! | `POST logout` | `logout` | revoke the session, expire the cookie, 303 |
//! | `GET me` | `me` | the current identity as JSON, or 401 |
//! | `* verify` | `verify` | forward-auth for nginx `auth_request`, Traefik, Caddy |
//! | `GET jwks.json` | `jwks` | public keys (asymmetric algorithms only) |
//! | `GET oidc/<name>/start` | `oidc` | a new login attempt at the provider: 302 + attempt cookie |
//! | `GET oidc/<name>/callback` | `oidc` | the provider's answer → our token and cookie, or a page |
//!
//! `context` is what every endpoint is given; `form` reads bodies and fields for login and
//! logout; `pages` writes the HTML. Anything
//! else under the prefix is 404. Logs name the user and the outcome, never a password or a
//! token.

mod context;
mod form;
mod jwks;
mod login;
mod logout;
mod me;
mod oidc;
mod pages;
mod verify;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::Pipeline;
use super::error::RequestError;
use crate::auth::Auth;
use crate::http::Body;
pub(super) use context::EndpointContext;

/// One of the gateway's own endpoints, by path and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint<'a> {
    /// `GET login`.
    LoginPage,
    /// `POST login`.
    Login,
    /// `GET logout`.
    LogoutPage,
    /// `POST logout`.
    Logout,
    /// `GET me`.
    Me,
    /// `verify`, any method (the proxy may ask with the original one).
    Verify,
    /// `GET jwks.json`.
    Jwks,
    /// `GET oidc/<name>/start`.
    OidcStart(&'a str),
    /// `GET oidc/<name>/callback`.
    OidcCallback(&'a str),
}

impl<'a> Endpoint<'a> {
    /// The endpoint at `path` (after the prefix) for `method`; `HEAD` goes where `GET` does.
    fn parse(path: &'a str, method: &Method) -> Option<Endpoint<'a>> {
        let read = *method == Method::GET || *method == Method::HEAD;
        let post = *method == Method::POST;
        match path {
            "/login" if read => Some(Endpoint::LoginPage),
            "/login" if post => Some(Endpoint::Login),
            "/logout" if read => Some(Endpoint::LogoutPage),
            "/logout" if post => Some(Endpoint::Logout),
            "/me" if read => Some(Endpoint::Me),
            "/verify" => Some(Endpoint::Verify),
            "/jwks.json" if read => Some(Endpoint::Jwks),
            _ if read => Self::parse_oidc(path),
            _ => None,
        }
    }

    /// `/oidc/<name>/start` or `/oidc/<name>/callback`, `name` one non-empty segment.
    fn parse_oidc(path: &'a str) -> Option<Endpoint<'a>> {
        let rest = path.strip_prefix("/oidc/")?;
        let (name, step) = rest.split_once('/')?;
        if name.is_empty() || name.contains('/') {
            return None;
        }
        match step {
            "start" => Some(Endpoint::OidcStart(name)),
            "callback" => Some(Endpoint::OidcCallback(name)),
            _ => None,
        }
    }
}

/// Dispatches a request under the prefix.
///
/// # Errors
/// Any [`RequestError`]; the caller renders it.
pub(super) async fn handle(
    pipeline: &Pipeline,
    auth: &Auth,
    request: Request<Incoming>,
    context: EndpointContext<'_>,
) -> Result<Response<Body>, RequestError> {
    match Endpoint::parse(context.endpoint, request.method()).ok_or(RequestError::NoRoute)? {
        Endpoint::LoginPage => Ok(login::show(auth, &request, &context)),
        Endpoint::Login => login::sign_in(auth, request, &context).await,
        Endpoint::LogoutPage => Ok(logout::show(auth, &request, &context)),
        Endpoint::Logout => logout::sign_out(auth, request, &context).await,
        Endpoint::Me => me::respond(auth, request.headers(), &context).await,
        Endpoint::Verify => verify::respond(pipeline, auth, &request, &context).await,
        Endpoint::Jwks => jwks::respond(auth),
        Endpoint::OidcStart(name) => oidc::start(auth, &request, &context, name).await,
        Endpoint::OidcCallback(name) => oidc::callback(auth, &request, &context, name).await,
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::Endpoint;

    #[test]
    fn each_endpoint_answers_its_methods_only() {
        let cases = [
            ("/login", Method::GET, Some(Endpoint::LoginPage)),
            ("/login", Method::HEAD, Some(Endpoint::LoginPage)),
            ("/login", Method::POST, Some(Endpoint::Login)),
            ("/login", Method::PUT, None),
            ("/logout", Method::GET, Some(Endpoint::LogoutPage)),
            ("/logout", Method::POST, Some(Endpoint::Logout)),
            ("/logout", Method::DELETE, None),
            ("/me", Method::GET, Some(Endpoint::Me)),
            ("/me", Method::POST, None),
            ("/verify", Method::GET, Some(Endpoint::Verify)),
            ("/verify", Method::POST, Some(Endpoint::Verify)),
            ("/jwks.json", Method::GET, Some(Endpoint::Jwks)),
            ("/jwks.json", Method::POST, None),
            ("", Method::GET, None),
            ("/", Method::GET, None),
            ("/login/", Method::GET, None),
            ("/LOGIN", Method::GET, None),
            (
                "/oidc/corp/start",
                Method::GET,
                Some(Endpoint::OidcStart("corp")),
            ),
            (
                "/oidc/corp/callback",
                Method::GET,
                Some(Endpoint::OidcCallback("corp")),
            ),
            ("/oidc/corp/callback", Method::POST, None),
            ("/oidc//start", Method::GET, None),
            ("/oidc/corp/other", Method::GET, None),
            ("/oidc/a/b/start", Method::GET, None),
            ("/oidc/corp", Method::GET, None),
        ];
        for (path, method, endpoint) in cases {
            assert_eq!(Endpoint::parse(path, &method), endpoint, "{method} {path}");
        }
    }
}
