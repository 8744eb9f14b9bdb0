//! Tests of `pages`.

use super::*;

const XSS_SITE: &str = "<script>alert(1)</script>";
const XSS_RD: &str = "\"><img src=x onerror=alert(1)>";

fn fresh() -> LoginPage<'static> {
    LoginPage {
        site: "app1.example.test",
        action: "/.auth/login",
        rd: "/dashboard?tab=1&x=2",
        username: "",
        error: None,
        password_form: true,
        providers: &[],
    }
}

fn failed() -> LoginPage<'static> {
    LoginPage {
        username: "alice",
        error: Some("Incorrect username or password."),
        ..fresh()
    }
}

/// The whole `<input …>` tag whose `id` is `id`.
fn input_tag<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html
        .find(&format!("<input id=\"{id}\""))
        .unwrap_or_else(|| panic!("no input with id {id}"));
    let end = html[at..].find('>').expect("tag is closed") + at;
    &html[at..=end]
}

/// `#rrggbb` → (r, g, b).
fn rgb(hex: &str) -> (u8, u8, u8) {
    let digits = hex.strip_prefix('#').expect("colour starts with #");
    assert_eq!(digits.len(), 6, "{hex} is #rrggbb");
    let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).expect("colour is hex");
    (channel(0), channel(2), channel(4))
}

/// WCAG 2.x relative luminance of an sRGB colour.
fn relative_luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// WCAG 2.x contrast ratio, from 1 (same colour) to 21 (black on white).
pub(crate) fn contrast_ratio(fg: (u8, u8, u8), bg: (u8, u8, u8)) -> f64 {
    let (a, b) = (relative_luminance(fg), relative_luminance(bg));
    let (lighter, darker) = if a > b { (a, b) } else { (b, a) };
    (lighter + 0.05) / (darker + 0.05)
}

fn ratio(fg: &str, bg: &str) -> f64 {
    contrast_ratio(rgb(fg), rgb(bg))
}

