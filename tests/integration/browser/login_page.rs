//! The sign-in page as people meet it: an accessibility check computed in the browser, and
//! screenshots at a desktop and a phone size, light and dark, with and without the error.
//!
//! Screenshots go to `target/tmp/browser/`. `UPDATE_DOCS_SCREENSHOTS=1 cargo test --test
//! integration browser` also copies the desktop and phone ones to `docs/login.png` and
//! `docs/login-mobile.png`, the images the README shows.

use std::path::Path;

use serde_json::Value;

use crate::support::browser::{Browser, png_size};
use crate::support::env::env;

use super::{origin, save_screenshot, submit_login_form};

/// Runs in the page; reports what [`assert_accessible`] checks. Contrast follows WCAG 2.x:
/// relative luminance of sRGB colours, the text colour composited over the element's
/// effective background (its own and its ancestors' backgrounds, stacked).
const AUDIT: &str = r#"
const parse = (colour) => {
  const m = /^rgba?\(([^)]*)\)$/.exec(colour);
  if (!m) throw new Error(`unsupported colour ${colour}`);
  const [r, g, b, a = 1] = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return { r, g, b, a };
};
const over = (top, base) => ({
  r: top.r * top.a + base.r * (1 - top.a),
  g: top.g * top.a + base.g * (1 - top.a),
  b: top.b * top.a + base.b * (1 - top.a),
  a: 1,
});
const background = (element) => {
  const layers = [];
  for (let e = element; e; e = e.parentElement) {
    const colour = parse(getComputedStyle(e).backgroundColor);
    if (colour.a > 0) {
      layers.push(colour);
      if (colour.a >= 1) break;
    }
  }
  return layers.reverse().reduce((base, top) => over(top, base), { r: 255, g: 255, b: 255, a: 1 });
};
const luminance = ({ r, g, b }) => {
  const f = (v) => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const ratio = (x, y) => {
  const [hi, lo] = [luminance(x), luminance(y)].sort((a, b) => b - a);
  return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
};
const contrast = (selector) => {
  const element = document.querySelector(selector);
  if (!element) return null;
  const bg = background(element);
  const style = getComputedStyle(element);
  return { selector, ratio: ratio(over(parse(style.color), bg), bg), color: style.color,
           background: `rgb(${bg.r}, ${bg.g}, ${bg.b})` };
};
const fields = [...document.querySelectorAll("input:not([type=hidden]), select, textarea")];
const focused = document.activeElement;
const focusStyle = getComputedStyle(focused);
return {
  lang: document.documentElement.lang,
  title: document.title,
  fields: fields.length,
  unlabelled: fields
    .filter((f) => !f.id || !(document.querySelector(`label[for="${CSS.escape(f.id)}"]`)?.textContent.trim()))
    .map((f) => f.outerHTML),
  contrast: ["body", "h1", "p.sub", "label[for=username]", "label[for=password]",
             "input#username", "label[for=code]", "input#code", "label[for=recovery_code]", "summary", "button", "footer",
             ".alert"].map(contrast).filter(Boolean),
  focus: {
    id: focused.id,
    style: focusStyle.outlineStyle,
    width: parseFloat(focusStyle.outlineWidth),
    ratio: ratio(parse(focusStyle.outlineColor), background(focused.parentElement)),
  },
};
"#;

/// Asserts the basic accessibility of the sign-in page currently shown (`what` names the
/// state in failure messages), and returns the audit.
async fn assert_accessible(browser: &Browser, what: &str) -> Value {
    let required = ["body", "p.sub", "label[for=username]", "button", "footer"];
    assert_page_accessible(browser, what, &required).await
}

/// The same rules for any of the gateway's sign-in pages (the password step, the code
/// step): `lang`, a "Sign in" title, two labelled fields, WCAG contrast of every text found
/// (the `required` selectors must be among them), a visible focus ring.
pub(super) async fn assert_page_accessible(
    browser: &Browser,
    what: &str,
    required: &[&str],
) -> Value {
    let audit = browser.script(AUDIT, serde_json::json!([])).await;
    assert_eq!(audit["lang"], "en", "{what}: <html lang>: {audit}");
    assert!(
        audit["title"]
            .as_str()
            .is_some_and(|t| t.contains("Sign in") || t.contains("Verify")),
        "{what}: title: {audit}"
    );
    assert_eq!(audit["fields"], 2, "{what}: username and password: {audit}");
    assert_eq!(
        audit["unlabelled"],
        serde_json::json!([]),
        "{what}: inputs without a <label for>: {audit}"
    );
    let checked = audit["contrast"].as_array().expect("contrast list");
    for required in required {
        assert!(
            checked.iter().any(|c| c["selector"] == *required),
            "{what}: {required} was not found: {audit}"
        );
    }
    for item in checked {
        let ratio = item["ratio"].as_f64().expect("ratio");
        assert!(ratio >= 4.5, "{what}: contrast below 4.5:1: {item}");
    }
    // The keyboard focus is visible: a solid ring of at least 2px, 3:1 against the card.
    let focus = &audit["focus"];
    assert_eq!(focus["style"], "solid", "{what}: focus ring: {focus}");
    assert!(focus["width"].as_f64() >= Some(2.0), "{what}: {focus}");
    assert!(focus["ratio"].as_f64() >= Some(3.0), "{what}: {focus}");
    audit
}

/// Saves a screenshot as `name` (see [`save_screenshot`]), checks its pixel size, and with
/// `UPDATE_DOCS_SCREENSHOTS` set copies it to `docs/{docs}`.
pub(super) async fn screenshot(
    browser: &Browser,
    name: &str,
    size: (u32, u32),
    docs: Option<&str>,
) {
    let png = save_screenshot(browser, name).await;
    assert_eq!(png_size(&png), size, "{name}");
    if let Some(docs) = docs
        && std::env::var_os("UPDATE_DOCS_SCREENSHOTS").is_some()
    {
        let target = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(docs);
        std::fs::write(&target, &png).expect("write docs screenshot");
        eprintln!("updated: {}", target.display());
    }
}

#[tokio::test]
async fn login_page_is_accessible_and_finished_at_desktop_and_phone_sizes() {
    let env = env().await;
    let browser = Browser::launch(&env.gateway).await;
    let login = format!(
        "{}/reports?y=2025",
        origin(&env.gateway, "app1.example.test")
    );

    // Desktop, light: the page as it first appears, focus in the username field.
    browser.goto(&login).await;
    browser.wait_for_path("/.auth/login").await;
    assert_eq!(browser.text("h1").await, "Sign in to app1.example.test");
    assert_eq!(browser.text("footer").await, "Protected by gateway");
    assert_accessible(&browser, "desktop").await;
    screenshot(
        &browser,
        "login-desktop.png",
        (1280, 800),
        Some("login.png"),
    )
    .await;

    // The error state: the message is announced (role=alert) and readable.
    submit_login_form(&browser, "alice", "wrong-password").await;
    browser
        .wait_for("document.querySelector('[role=alert]')", "the error")
        .await;
    let audit = assert_accessible(&browser, "desktop, error").await;
    assert!(
        audit["contrast"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["selector"] == ".alert"),
        "{audit}"
    );
    screenshot(&browser, "login-error-desktop.png", (1280, 800), None).await;

    // Dark colour scheme, the same checks.
    browser.color_scheme("dark").await;
    browser.goto(&login).await;
    assert_accessible(&browser, "desktop, dark").await;
    screenshot(&browser, "login-dark-desktop.png", (1280, 800), None).await;
    browser.color_scheme("light").await;

    // A phone: 390x844 CSS pixels at 2x. Nothing scrolls sideways, the fields use 16px
    // text (so iOS does not zoom in), and the button is a comfortable touch target.
    browser.viewport(390, 844, 2.0, true).await;
    browser.goto(&login).await;
    assert_accessible(&browser, "phone").await;
    let layout = browser
        .eval(
            "({ overflow: document.documentElement.scrollWidth > innerWidth, \
               width: innerWidth, \
               field: parseFloat(getComputedStyle(document.getElementById('username')).fontSize), \
               button: document.querySelector('button').getBoundingClientRect().height })",
        )
        .await;
    assert_eq!(layout["width"], 390, "{layout}");
    assert_eq!(layout["overflow"], false, "{layout}");
    assert!(layout["field"].as_f64() >= Some(16.0), "{layout}");
    assert!(layout["button"].as_f64() >= Some(44.0), "{layout}");
    screenshot(
        &browser,
        "login-mobile.png",
        (780, 1688),
        Some("login-mobile.png"),
    )
    .await;

    browser.close().await;
}
