//! `rd=` after a successful form login: relative paths and https URLs on allowed domains are
//! kept; everything an attacker could turn into an off-site redirect falls back to `/`.

use crate::support::cookies::gateway_set_cookie;
use crate::support::env::env;
use crate::support::users::ALICE_PASSWORD;

#[tokio::test]
async fn unsafe_rd_targets_after_form_login_fall_back_to_root() {
    let env = env().await;
    for rd in [
        "//evil.test",
        "//evil.test/path",
        "///evil.test",
        "/\\evil.test",
        "\\\\evil.test",
        "/\t/evil.test",
        "https://evil.test/",
        "https://evil.test",
        "https://example.test.evil.test/",
        "https://evilexample.test/",
        "https://app2.example.test.evil.test/p",
        "https:evil.test",
        "https:/evil.test",
        "https:///evil.test",
        "http://app2.example.test/p",
        "HTTP://evil.test/",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://user@evil.test",
        "https://user:pass@evil.test/",
        "https://app2.example.test@evil.test/",
        "https://evil.test\\@app2.example.test/",
        "https://evil.test#@app2.example.test/",
        " /x",
        " //evil.test",
        "/x\r\nSet-Cookie: a=b",
        "/x\0",
        "ftp://app2.example.test/",
    ] {
        let response = env
            .login_form("app1.example.test", "alice", ALICE_PASSWORD, Some(rd))
            .await;
        assert_eq!(response.status, 303, "{rd:?}: {}", response.text());
        assert_eq!(response.headers["location"], "/", "rd {rd:?}");
        gateway_set_cookie(&response.headers);
    }
    assert_eq!(env.upstream_count(), 0);
}

#[tokio::test]
async fn safe_rd_targets_after_form_login_are_kept() {
    let env = env().await;
    for rd in [
        "/some/page?x=1",
        "/",
        "/a/b/c",
        "https://app2.example.test/p",
        "https://app2.example.test/p?q=1&r=2",
        "https://example.test/",
        "https://deep.app2.example.test/x",
    ] {
        let response = env
            .login_form("app1.example.test", "alice", ALICE_PASSWORD, Some(rd))
            .await;
        assert_eq!(response.status, 303, "{rd}: {}", response.text());
        assert_eq!(response.headers["location"], rd, "rd {rd}");
    }
    // Without rd: the root.
    let response = env
        .login_form("app1.example.test", "alice", ALICE_PASSWORD, None)
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(response.headers["location"], "/");
}
