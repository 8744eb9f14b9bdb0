//! `[forward_auth]`: how `/.auth/verify` learns which request a proxy asks about.
//!
//! The original request comes from exactly one set of headers, chosen here by the operator
//! (`url_from`); the other set is ignored, never a fallback, because a header the proxy does
//! not overwrite is a header the client wrote. `unmatched` says what a URL no route matches
//! gets: by default a 403, so a host or path the gateway was never told about is not vouched
//! for. Both values are parsed in `Deserialize`, so a bad one is reported at its position.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Which headers carry the original request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlSource {
    /// `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Uri` and `X-Forwarded-Method`
    /// (Traefik, Caddy, the shipped nginx example).
    #[default]
    XForwarded,
    /// `X-Original-URL` and `X-Original-Method` (ingress-nginx).
    XOriginalUrl,
}

impl UrlSource {
    /// The value as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlSource::XForwarded => "x-forwarded",
            UrlSource::XOriginalUrl => "x-original-url",
        }
    }
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a forward-auth request for a URL that matches no route gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmatched {
    /// 403: the gateway vouches only for what its routes name.
    #[default]
    Deny,
    /// Any signed-in user passes (the rule before `[forward_auth]` existed); `check` warns.
    Authenticated,
}

impl Unmatched {
    /// The value as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Unmatched::Deny => "deny",
            Unmatched::Authenticated => "authenticated",
        }
    }
}

/// `[forward_auth]`, validated. The default is what an absent section means.
#[derive(Debug, Clone, Default)]
pub struct ForwardAuthSettings {
    /// Where the original URL comes from.
    pub url_from: UrlSource,
    /// What a URL no route matches gets.
    pub unmatched: Unmatched,
    /// Where `unmatched` was written, for `check`'s warning.
    pub unmatched_at: Option<super::location::Location>,
}

/// `[forward_auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForwardAuth {
    url_from: Option<UrlSource>,
    unmatched: Option<toml::Spanned<Unmatched>>,
}

/// One of `choices` (value, name) by its name, else a message listing them all.
fn one_of<'de, D: Deserializer<'de>, T: Copy>(
    deserializer: D,
    key: &str,
    choices: &[(T, &str)],
) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    choices
        .iter()
        .find(|(_, name)| *name == text)
        .map(|(value, _)| *value)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(_, n)| format!("{n:?}")).collect();
            de::Error::custom(format!(
                "invalid {key} {text:?}: expected {}",
                names.join(" or ")
            ))
        })
}

impl<'de> Deserialize<'de> for UrlSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let choices = [UrlSource::XForwarded, UrlSource::XOriginalUrl].map(|v| (v, v.as_str()));
        one_of(deserializer, "url_from", &choices)
    }
}

impl<'de> Deserialize<'de> for Unmatched {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let choices = [Unmatched::Deny, Unmatched::Authenticated].map(|v| (v, v.as_str()));
        one_of(deserializer, "unmatched", &choices)
    }
}

/// The settings of `raw` (absent: the defaults). Nothing here can fail after parsing.
pub(super) fn validate_forward_auth(
    raw: Option<RawForwardAuth>,
    locator: &super::location::Locator<'_>,
) -> ForwardAuthSettings {
    let raw = raw.unwrap_or_default();
    let (unmatched, unmatched_at) = match raw.unmatched {
        Some(spanned) => {
            let located = locator.located(spanned);
            (located.value, Some(located.at))
        }
        None => (Unmatched::default(), None),
    };
    ForwardAuthSettings {
        url_from: raw.url_from.unwrap_or_default(),
        unmatched,
        unmatched_at,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Unmatched, UrlSource};
    use crate::config::{Config, ConfigError};

    const BASE: &str = "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
                        [[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n";

    fn load(section: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{BASE}{section}"), Path::new("/etc/gateway"))
    }

    fn error(section: &str) -> String {
        load(section).expect_err("must be refused").to_string()
    }

    #[test]
    fn absent_section_means_x_forwarded_and_deny() {
        let config = load("").expect("valid");
        assert_eq!(config.forward_auth.url_from, UrlSource::XForwarded);
        assert_eq!(config.forward_auth.unmatched, Unmatched::Deny);
        assert!(config.forward_auth.unmatched_at.is_none());
    }

    #[test]
    fn both_values_are_read() {
        let config =
            load("[forward_auth]\nurl_from = \"x-original-url\"\nunmatched = \"authenticated\"\n")
                .expect("valid");
        assert_eq!(config.forward_auth.url_from, UrlSource::XOriginalUrl);
        assert_eq!(config.forward_auth.unmatched, Unmatched::Authenticated);
        let at = config.forward_auth.unmatched_at.expect("position");
        assert_eq!((at.line, at.col), (9, 13));
        let config = load("[forward_auth]\nurl_from = \"x-forwarded\"\nunmatched = \"deny\"\n")
            .expect("valid");
        assert_eq!(config.forward_auth.url_from, UrlSource::XForwarded);
        assert_eq!(config.forward_auth.unmatched, Unmatched::Deny);
    }

    #[test]
    fn bad_values_are_positioned_errors_naming_the_choices() {
        let message = error("[forward_auth]\nurl_from = \"X-Original-URL\"\n");
        assert!(message.starts_with("<config>:8:12: "), "{message}");
        assert!(
            message.contains("invalid url_from \"X-Original-URL\": expected \"x-forwarded\" or \"x-original-url\""),
            "{message}"
        );
        let message = error("[forward_auth]\nunmatched = \"allow\"\n");
        assert!(message.starts_with("<config>:8:13: "), "{message}");
        assert!(
            message.contains("expected \"deny\" or \"authenticated\""),
            "{message}"
        );
        let message = error("[forward_auth]\nunmatched = true\n");
        assert!(message.starts_with("<config>:8:13: "), "{message}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let message = error("[forward_auth]\ntrust_x_original_url = true\n");
        assert!(message.starts_with("<config>:8:1: "), "{message}");
        assert!(message.contains("trust_x_original_url"), "{message}");
    }
}
