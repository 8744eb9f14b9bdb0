//! The `[auth.cookie]` settings: the cookie's name, its parent domains for single sign-on,
//! `Secure` and `SameSite`, and their validation (the name's `__Host-`/`__Secure-` prefix
//! rules, `SameSite=None` only with `Secure`). The domain list rules are shared with
//! `[auth.redirect] allowed_domains`. Building and reading the cookie is
//! `auth::session::cookie`'s business; this is only what the config says.

use serde::Deserialize;
use toml::Spanned;

use super::location::Problems;

/// Default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "gateway_token";

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Never sent on cross-site requests.
    Strict,
    /// Sent on top-level cross-site navigations (the default).
    #[default]
    Lax,
    /// Always sent; browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// The attribute's value in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// The `[auth.cookie]` settings, as validated by the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    /// Cookie name (an RFC 6265 token, see [`is_valid_cookie_name`]).
    pub name: String,
    /// Parent domains for single sign-on: lower-case, no leading dot.
    pub domains: Vec<String>,
    /// Add the `Secure` attribute.
    pub secure: bool,
    /// The `SameSite` attribute.
    pub same_site: SameSite,
}

/// True for an RFC 6265 cookie name: a non-empty RFC 9110 token.
pub fn is_valid_cookie_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCookie {
    name: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    secure: Option<bool>,
    same_site: Option<Spanned<String>>,
}

pub(super) fn validate_cookie(raw: RawCookie, problems: &mut Problems<'_>) -> CookieSettings {
    let raw_name_at = raw.name.as_ref().map(|n| n.span().start);
    let name = match raw.name {
        None => DEFAULT_COOKIE_NAME.to_owned(),
        Some(n) if is_valid_cookie_name(n.get_ref()) => n.into_inner(),
        Some(n) => {
            problems.add(
                n.span().start,
                format!("invalid cookie name {:?}", n.get_ref()),
            );
            DEFAULT_COOKIE_NAME.to_owned()
        }
    };
    let secure = raw.secure.unwrap_or(true);
    let same_site = match raw.same_site {
        None => SameSite::Lax,
        Some(s) => {
            match s.get_ref().as_str() {
                "Strict" => SameSite::Strict,
                "Lax" => SameSite::Lax,
                "None" if secure => SameSite::None,
                "None" => {
                    problems.add(s.span().start, "same_site = \"None\" requires secure = true (browsers refuse it otherwise)");
                    SameSite::Lax
                }
                other => {
                    problems.add(
                        s.span().start,
                        format!(
                            "invalid same_site {other:?}: expected \"Strict\", \"Lax\" or \"None\""
                        ),
                    );
                    SameSite::Lax
                }
            }
        }
    };
    let domains = domains(raw.domains, problems);
    if let Some(rule) = cookie_prefix_rule(&name, secure, !domains.is_empty()) {
        let at = raw_name_at.unwrap_or(0);
        problems.add(
            at,
            format!("cookie name {name:?}: {rule}; browsers would drop the cookie"),
        );
    }
    CookieSettings {
        name,
        domains,
        secure,
        same_site,
    }
}

/// The cookie-name prefix rule (RFC 6265bis §4.1.3, matched case-insensitively) that
/// `name` would break: `__Secure-` needs `Secure`; `__Host-` needs `Secure`, `Path=/` (the
/// gateway's cookie always has it) and no `Domain`, so it cannot be an SSO cookie.
fn cookie_prefix_rule(name: &str, secure: bool, has_domains: bool) -> Option<&'static str> {
    let prefixed = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    if prefixed("__Host-") && has_domains {
        Some("a __Host- cookie may not have a Domain, so it cannot be used with cookie.domains")
    } else if (prefixed("__Host-") || prefixed("__Secure-")) && !secure {
        Some("a __Host- or __Secure- cookie needs secure = true")
    } else {
        None
    }
}

pub(super) fn domains(list: Vec<Spanned<String>>, problems: &mut Problems<'_>) -> Vec<String> {
    list.into_iter()
        .filter_map(|d| match domain(d.get_ref()) {
            Some(valid) => Some(valid),
            None => {
                problems.add(
                    d.span().start,
                    format!(
                        "invalid domain {:?}: expected e.g. \"example.com\"",
                        d.get_ref()
                    ),
                );
                None
            }
        })
        .collect()
}

/// Lower-case, without a leading dot; `None` when not a plausible domain.
fn domain(text: &str) -> Option<String> {
    let d = text
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let plausible = !d.is_empty()
        && d.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    plausible.then_some(d)
}
