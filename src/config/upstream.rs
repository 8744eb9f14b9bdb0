//! Where a route sends its requests: `"http://host:port"` or `"builtin:whoami"`.
//!
//! Upstreams are plain HTTP: the gateway terminates TLS and the upstream network is the
//! trusted side (upstreams should accept traffic only from the gateway). An upstream URL is
//! an origin only — no path, query or userinfo — because the forwarded path is exactly the
//! path that was authorized; a base path would make the two differ.

use std::fmt;

use http::uri::{Authority, Scheme, Uri};
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// One upstream target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A plain-HTTP origin.
    Http {
        /// `host:port` (port defaults to 80).
        authority: Authority,
    },
    /// The built-in diagnostic upstream that echoes what it received.
    Whoami,
}

impl Upstream {
    /// The scheme sent to upstreams: always `http`.
    pub fn scheme() -> Scheme {
        Scheme::HTTP
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
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "upstream {text:?}: https upstreams are not supported; the gateway terminates TLS and speaks plain HTTP to upstreams on the trusted network"
                ));
            }
            _ => {
                return Err(format!(
                    "invalid upstream URL {text:?}: expected \"http://host:port\" or \"builtin:whoami\""
                ));
            }
        }
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
            None => format!("{}:80", authority.host())
                .parse()
                .map_err(|e| format!("invalid upstream URL {text:?}: {e}"))?,
        };
        Ok(Upstream::Http { authority })
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Http { authority } => write!(f, "http://{authority}"),
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
    fn unusable_upstreams_are_rejected_with_a_reason() {
        for (bad, reason) in [
            ("https://a:1", "not supported"),
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
