//! Tests of `cookie`.

use std::time::Duration;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use super::{
    CookieError, CookieSettings, SetCookieError, clear_cookies, cookie_domain, device_cookie_name,
    find_token, set_cookie, set_device_cookie, strip_ours,
};
use crate::config::{SameSite, is_valid_cookie_name};

const NAME: &str = "gateway_token";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

fn settings(domains: &[&str]) -> CookieSettings {
    CookieSettings {
        name: NAME.to_owned(),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        secure: true,
        same_site: SameSite::Lax,
    }
}

fn cookies(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(COOKIE, HeaderValue::from_str(value).expect("valid header"));
    }
    headers
}

fn cookie_values(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect()
}

#[test]
fn find_token_returns_our_cookie_among_others() {
    let headers = cookies(&[&format!("a=1; {NAME}={JWT}; b=2")]);
    assert_eq!(find_token(&headers, NAME), Ok(Some(JWT)));
}

#[test]
fn find_token_looks_through_every_cookie_header() {
    let headers = cookies(&["a=1", "b=2", &format!("{NAME}={JWT}")]);
    assert_eq!(find_token(&headers, NAME), Ok(Some(JWT)));
}

#[test]
fn find_token_tolerates_spaces_and_tabs_around_separators() {
    let headers = cookies(&[&format!("a=1 ;\t{NAME} = {JWT} ;b=2")]);
    assert_eq!(find_token(&headers, NAME), Ok(Some(JWT)));
    let headers = cookies(&[&format!("{NAME}={JWT};a=1")]);
    assert_eq!(find_token(&headers, NAME), Ok(Some(JWT)));
}

#[test]
fn find_token_strips_optional_double_quotes() {
    let headers = cookies(&[&format!("{NAME}=\"{JWT}\"")]);
    assert_eq!(find_token(&headers, NAME), Ok(Some(JWT)));
}

#[test]
fn find_token_without_our_cookie_is_none() {
    assert_eq!(find_token(&HeaderMap::new(), NAME), Ok(None));
    let headers = cookies(&["a=1; gateway_token_old=x; xgateway_token=y; gateway_token"]);
    assert_eq!(find_token(&headers, NAME), Ok(None));
}

#[test]
fn cookie_names_compare_case_sensitively() {
    let headers = cookies(&["Gateway_Token=x; GATEWAY_TOKEN=y"]);
    assert_eq!(find_token(&headers, NAME), Ok(None));
}

#[test]
fn two_gateway_cookies_in_one_header_are_a_duplicate() {
    let headers = cookies(&[&format!("{NAME}={JWT}; {NAME}=tossed")]);
    assert_eq!(find_token(&headers, NAME), Err(CookieError::Duplicate));
}

#[test]
fn two_gateway_cookies_in_separate_headers_are_a_duplicate() {
    let headers = cookies(&[&format!("{NAME}={JWT}"), &format!("{NAME}={JWT}")]);
    assert_eq!(find_token(&headers, NAME), Err(CookieError::Duplicate));
}

#[test]
fn an_empty_gateway_cookie_is_ignored_and_not_a_duplicate() {
    let headers = cookies(&[&format!("{NAME}=; {NAME}={JWT}")]);
    assert_eq!(find_token(&headers, NAME), Ok(Some(JWT)));
    assert_eq!(find_token(&cookies(&[&format!("{NAME}=")]), NAME), Ok(None));
}

#[test]
fn a_non_utf8_gateway_cookie_value_is_an_error() {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_bytes(b"gateway_token=\xff\xfe").expect("obs-text");
    headers.append(COOKIE, value);
    assert_eq!(find_token(&headers, NAME), Err(CookieError::ValueNotText));
}

#[test]
fn non_ascii_bytes_in_other_cookies_do_not_matter() {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_bytes(b"pref=caf\xc3\xa9; gateway_token=t.o.k").expect("ok");
    headers.append(COOKIE, value);
    assert_eq!(find_token(&headers, NAME), Ok(Some("t.o.k")));
}

#[test]
fn strip_ours_keeps_other_cookies_byte_for_byte_in_order() {
    let mut headers = cookies(&[&format!("a=1; {NAME}={JWT}; b=\"two\";c=3")]);
    strip_ours(&mut headers, NAME);
    assert_eq!(cookie_values(&headers), ["a=1; b=\"two\";c=3"]);
}

