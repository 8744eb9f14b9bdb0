//! Tests of `login`.

use super::site;

#[test]
fn site_names_the_redirect_host_or_this_one() {
    assert_eq!(
        site("https://app2.example.com/x", "app1.example.com"),
        "app2.example.com"
    );
    assert_eq!(site("/x", "app1.example.com"), "app1.example.com");
    assert_eq!(site("https://", "h"), "h");
}