/// Foreground/background pairs that carry text (WCAG 1.4.3: 4.5:1).
fn text_pairs(p: &Palette) -> [(&'static str, &'static str, &'static str); 9] {
    [
        ("text on card", p.text, p.card),
        ("text in field", p.text, p.field),
        ("muted on card", p.muted, p.card),
        ("muted footer on page", p.muted, p.page),
        ("button text", p.on_accent, p.accent),
        ("button text, hover", p.on_accent, p.accent_hover),
        ("link on card", p.link, p.card),
        ("error text", p.error_text, p.error_bg),
        ("text on page", p.text, p.page),
    ]
}

/// Pairs that identify a control or its state (WCAG 1.4.11: 3:1).
fn ui_pairs(p: &Palette) -> [(&'static str, &'static str, &'static str); 5] {
    [
        ("field border on card", p.field_border, p.card),
        ("field border against field", p.field_border, p.field),
        ("focus outline on card", p.focus, p.card),
        ("focus outline on page", p.focus, p.page),
        ("invalid field border on card", p.error_border, p.card),
    ]
}

#[test]
fn contrast_ratio_matches_known_values() {
    let ratio_bw = contrast_ratio((0, 0, 0), (255, 255, 255));
    assert!((ratio_bw - 21.0).abs() < 1e-9, "{ratio_bw}");
    assert!((contrast_ratio((0x77, 0x77, 0x77), (0x77, 0x77, 0x77)) - 1.0).abs() < 1e-9);
    // #767676 on white is the classic "just passes AA" grey (4.54:1).
    let grey = ratio("#767676", "#ffffff");
    assert!((4.50..4.60).contains(&grey), "{grey}");
    // Symmetric.
    assert_eq!(ratio("#1f2328", "#ffffff"), ratio("#ffffff", "#1f2328"));
}

#[test]
fn palette_text_colors_meet_wcag_aa_contrast() {
    for (scheme, palette) in [("light", &LIGHT), ("dark", &DARK)] {
        for (what, fg, bg) in text_pairs(palette) {
            let r = ratio(fg, bg);
            assert!(r >= 4.5, "{scheme}: {what} {fg} on {bg} is {r:.2}:1");
        }
    }
}

#[test]
fn palette_ui_colors_meet_non_text_contrast() {
    for (scheme, palette) in [("light", &LIGHT), ("dark", &DARK)] {
        for (what, fg, bg) in ui_pairs(palette) {
            let r = ratio(fg, bg);
            assert!(r >= 3.0, "{scheme}: {what} {fg} on {bg} is {r:.2}:1");
        }
    }
}

#[test]
fn palette_colors_are_defined_in_the_stylesheet() {
    let html = login_page(&fresh());
    for palette in [&LIGHT, &DARK] {
        let rules = palette_rules(palette);
        assert!(html.contains(&rules));
        assert_eq!(rules.matches(':').count(), 15, "every field is emitted");
    }
    assert!(html.contains("@media (prefers-color-scheme:dark){:root{--page:#0d1117;"));
    assert!(html.contains("color:var(--on-accent);background:var(--accent)"));
}

#[test]
fn escape_html_leaves_plain_text_unchanged() {
    assert_eq!(escape_html(""), "");
    assert_eq!(
        escape_html("app1.example.test/ä?x=1"),
        "app1.example.test/ä?x=1"
    );
}

#[test]
fn every_interpolated_value_is_escaped() {
    let login = login_page(&LoginPage {
        site: XSS_SITE,
        action: XSS_RD,
        rd: XSS_RD,
        username: XSS_RD,
        error: Some(XSS_SITE),
        password_form: true,
        providers: &[ProviderButton {
            label: XSS_SITE,
            href: XSS_RD,
            available: true,
        }],
    });
    let logout = logout_page(XSS_SITE, XSS_RD, XSS_RD);
    for html in [&login, &logout] {
        assert!(!html.contains(XSS_SITE), "{html}");
        assert!(!html.contains(XSS_RD), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("value=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\""));
    }
    assert!(login.contains("<title>Sign in · &lt;script&gt;"));
}

#[test]
fn labels_are_tied_to_their_inputs() {
    for page in [fresh(), failed()] {
        let html = login_page(&page);
        for id in ["username", "password"] {
            assert_eq!(html.matches(&format!("<label for=\"{id}\">")).count(), 1);
            assert!(input_tag(&html, id).contains(&format!("name=\"{id}\"")));
        }
    }
}

#[test]
fn login_form_posts_username_password_and_rd() {
    let html = login_page(&fresh());
    assert!(html.contains("<form method=\"post\" action=\"/.auth/login\">"));
    assert!(
        html.contains("<input type=\"hidden\" name=\"rd\" value=\"/dashboard?tab=1&amp;x=2\">")
    );
    let user = input_tag(&html, "username");
    for attr in [
        "type=\"text\"",
        "autocomplete=\"username\"",
        "autocapitalize=\"none\"",
        "spellcheck=\"false\"",
        " required",
    ] {
        assert!(user.contains(attr), "{attr} in {user}");
    }
    let password = input_tag(&html, "password");
    for attr in [
        "type=\"password\"",
        "autocomplete=\"current-password\"",
        " required",
    ] {
        assert!(password.contains(attr), "{attr} in {password}");
    }
    assert!(html.contains("<button type=\"submit\">Sign in</button>"));
}

#[test]
fn page_is_a_complete_english_document_that_is_not_indexed() {
    let html = login_page(&fresh());
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(html.contains("<meta name=\"robots\" content=\"noindex\">"));
    assert!(
        !html.contains("referrer"),
        "Origin/Referer must stay available for CSRF"
    );
    assert!(html.contains("<footer>Protected by gateway</footer>"));
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn title_and_heading_name_the_site() {
    let html = login_page(&fresh());
    assert!(html.contains("<title>Sign in · app1.example.test</title>"));
    assert!(html.contains("<h1>Sign in to app1.example.test</h1>"));
}

#[test]
fn error_block_with_role_alert_appears_only_when_there_is_an_error() {
    let html = login_page(&failed());
    assert!(html.contains(
        "<div class=\"alert\" id=\"login-error\" role=\"alert\">Incorrect username or password.</div>"
    ));
    assert_eq!(html.matches("role=\"alert\"").count(), 1);

    for error in [None, Some(""), Some("  ")] {
        let html = login_page(&LoginPage { error, ..fresh() });
        assert!(!html.contains("role=\"alert\""), "{error:?}");
        assert!(!html.contains("login-error"), "{error:?}");
    }
}

#[test]
fn inputs_point_at_the_error_only_when_there_is_one() {
    let html = login_page(&failed());
    for id in ["username", "password"] {
        let tag = input_tag(&html, id);
        assert!(tag.contains("aria-invalid=\"true\""), "{tag}");
        assert!(tag.contains("aria-describedby=\"login-error\""), "{tag}");
    }
    let html = login_page(&fresh());
    for id in ["username", "password"] {
        let tag = input_tag(&html, id);
        assert!(!tag.contains("aria-invalid"), "{tag}");
        assert!(!tag.contains("aria-describedby"), "{tag}");
    }
}

#[test]
fn autofocus_moves_to_password_when_username_is_given() {
    let html = login_page(&fresh());
    assert_eq!(html.matches("autofocus").count(), 1);
    assert!(input_tag(&html, "username").contains(" autofocus"));

    let html = login_page(&failed());
    assert_eq!(html.matches("autofocus").count(), 1);
    assert!(input_tag(&html, "password").contains(" autofocus"));
}

#[test]
fn username_is_refilled_and_password_never_is() {
    let html = login_page(&failed());
    assert!(input_tag(&html, "username").contains("value=\"alice\""));
    assert!(!input_tag(&html, "password").contains("value="));
}

#[test]
fn pages_have_no_external_urls_and_no_script() {
    let pages = [
        login_page(&fresh()),
        login_page(&failed()),
        logout_page("app1.example.test", "/.auth/logout", "/"),
    ];
    for html in &pages {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("http://"), "{html}");
        assert!(!lower.contains("https://"), "{html}");
        assert!(!lower.contains("<script"), "{html}");
        assert!(!lower.contains("url("), "{html}");
        assert!(!lower.contains("@import"), "{html}");
        assert!(!lower.contains(" src="), "{html}");
        assert!(!lower.contains("javascript:"), "{html}");
    }
}

#[test]
fn logout_page_has_a_post_form_with_the_rd() {
    let html = logout_page("app1.example.test", "/.auth/logout", "/after?x=1&y=2");
    assert!(html.contains("<title>Sign out · app1.example.test</title>"));
    assert!(html.contains("<h1>Sign out of app1.example.test?</h1>"));
    assert!(html.contains("<form method=\"post\" action=\"/.auth/logout\">"));
    assert!(html.contains("<input type=\"hidden\" name=\"rd\" value=\"/after?x=1&amp;y=2\">"));
    assert!(html.contains("<button type=\"submit\">Sign out</button>"));
    assert!(html.contains("<a href=\"/\">Stay signed in</a>"));
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
}

#[test]
fn pages_stay_small() {
    let long = "x".repeat(100);
    let html = login_page(&LoginPage {
        site: &long,
        rd: &long,
        username: &long,
        ..failed()
    });
    assert!(html.len() < 6 * 1024, "{} bytes", html.len());
    assert!(logout_page(&long, "/.auth/logout", &long).len() < 6 * 1024);
}

#[test]
fn code_page_has_a_one_time_code_field_a_recovery_disclosure_and_escapes_everything() {
    let page = CodePage {
        site: "app1.example.com<script>",
        action: "/.auth/login",
        rd: "/x?\"a\"=<b>",
        challenge: "abc\"def",
        error: None,
    };
    let html = code_page(&page);
    assert!(html.contains("Enter the 6-digit code from your authenticator."));
    let code = input_tag(&html, "code");
    for attribute in [
        "autocomplete=\"one-time-code\"",
        "inputmode=\"numeric\"",
        "autofocus",
        "name=\"code\"",
    ] {
        assert!(code.contains(attribute), "{attribute}: {code}");
    }
    assert!(html.contains("<label for=\"code\">"));
    assert!(html.contains("<label for=\"recovery_code\">"));
    assert!(html.contains("<summary>Use a recovery code instead</summary>"));
    assert!(
        html.contains("name=\"challenge\" value=\"abc&quot;def\""),
        "{html}"
    );
    assert!(
        html.contains("value=\"/x?&quot;a&quot;=&lt;b&gt;\""),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("role=\"alert\""));
    let failed = code_page(&CodePage {
        error: Some("That code didn't work."),
        ..page
    });
    assert!(failed.contains("role=\"alert\""));
    assert!(input_tag(&failed, "code").contains("aria-describedby=\"login-error\""));
}

#[test]
fn provider_buttons_follow_the_form_or_stand_alone() {
    let buttons = [
        ProviderButton {
            label: "Corp SSO",
            href: "/.auth/oidc/corp/start?rd=%2Fx",
            available: true,
        },
        ProviderButton {
            label: "Partner",
            href: "/.auth/oidc/partner/start",
            available: false,
        },
    ];
    let both = login_page(&LoginPage {
        providers: &buttons,
        ..fresh()
    });
    assert!(both.contains("<form method=\"post\""));
    assert!(both.contains(
        "<a class=\"idp\" href=\"/.auth/oidc/corp/start?rd=%2Fx\">Sign in with Corp SSO</a>"
    ));
    assert!(both.contains("<button type=\"button\" disabled>Sign in with Partner</button>"));
    assert!(both.contains("Partner is unavailable right now"));
    assert!(!both.contains("/.auth/oidc/partner/start"));
    let alone = login_page(&LoginPage {
        providers: &buttons[..1],
        password_form: false,
        ..fresh()
    });
    assert!(!alone.contains("<form"));
    assert!(!alone.contains("password"));
    assert!(alone.contains("Sign in with Corp SSO"));
}

#[test]
fn provider_error_page_escapes_and_links_back() {
    let html = provider_error_page(XSS_SITE, XSS_SITE, XSS_RD);
    assert!(!html.contains(XSS_SITE) && !html.contains(XSS_RD), "{html}");
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("Back to sign-in"));
}