#[test]
fn strip_ours_handles_our_cookie_first_or_last() {
    let mut headers = cookies(&[&format!("{NAME}={JWT}; a=1"), &format!("b=2;{NAME}=x")]);
    strip_ours(&mut headers, NAME);
    assert_eq!(cookie_values(&headers), ["a=1", "b=2"]);
}

#[test]
fn strip_ours_drops_headers_left_empty_and_keeps_header_order() {
    let mut headers = cookies(&["a=1", &format!("{NAME}={JWT}"), "b=2", &format!("{NAME}=")]);
    strip_ours(&mut headers, NAME);
    assert_eq!(cookie_values(&headers), ["a=1", "b=2"]);
    let mut headers = cookies(&[&format!(" {NAME}={JWT} ; ")]);
    strip_ours(&mut headers, NAME);
    assert!(headers.get(COOKIE).is_none());
}

#[test]
fn strip_ours_leaves_headers_without_our_cookie_untouched() {
    let mut headers = cookies(&["a=1;  b=2 ", "Gateway_Token=x"]);
    headers.insert("x-other", HeaderValue::from_static("y"));
    let before = headers.clone();
    strip_ours(&mut headers, NAME);
    assert_eq!(headers, before);
}

#[test]
fn strip_ours_removes_every_copy_and_keeps_non_ascii_neighbours() {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_bytes(b"x=caf\xc3\xa9; gateway_token=1; gateway_token=2")
        .expect("obs-text");
    headers.append(COOKIE, value);
    strip_ours(&mut headers, NAME);
    let left: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    assert_eq!(left, [b"x=caf\xc3\xa9".as_slice()]);
}

#[test]
fn cookie_domain_matches_a_host_equal_to_the_domain() {
    assert_eq!(
        cookie_domain(&settings(&["example.com"]), "example.com"),
        Some("example.com")
    );
}

#[test]
fn cookie_domain_matches_deeper_subdomains() {
    let s = settings(&["example.com"]);
    assert_eq!(cookie_domain(&s, "app1.example.com"), Some("example.com"));
    assert_eq!(cookie_domain(&s, "a.b.c.example.com"), Some("example.com"));
    assert_eq!(cookie_domain(&s, "APP.Example.COM"), Some("example.com"));
    assert_eq!(cookie_domain(&s, "app.example.com."), Some("example.com"));
}

#[test]
fn cookie_domain_picks_the_longest_of_two_parent_domains() {
    let s = settings(&["example.com", "corp.example.com", "example.org"]);
    assert_eq!(
        cookie_domain(&s, "app.corp.example.com"),
        Some("corp.example.com")
    );
    assert_eq!(
        cookie_domain(&s, "corp.example.com"),
        Some("corp.example.com")
    );
    assert_eq!(cookie_domain(&s, "app.example.com"), Some("example.com"));
    assert_eq!(cookie_domain(&s, "www.example.org"), Some("example.org"));
    let reversed = settings(&["corp.example.com", "example.com"]);
    assert_eq!(
        cookie_domain(&reversed, "x.corp.example.com"),
        Some("corp.example.com")
    );
}

#[test]
fn cookie_domain_respects_label_boundaries() {
    let s = settings(&["example.com"]);
    for host in [
        "evilexample.com",
        "example.com.evil.net",
        "xample.com",
        "com",
        "",
        ".",
    ] {
        assert_eq!(cookie_domain(&s, host), None, "{host}");
    }
}

#[test]
fn set_cookie_has_every_attribute_and_the_parent_domain() {
    let value = set_cookie(
        &settings(&["example.com"]),
        "app.example.com",
        JWT,
        Duration::from_secs(7200),
    )
    .expect("valid cookie");
    assert_eq!(
        value.to_str().expect("ascii"),
        format!(
            "{NAME}={JWT}; Max-Age=7200; Path=/; Domain=example.com; HttpOnly; Secure; SameSite=Lax"
        )
    );
}

#[test]
fn set_cookie_for_a_host_under_no_domain_is_host_only() {
    let value = set_cookie(
        &settings(&["example.com"]),
        "other.net",
        JWT,
        Duration::from_secs(60),
    )
    .expect("valid cookie");
    let text = value.to_str().expect("ascii");
    assert!(!text.contains("Domain="), "{text}");
    assert!(
        text.contains("; Path=/; HttpOnly; Secure; SameSite=Lax"),
        "{text}"
    );
}

