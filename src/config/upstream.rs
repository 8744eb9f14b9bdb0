//! Where a route sends its requests: `"http://host:port"`, `"https://host:port"` or
//! `"builtin:whoami"`, and how the gateway verifies an HTTPS upstream ([`UpstreamTls`]).
//!
//! An upstream URL is an origin only — no path, query or userinfo — because the forwarded
//! path is exactly the path that was authorized; a base path would make the two differ.
//! An `https` upstream is verified like a browser would: its certificate must chain to the
//! system's roots, or to the route's `upstream_ca_file` alone, and name the URL's host; the
//! route may present a client certificate (`upstream_client_cert`/`_key`, mutual TLS).
//! The files are only named here, resolved against the config file's folder;
//! `crate::upstream` loads them.

use std::fmt;
use std::path::{Path, PathBuf};

use http::uri::{Authority, Scheme, Uri};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use super::location::{Located, Problems};

/// One upstream target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A plain-HTTP origin.
    Http {
        /// `host:port` (port defaults to 80).
        authority: Authority,
    },
    /// An HTTPS origin, verified against the route's trust roots and its host name.
    Https {
        /// `host:port` (port defaults to 443).
        authority: Authority,
    },
    /// The built-in diagnostic upstream that echoes what it received.
    Whoami,
}

impl Upstream {
    /// The network origin's `host:port`; `None` for the builtin.
    pub fn authority(&self) -> Option<&Authority> {
        match self {
            Upstream::Http { authority } | Upstream::Https { authority } => Some(authority),
            Upstream::Whoami => None,
        }
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        matches!(self, Upstream::Https { .. })
    }

    /// The scheme of requests to this upstream.
    pub fn scheme(&self) -> Scheme {
        if self.is_https() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        }
    }

    /// Parses config text.
    ///
    /// # Errors
    /// A message naming what is wrong with the URL.
    pub fn parse(text: &str) -> Result<Upstream, String> {
        if text == "builtin:whoami" {
            return Ok(Upstream::Whoami);
        }
        if let Some(name) = text.strip_prefix("builtin:") {
            return Err(format!(
                "unknown builtin upstream {name:?}: the only builtin is \"builtin:whoami\""
            ));
        }
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("invalid upstream URL {text:?}: {e}"))?;
        let (https, default_port) = match uri.scheme_str() {
            Some("http") => (false, 80),
            Some("https") => (true, 443),
            _ => {
                return Err(format!(
                    "invalid upstream URL {text:?}: expected \"http://host:port\", \"https://host:port\" or \"builtin:whoami\""
                ));
            }
        };
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| format!("upstream {text:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("upstream {text:?} must not contain userinfo"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "upstream {text:?} must be an origin without a path (the forwarded path is the request's own path)"
            ));
        }
        let authority = match authority.port_u16() {
            Some(_) => authority.clone(),
            None => format!("{}:{default_port}", authority.host())
                .parse()
                .map_err(|e| format!("invalid upstream URL {text:?}: {e}"))?,
        };
        Ok(if https {
            Upstream::Https { authority }
        } else {
            Upstream::Http { authority }
        })
    }
}

/// How a route's HTTPS upstreams are verified, and what it presents to them.
#[derive(Debug, Clone, Default)]
pub struct UpstreamTls {
    /// Trust only the CA certificates in this PEM file (default: the system's roots).
    pub ca_file: Option<Located<PathBuf>>,
    /// The client certificate chain and key presented to the upstream (mutual TLS).
    pub client_identity: Option<(Located<PathBuf>, Located<PathBuf>)>,
}

/// A route's upstream TLS keys as written.
pub(super) struct RawUpstreamTls {
    pub(super) ca_file: Option<Spanned<PathBuf>>,
    pub(super) client_cert: Option<Spanned<PathBuf>>,
    pub(super) client_key: Option<Spanned<PathBuf>>,
}

/// The route's upstream TLS settings: the files resolved against `base_dir`, the client
/// certificate and key only together, and only for a route with an `https` upstream.
pub(super) fn validate_upstream_tls(
    raw: RawUpstreamTls,
    upstreams: &[Upstream],
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> UpstreamTls {
    if !upstreams.iter().any(Upstream::is_https) {
        for (key, value) in [
            ("upstream_ca_file", &raw.ca_file),
            ("upstream_client_cert", &raw.client_cert),
            ("upstream_client_key", &raw.client_key),
        ] {
            if let Some(value) = value {
                problems.add(
                    value.span().start,
                    format!("{key} is for https upstreams; this route has none"),
                );
            }
        }
    }
    let client_identity = match (raw.client_cert, raw.client_key) {
        (Some(cert), Some(key)) => Some((
            problems.locator.resolved(cert, base_dir),
            problems.locator.resolved(key, base_dir),
        )),
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => {
            problems.add(
                one.span().start,
                "upstream_client_cert and upstream_client_key go together",
            );
            None
        }
    };
    UpstreamTls {
        ca_file: raw.ca_file.map(|f| problems.locator.resolved(f, base_dir)),
        client_identity,
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Http { authority } => write!(f, "http://{authority}"),
            Upstream::Https { authority } => write!(f, "https://{authority}"),
            Upstream::Whoami => f.write_str("builtin:whoami"),
        }
    }
}

impl<'de> Deserialize<'de> for Upstream {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Upstream::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_origins_parse_with_default_port() {
        assert_eq!(
            Upstream::parse("http://127.0.0.1:9001").map(|u| u.to_string()),
            Ok("http://127.0.0.1:9001".to_owned())
        );
        assert_eq!(
            Upstream::parse("http://app.internal/").map(|u| u.to_string()),
            Ok("http://app.internal:80".to_owned())
        );
        assert_eq!(Upstream::parse("builtin:whoami"), Ok(Upstream::Whoami));
    }

    #[test]
    fn https_origins_parse_with_default_port() {
        let upstream = Upstream::parse("https://app.internal").expect("https");
        assert!(upstream.is_https());
        assert_eq!(upstream.to_string(), "https://app.internal:443");
        assert_eq!(
            Upstream::parse("https://10.0.0.1:8443/").map(|u| u.to_string()),
            Ok("https://10.0.0.1:8443".to_owned())
        );
    }

    #[test]
    fn unusable_upstreams_are_rejected_with_a_reason() {
        for (bad, reason) in [
            ("https://a:1/base", "without a path"),
            ("ftp://a", "expected"),
            ("127.0.0.1:9001", "expected"),
            ("http://a:1/base", "without a path"),
            ("http://a:1/?q", "without a path"),
            ("http://u:p@a:1", "userinfo"),
            ("builtin:nope", "unknown builtin"),
            ("http://", "invalid"),
            ("", "invalid"),
        ] {
            let err = Upstream::parse(bad).expect_err(bad);
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
    }
}
