//! Which credential a request carries: an `Authorization` header (`Bearer <jwt>`, or a bare
//! JWT with `accept_raw_authorization`) wins over our cookie; two `Authorization` headers
//! are refused, and so is a `Bearer` scheme with no token (RFC 6750 §3.1 `invalid_request`:
//! a client that meant to send a token and has none, which must not fall back to a cookie
//! it may not know it sends). Verifying the token is [`Auth`](crate::auth::Auth)'s business.
//!
//! Our cookie may come more than once — after a `cookie.domains` change, or tossed by a
//! sibling subdomain — and the client cannot tell which copy is which (only `name=value`
//! is sent). The credential is the first copy that is text;
//! [`Auth::verify_credential`](crate::auth::Auth::verify_credential) tries the others when
//! it does not verify.

use http::{HeaderMap, header};

use super::cookie;

/// Why the request's credential cannot be read: the client sent something ambiguous or
/// empty, which is refused rather than guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Two `Authorization` headers.
    #[error("more than one Authorization header")]
    TwoAuthorizationHeaders,
    /// Every copy of our cookie has a value that is not text.
    #[error("the gateway cookie's value is not text")]
    CookieNotText,
    /// `Authorization: Bearer` with no token (RFC 6750 §3.1 `invalid_request`).
    #[error("bearer scheme without a token")]
    EmptyBearer,
}

/// Where a credential came from; it decides CSRF checks, renewal and what is stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `Authorization: Bearer <jwt>` or `Authorization: <jwt>`.
    Header,
    /// Our cookie.
    Cookie,
}

/// A token found in a request.
#[derive(Debug, Clone, Copy)]
pub struct Credential<'a> {
    /// The compact JWT.
    pub token: &'a str,
    /// Where it came from.
    pub source: CredentialSource,
    /// Whether more copies of our cookie follow this one (only then are they tried when
    /// this one does not verify, so the common single cookie is scanned for once).
    pub more_copies: bool,
}

/// The gateway credential of `headers`, as [`Auth::credential`](crate::auth::Auth::credential)
/// finds it for the cookie `cookie_name` and the `accept_raw_authorization` setting. Public
/// for the fuzz targets.
///
/// # Errors
/// [`CredentialError::TwoAuthorizationHeaders`], [`CredentialError::CookieNotText`] when
/// every copy of our cookie is not text, [`CredentialError::EmptyBearer`] for
/// `Authorization: Bearer` without a token.
#[doc(hidden)]
pub fn find_credential<'a>(
    headers: &'a HeaderMap,
    cookie_name: &str,
    accept_raw_authorization: bool,
) -> Result<Option<Credential<'a>>, CredentialError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let first = authorization.next();
    if authorization.next().is_some() {
        return Err(CredentialError::TwoAuthorizationHeaders);
    }
    if first.is_some_and(is_empty_bearer) {
        return Err(CredentialError::EmptyBearer);
    }
    if let Some(token) = first.and_then(|v| authorization_token(v, accept_raw_authorization)) {
        return Ok(Some(Credential {
            token,
            source: CredentialSource::Header,
            more_copies: false,
        }));
    }
    let mut copies = cookie::values(headers, cookie_name).peekable();
    if copies.peek().is_none() {
        return Ok(None);
    }
    let token = copies
        .find_map(|value| std::str::from_utf8(value).ok())
        .ok_or(CredentialError::CookieNotText)?;
    Ok(Some(Credential {
        token,
        source: CredentialSource::Cookie,
        more_copies: copies.next().is_some(),
    }))
}

/// `Bearer <jwt>` (scheme case-insensitive, one space), or a bare JWT when
/// `accept_raw_authorization`; any other scheme is not ours.
fn authorization_token(value: &http::HeaderValue, accept_raw_authorization: bool) -> Option<&str> {
    let value = value.to_str().ok()?;
    if let Some((scheme, rest)) = value.split_once(' ') {
        return scheme.eq_ignore_ascii_case("bearer").then_some(rest);
    }
    (accept_raw_authorization && looks_like_jwt(value)).then_some(value)
}

/// `Bearer` with nothing (or only white space) after it.
fn is_empty_bearer(value: &http::HeaderValue) -> bool {
    value.to_str().is_ok_and(|value| {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        scheme.eq_ignore_ascii_case("bearer") && rest.trim().is_empty()
    })
}

/// Three non-empty base64url segments separated by dots.
fn looks_like_jwt(value: &str) -> bool {
    let mut parts = value.split('.');
    let is_segment = |s: Option<&str>| {
        s.is_some_and(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    is_segment(parts.next())
        && is_segment(parts.next())
        && is_segment(parts.next())
        && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::{is_empty_bearer, looks_like_jwt};

    #[test]
    fn bearer_without_a_token_is_empty() {
        for empty in ["Bearer", "bearer", "BEARER ", "Bearer   "] {
            let value = http::HeaderValue::from_static(empty);
            assert!(is_empty_bearer(&value), "{empty:?}");
        }
        for not in ["Bearer x", "Basic", "Basic ", "Bearerx", "eyJh.eyJz.c2ln"] {
            let value = http::HeaderValue::from_static(not);
            assert!(!is_empty_bearer(&value), "{not:?}");
        }
    }

    #[test]
    fn raw_authorization_must_look_like_a_jwt() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(looks_like_jwt("a-_.b.c"));
        for not in [
            "",
            "a.b",
            "a.b.c.d",
            "a..c",
            "a.b.c=",
            "Basic abc",
            "a.b.c ",
            "a+b.c.d",
        ] {
            assert!(!looks_like_jwt(not), "{not:?}");
        }
    }
}
