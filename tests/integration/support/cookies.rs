//! The gateway's session cookie: its name, `Set-Cookie` parsing, and the attributes every
//! gateway cookie must carry.

use http::HeaderMap;

/// `auth.cookie.name` (the default).
pub const COOKIE: &str = "gateway_token";
/// One parsed `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Attributes in order: lower-cased name, value (`None` for flags).
    pub attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';');
        let (name, value) = parts
            .next()
            .and_then(|nv| nv.split_once('='))
            .unwrap_or_else(|| panic!("Set-Cookie without name=value: {header}"));
        let attributes = parts
            .map(|attr| {
                let attr = attr.trim();
                match attr.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
                    None => (attr.to_ascii_lowercase(), None),
                }
            })
            .collect();
        SetCookie {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
        }
    }

    /// The value of attribute `name` (case-insensitive); `Some(None)` for a flag.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        let name = name.to_ascii_lowercase();
        self.attributes
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_deref())
    }

    pub fn has_flag(&self, name: &str) -> bool {
        matches!(self.attribute(name), Some(None))
    }

    pub fn value_of(&self, name: &str) -> Option<&str> {
        self.attribute(name).flatten()
    }
}

/// Every `Set-Cookie` of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<SetCookie> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| SetCookie::parse(v.to_str().expect("ascii Set-Cookie")))
        .collect()
}

/// The gateway's `Set-Cookie`, which must be present exactly once.
pub fn gateway_set_cookie(headers: &HeaderMap) -> SetCookie {
    let ours: Vec<SetCookie> = set_cookies(headers)
        .into_iter()
        .filter(|c| c.name == COOKIE)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "expected one {COOKIE} Set-Cookie: {headers:?}"
    );
    ours.into_iter().next().expect("one cookie")
}

/// Whether the response sets the gateway's cookie at all.
pub fn sets_gateway_cookie(headers: &HeaderMap) -> bool {
    set_cookies(headers).iter().any(|c| c.name == COOKIE)
}

/// Asserts the attributes every gateway cookie must carry on a host under example.test.
pub fn assert_session_cookie_attributes(cookie: &SetCookie) {
    assert_eq!(
        cookie.value_of("domain"),
        Some("example.test"),
        "{cookie:?}"
    );
    assert_eq!(cookie.value_of("path"), Some("/"), "{cookie:?}");
    assert!(cookie.has_flag("httponly"), "HttpOnly: {cookie:?}");
    assert!(cookie.has_flag("secure"), "Secure: {cookie:?}");
    assert_eq!(
        cookie.value_of("samesite").map(str::to_ascii_lowercase),
        Some("lax".to_owned()),
        "{cookie:?}"
    );
}
