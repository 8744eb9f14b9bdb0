//! The `[auth.cookie]` settings: the cookie's name, its parent domains for single sign-on,
//! `Secure` and `SameSite`. Building and reading the cookie is `auth::session::cookie`'s
//! business; this is only what the config says.

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