#[test]
fn set_cookie_follows_secure_and_same_site_settings() {
    let mut s = settings(&[]);
    s.secure = false;
    s.same_site = SameSite::Strict;
    let text = set_cookie(&s, "localhost", JWT, Duration::from_secs(1)).expect("valid");
    let text = text.to_str().expect("ascii");
    assert!(!text.contains("Secure"), "{text}");
    assert!(text.ends_with("; HttpOnly; SameSite=Strict"), "{text}");
    s.same_site = SameSite::None;
    s.secure = true;
    let text = set_cookie(&s, "localhost", JWT, Duration::from_secs(1)).expect("valid");
    assert!(
        text.to_str()
            .expect("ascii")
            .ends_with("; Secure; SameSite=None")
    );
}

#[test]
fn the_token_appears_only_as_the_cookie_value() {
    let token = "aaa.bbb.ccc";
    let value = set_cookie(
        &settings(&["example.com"]),
        "app.example.com",
        token,
        Duration::from_secs(5),
    )
    .expect("valid");
    let text = value.to_str().expect("ascii");
    assert_eq!(text.matches(token).count(), 1);
    let first_attribute = text.split(';').next().expect("one part");
    assert_eq!(first_attribute, format!("{NAME}={token}"));
    for cleared in clear_cookies(&settings(&["example.com"]), "app.example.com").expect("valid") {
        assert!(!cleared.to_str().expect("ascii").contains(token));
    }
}

#[test]
fn set_cookie_refuses_a_token_that_could_inject_attributes() {
    let s = settings(&["example.com"]);
    for token in ["", "a; Domain=evil.net", "a b", "a,b", "a\"b", "a\\b", "é"] {
        assert!(
            matches!(
                set_cookie(&s, "example.com", token, Duration::from_secs(5)),
                Err(SetCookieError::TokenNotCookieSafe)
            ),
            "{token:?}"
        );
    }
}

#[test]
fn clearing_expires_every_variant_the_gateway_may_have_set_current_first() {
    let texts = |domains: &[&str], host: &str| -> Vec<String> {
        clear_cookies(&settings(domains), host)
            .expect("valid")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    };
    let expired = |domain: &str| {
        format!(
            "{NAME}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/;{domain} \
             HttpOnly; Secure; SameSite=Lax"
        )
    };
    assert_eq!(
        texts(
            &["example.com", "app.example.com", "other.net"],
            "app.example.com"
        ),
        [
            expired(" Domain=app.example.com;"),
            expired(""),
            expired(" Domain=example.com;"),
        ]
    );
    assert_eq!(
        texts(&["example.com"], "other.net"),
        [expired("")],
        "host-only only"
    );
    assert_eq!(texts(&[], "h"), [expired("")]);
}

#[test]
fn a_cookie_name_that_cannot_form_a_header_is_an_error_not_a_panic() {
    let mut s = settings(&[]);
    s.name = "bad\nname".to_owned();
    assert!(matches!(
        clear_cookies(&s, "h"),
        Err(SetCookieError::InvalidSettings(_))
    ));
}

#[test]
fn valid_cookie_names_are_rfc_tokens() {
    assert!(is_valid_cookie_name("gateway_token"));
    assert!(is_valid_cookie_name("__Host-gw"));
    for bad in ["", "a b", "a=b", "a;b", "a,b", "é", "a\"b", "a(b)"] {
        assert!(!is_valid_cookie_name(bad), "{bad:?}");
    }
}

#[test]
fn the_device_cookie_is_strict_host_only_and_limited_to_the_auth_prefix() {
    let mut s = settings(&["example.com"]);
    s.secure = false;
    s.same_site = SameSite::None;
    let value = set_device_cookie(
        &s,
        "/.auth",
        "v1.YWxpY2U.aWQ.1.bWFj",
        Duration::from_secs(60),
    )
    .expect("valid");
    assert_eq!(
        value.to_str().expect("ascii"),
        format!(
            "{NAME}_device=v1.YWxpY2U.aWQ.1.bWFj; Max-Age=60; Path=/.auth; HttpOnly; Secure; \
             SameSite=Strict"
        ),
        "never Domain=, always Secure and Strict, whatever the session cookie's settings"
    );
    assert_eq!(device_cookie_name(&s), format!("{NAME}_device"));
    for path in ["/a;Domain=evil.example", "/a\nb", "relative"] {
        assert!(matches!(
            set_device_cookie(&s, path, "v", Duration::ZERO),
            Err(SetCookieError::PathNotCookieSafe)
        ));
    }
    for value in ["", "a;b", "a b"] {
        assert!(matches!(
            set_device_cookie(&s, "/.auth", value, Duration::ZERO),
            Err(SetCookieError::TokenNotCookieSafe)
        ));
    }
}
