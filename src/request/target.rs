//! Step 1 of the pipeline: what a request is about, checked and normalized once.
//!
//! The method (`CONNECT` and asterisk-form targets have nothing to route; `TRACE`/`TRACK`
//! are refused before routing, so no route or upstream can opt back in to cross-site
//! tracing), the host (HTTP/1.1 absolute-form and HTTP/2 `:authority` rules, one `Host`
//! header, SNI consistency → 421) and the path (normalized by `router::normalize_path`).
//! The [`Target`] built here is the only view of the request's destination afterwards: the
//! path that is routed and authorized is byte for byte the path forwarded.

use std::net::SocketAddr;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Version};

use super::error::RequestError;
use crate::router::{normalize_host, normalize_path};

/// What the gateway knows about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The SNI name when it selected a dedicated `[[tls.sni]]` certificate.
    pub dedicated_sni: Option<String>,
}

/// The request's destination, validated and normalized.
#[derive(Debug)]
pub(super) struct Target {
    /// Lower-case host without port or trailing dot: what routing uses.
    pub(super) host: String,
    /// The authority as the client sent it: what the upstream receives as `Host`.
    pub(super) authority: HeaderValue,
    /// The normalized path plus the original query.
    pub(super) path_and_query: PathAndQuery,
}

impl Target {
    pub(super) fn path(&self) -> &str {
        self.path_and_query.path()
    }
}

/// Step 1 for the fuzz targets: the routing host and the normalized path and query, for a
/// connection without a dedicated SNI certificate.
///
/// # Errors
/// The [`RequestError`] the request would be answered with.
pub fn fuzz_request_target<B>(
    request: &Request<B>,
) -> Result<(String, PathAndQuery), RequestError> {
    let conn = ConnInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        dedicated_sni: None,
    };
    request_target(request, &conn).map(|target| (target.host, target.path_and_query))
}

