//! Comma-separated header lists such as `Connection` and `Upgrade` (RFC 9110 §5.6.1):
//! whether any of a header's field lines lists a token, matched case-insensitively.

use http::header::{HeaderMap, HeaderName};

/// Whether one of the `name` field lines lists `token` (`Connection: keep-alive, Close`
/// lists `close`). A value that is not visible ASCII lists nothing.
pub fn lists_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|listed| listed.trim().eq_ignore_ascii_case(token))
        })
    })
}

#[cfg(test)]
mod tests {
    use http::header;

    use super::*;
    use crate::http::test_headers;

    #[test]
    fn a_token_is_found_in_any_line_in_any_case_and_only_whole() {
        let headers = test_headers(&[("connection", "keep-alive"), ("connection", " Foo , CLOSE")]);
        assert!(lists_token(&headers, header::CONNECTION, "close"));
        assert!(lists_token(&headers, header::CONNECTION, "foo"));
        assert!(!lists_token(&headers, header::CONNECTION, "clos"));
        assert!(!lists_token(&headers, header::UPGRADE, "close"));
        let closer = test_headers(&[("connection", "closer")]);
        assert!(!lists_token(&closer, header::CONNECTION, "close"));
    }
}
