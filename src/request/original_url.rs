//! The original request of a forward-auth check, read from the one header set that
//! `[forward_auth] url_from` names.
//!
//! The headers of the other set are never looked at: a proxy overwrites the headers it
//! sets, and passes every other header as the client wrote it, so a fallback from one set
//! to the other is a way for the client to choose the URL that is judged. Every header of
//! the chosen set is required (a proxy that does not send one is misconfigured, and
//! guessing `/` or `GET` for it would judge a request nobody made) and may appear once.
//! Host and path are normalized exactly as for proxied requests, so the route chosen here is
//! the one the gateway itself would apply.

use http::uri::{PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, Method, Uri};

use crate::config::UrlSource;
use crate::router::{HostError, PathError, normalize_host, normalize_path};

/// `X-Forwarded-Proto`: the scheme the client used.
pub(super) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the host (and port) the client asked for.
pub(super) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Forwarded-Uri`: the original path and query.
pub(super) static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
/// `X-Forwarded-Method`: the original method.
pub(super) static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
/// `X-Original-URL`: the whole original URL (ingress-nginx).
pub(super) static X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
/// `X-Original-Method`: the original method (ingress-nginx).
pub(super) static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");

/// Why the original request could not be read; always the proxy's or the client's fault
/// (400), never a reason to fall back to another header.
#[derive(Debug, thiserror::Error)]
pub enum OriginalUrlError {
    /// A header of the chosen set is absent: the proxy in front does not send it.
    #[error(
        "forward-auth request lacks {header} (url_from = \"{url_from}\"); the proxy must set it"
    )]
    Missing {
        /// The header.
        header: &'static str,
        /// The configured source.
        url_from: UrlSource,
    },
    /// A header of the chosen set appears more than once (a proxy that appends to the
    /// client's copy instead of replacing it).
    #[error("{header} appears more than once")]
    Duplicate {
        /// The header.
        header: &'static str,
    },
    /// A header's value is not visible ASCII.
    #[error("{header} is not ASCII text")]
    NotText {
        /// The header.
        header: &'static str,
    },
    /// The scheme is neither `http` nor `https`.
    #[error("{header} names no http or https scheme")]
    Scheme {
        /// The header.
        header: &'static str,
    },
    /// Not an absolute URL (`X-Original-URL`) or not an origin-form path (`X-Forwarded-Uri`).
    #[error("{header} is not a valid URL or path")]
    Url {
        /// The header.
        header: &'static str,
    },
    /// The method is not an HTTP method token.
    #[error("{header} is not an HTTP method")]
    Method {
        /// The header.
        header: &'static str,
    },
    /// The host does not parse.
    #[error("{header} names an invalid host")]
    Host {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        #[source]
        source: HostError,
    },
    /// The path is ambiguous or malformed.
    #[error("{header} has an invalid path")]
    Path {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        #[source]
        source: PathError,
    },
}

/// The request a forward-auth proxy asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Original {
    /// `http` or `https`, as the client used it.
    pub scheme: Scheme,
    /// The client's method.
    pub method: Method,
    /// Host and port as the client wrote them (validated), for the login URL.
    pub authority: String,
    /// The normalized host, for routing.
    pub host: String,
    /// The normalized path, for routing.
    pub path: String,
    /// The query, as is.
    pub query: Option<String>,
}

impl Original {
    /// Reads the original request from the headers `source` names, ignoring the others.
    ///
    /// # Errors
    /// An [`OriginalUrlError`] naming the header that is missing, repeated or malformed.
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        source: UrlSource,
    ) -> Result<Original, OriginalUrlError> {
        match source {
            UrlSource::XForwarded => from_x_forwarded(headers),
            UrlSource::XOriginalUrl => from_x_original_url(headers),
        }
    }
}

/// The one value of `name`.
fn required<'a>(
    headers: &'a HeaderMap,
    name: &'static HeaderName,
    url_from: UrlSource,
) -> Result<&'a str, OriginalUrlError> {
    let header = name.as_str();
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or(OriginalUrlError::Missing { header, url_from })?;
    if values.next().is_some() {
        return Err(OriginalUrlError::Duplicate { header });
    }
    value
        .to_str()
        .map_err(|_| OriginalUrlError::NotText { header })
}

fn scheme(text: &str, header: &'static str) -> Result<Scheme, OriginalUrlError> {
    if text.eq_ignore_ascii_case("https") {
        Ok(Scheme::HTTPS)
    } else if text.eq_ignore_ascii_case("http") {
        Ok(Scheme::HTTP)
    } else {
        Err(OriginalUrlError::Scheme { header })
    }
}

fn method(text: &str, header: &'static str) -> Result<Method, OriginalUrlError> {
    Method::from_bytes(text.as_bytes()).map_err(|_| OriginalUrlError::Method { header })
}

/// `X-Forwarded-Proto` + `-Host` + `-Uri` + `-Method`.
fn from_x_forwarded(headers: &HeaderMap) -> Result<Original, OriginalUrlError> {
    let source = UrlSource::XForwarded;
    let proto = required(headers, &X_FORWARDED_PROTO, source)?;
    let authority = required(headers, &X_FORWARDED_HOST, source)?;
    let uri = required(headers, &X_FORWARDED_URI, source)?;
    let method_text = required(headers, &X_FORWARDED_METHOD, source)?;
    let uri_header = X_FORWARDED_URI.as_str();
    if !uri.starts_with('/') {
        return Err(OriginalUrlError::Url { header: uri_header });
    }
    let target: PathAndQuery = uri
        .parse()
        .map_err(|_| OriginalUrlError::Url { header: uri_header })?;
    build(
        scheme(proto, X_FORWARDED_PROTO.as_str())?,
        method(method_text, X_FORWARDED_METHOD.as_str())?,
        (authority, X_FORWARDED_HOST.as_str()),
        (&target, uri_header),
    )
}

/// `X-Original-URL` + `X-Original-Method`.
fn from_x_original_url(headers: &HeaderMap) -> Result<Original, OriginalUrlError> {
    let source = UrlSource::XOriginalUrl;
    let url = required(headers, &X_ORIGINAL_URL, source)?;
    let method_text = required(headers, &X_ORIGINAL_METHOD, source)?;
    let header = X_ORIGINAL_URL.as_str();
    let uri: Uri = url.parse().map_err(|_| OriginalUrlError::Url { header })?;
    let scheme = scheme(uri.scheme_str().unwrap_or_default(), header)?;
    let authority = uri.authority().ok_or(OriginalUrlError::Url { header })?;
    let root = PathAndQuery::from_static("/");
    let target = uri.path_and_query().unwrap_or(&root);
    build(
        scheme,
        method(method_text, X_ORIGINAL_METHOD.as_str())?,
        (authority.as_str(), header),
        (target, header),
    )
}

fn build(
    scheme: Scheme,
    method: Method,
    (authority, host_header): (&str, &'static str),
    (target, path_header): (&PathAndQuery, &'static str),
) -> Result<Original, OriginalUrlError> {
    let host = normalize_host(authority).map_err(|source| OriginalUrlError::Host {
        header: host_header,
        source,
    })?;
    let path = normalize_path(target.path()).map_err(|source| OriginalUrlError::Path {
        header: path_header,
        source,
    })?;
    Ok(Original {
        scheme,
        method,
        authority: authority.to_owned(),
        host,
        path,
        query: target.query().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests;