/// Step 1: the host and normalized path (DESIGN: Precise rules → Host, Path normalization).
pub(super) fn request_target<B>(
    request: &Request<B>,
    conn: &ConnInfo,
) -> Result<Target, RequestError> {
    let uri = request.uri();
    if request.method() == Method::CONNECT || uri.path() == "*" {
        return Err(RequestError::UnsupportedTarget);
    }
    // Cross-site tracing: an upstream that echoes a TRACE would hand a script the request's
    // headers. Refused before routing, so no route or upstream can opt back in.
    if request.method() == Method::TRACE || request.method().as_str() == "TRACK" {
        return Err(RequestError::MethodNotAllowed);
    }
    let mut host_headers = request.headers().get_all(header::HOST).iter();
    let host_header = host_headers.next();
    if host_headers.next().is_some() {
        return Err(RequestError::DuplicateHost);
    }
    let authority = match (request.version(), uri.authority()) {
        // HTTP/2 `:authority` wins; a disagreeing `Host` is refused (RFC 9113 §8.3.1).
        (Version::HTTP_2, Some(authority)) => {
            if let Some(host_header) = host_header {
                let host_header = host_header
                    .to_str()
                    .map_err(|_| RequestError::ConflictingHost)?;
                let same =
                    normalize_host(host_header).ok() == normalize_host(authority.as_str()).ok();
                if !same {
                    return Err(RequestError::ConflictingHost);
                }
            }
            HeaderValue::from_str(authority.as_str()).map_err(|_| RequestError::MissingHost)?
        }
        // HTTP/1.1 absolute-form: the target's authority replaces `Host` (RFC 9112 §3.2.2).
        (_, Some(authority)) => {
            HeaderValue::from_str(authority.as_str()).map_err(|_| RequestError::MissingHost)?
        }
        (_, None) => host_header.cloned().ok_or(RequestError::MissingHost)?,
    };
    let authority_text = authority.to_str().map_err(|_| RequestError::MissingHost)?;
    let host = normalize_host(authority_text).map_err(RequestError::InvalidHost)?;
    if conn.dedicated_sni.as_ref().is_some_and(|sni| *sni != host) {
        return Err(RequestError::MisdirectedRequest);
    }
    let path = normalize_path(uri.path()).map_err(RequestError::InvalidPath)?;
    let path_and_query = match uri.query() {
        Some(query) => PathAndQuery::try_from(format!("{path}?{query}")),
        None => PathAndQuery::try_from(path),
    }
    .map_err(|e| RequestError::Internal(Box::new(e)))?;
    Ok(Target {
        host,
        authority,
        path_and_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(sni: Option<&str>) -> ConnInfo {
        ConnInfo {
            peer: "127.0.0.1:5000".parse().expect("addr"),
            dedicated_sni: sni.map(String::from),
        }
    }

    fn request(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::builder().version(version).uri(uri);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).expect("request")
    }

    #[test]
    fn http1_host_header_is_normalized_and_kept_for_forwarding() {
        let target = request_target(
            &request(Version::HTTP_11, "/a/./b?x=1", &["App.Example.com.:8443"]),
            &conn(None),
        )
        .expect("valid");
        assert_eq!(target.host, "app.example.com");
        assert_eq!(target.authority, "App.Example.com.:8443");
        assert_eq!(target.path_and_query.as_str(), "/a/b?x=1");
    }

    #[test]
    fn absolute_form_authority_replaces_host_header() {
        let target = request_target(
            &request(
                Version::HTTP_11,
                "http://app1.example.com/x",
                &["app2.example.com"],
            ),
            &conn(None),
        )
        .expect("valid");
        assert_eq!(target.host, "app1.example.com");
    }

    #[test]
    fn missing_or_duplicate_host_is_rejected() {
        let missing = request_target(&request(Version::HTTP_11, "/", &[]), &conn(None));
        assert!(matches!(missing, Err(RequestError::MissingHost)));
        let duplicate = request_target(&request(Version::HTTP_11, "/", &["a", "b"]), &conn(None));
        assert!(matches!(duplicate, Err(RequestError::DuplicateHost)));
    }

    #[test]
    fn http2_authority_disagreeing_with_host_is_rejected() {
        let conflicting = request_target(
            &request(
                Version::HTTP_2,
                "https://a.example.com/",
                &["b.example.com"],
            ),
            &conn(None),
        );
        assert!(matches!(conflicting, Err(RequestError::ConflictingHost)));
        let agreeing = request_target(
            &request(
                Version::HTTP_2,
                "https://a.example.com/",
                &["A.example.com:443"],
            ),
            &conn(None),
        );
        assert!(agreeing.is_ok());
    }

    #[test]
    fn host_other_than_dedicated_sni_is_misdirected() {
        let misdirected = request_target(
            &request(Version::HTTP_11, "/", &["b.example.com"]),
            &conn(Some("a.example.com")),
        );
        assert!(matches!(misdirected, Err(RequestError::MisdirectedRequest)));
        let same = request_target(
            &request(Version::HTTP_11, "/", &["A.example.com"]),
            &conn(Some("a.example.com")),
        );
        assert!(same.is_ok());
    }

    #[test]
    fn ambiguous_paths_and_unroutable_targets_are_rejected() {
        let above_root = request_target(&request(Version::HTTP_11, "/../etc", &["h"]), &conn(None));
        assert!(matches!(above_root, Err(RequestError::InvalidPath(_))));
        let encoded_slash =
            request_target(&request(Version::HTTP_11, "/a%2fb", &["h"]), &conn(None));
        assert!(matches!(encoded_slash, Err(RequestError::InvalidPath(_))));
        let asterisk = Request::builder()
            .method("OPTIONS")
            .uri("*")
            .header("host", "h")
            .body(())
            .expect("request");
        assert!(matches!(
            request_target(&asterisk, &conn(None)),
            Err(RequestError::UnsupportedTarget)
        ));
    }
}
