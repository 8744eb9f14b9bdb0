//! The gateway's own HTML pages (sign-in with its provider buttons, its code step, a failed
//! provider sign-in, and the sign-out confirmation), rendered as
//! complete documents. Pure: no I/O, no HTTP types; the login endpoints wrap the `String`s
//! in responses (status, `Content-Type: text/html; charset=utf-8`, `Cache-Control: no-store`).
//!
//! Design choices, each on purpose:
//! - **Self-contained.** One inline `<style>`, no scripts, fonts, images or any other URL.
//!   The pages work without JavaScript, load with nothing but the one response, and a
//!   strict `Content-Security-Policy` only has to allow inline styles. Even the favicon is an
//!   empty `data:` URL, so the browser does not request `/favicon.ico` from the protected
//!   upstream (which would answer with yet another redirect to this page).
//! - **Everything interpolated is escaped.** The site name comes from the `Host` header,
//!   `rd` and the username from the client, so every value goes through [`escape_html`],
//!   and every attribute is double-quoted. Escaping keeps values from breaking out of the
//!   markup; it does not make a URL safe to follow. That is why `rd` is only ever echoed
//!   into a hidden field (the login and logout handlers validate it when it is used), and
//!   `action` must be the gateway's own path, built from `auth.prefix`.
//! - **Accessible.** `lang="en"`; every input has a visible `<label for>`; the error is a
//!   `role="alert"` block that the inputs reference with `aria-invalid` and
//!   `aria-describedby`; focus goes to the first field the user still has to fill in;
//!   `:focus-visible` draws a high-contrast outline; the base font size is 16 px, so iOS
//!   does not zoom into the fields. Colours live in two [`Palette`] constants
//!   ([`LIGHT`], [`DARK`] for `prefers-color-scheme: dark`) that the tests check against
//!   WCAG 2.x contrast: 4.5:1 for text, 3:1 for field borders and the focus outline.
//! - **One generic message.** The caller passes the error text; this module never decides
//!   what went wrong, so it cannot leak whether a username exists.
//!
//! The sign-out page is a confirmation with a POST form: a GET never signs anybody out, so
//! a link or an `<img>` on another site cannot end the user's session.

use crate::http::escape_html;

/// The colours of one colour scheme. Every field is a `#rrggbb` string, emitted as a CSS
/// custom property (`--name`) and used only through `var(--name)` in [`STYLE`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    /// Page background, behind the card and under the footer.
    pub page: &'static str,
    /// Card background.
    pub card: &'static str,
    /// Card outline (decorative: the card is readable without it).
    pub border: &'static str,
    /// Body text, headings and labels.
    pub text: &'static str,
    /// Secondary text: subtitle and footer.
    pub muted: &'static str,
    /// Text field background.
    pub field: &'static str,
    /// Text field border; it is what shows where a field is, so it needs 3:1.
    pub field_border: &'static str,
    /// Primary button background.
    pub accent: &'static str,
    /// Primary button background under the pointer.
    pub accent_hover: &'static str,
    /// Text on the primary button.
    pub on_accent: &'static str,
    /// Links.
    pub link: &'static str,
    /// Keyboard focus outline.
    pub focus: &'static str,
    /// Error message text.
    pub error_text: &'static str,
    /// Error message background.
    pub error_bg: &'static str,
    /// Error message border and the border of fields marked invalid.
    pub error_border: &'static str,
}

/// The default (light) colour scheme.
pub(crate) const LIGHT: Palette = Palette {
    page: "#f6f8fa",
    card: "#ffffff",
    border: "#d0d7de",
    text: "#1f2328",
    muted: "#59636e",
    field: "#ffffff",
    field_border: "#818b98",
    accent: "#0b57d0",
    accent_hover: "#0842a0",
    on_accent: "#ffffff",
    link: "#0b57d0",
    focus: "#0b57d0",
    error_text: "#82071e",
    error_bg: "#ffebe9",
    error_border: "#cf222e",
};

/// The colour scheme for `prefers-color-scheme: dark`.
pub(crate) const DARK: Palette = Palette {
    page: "#0d1117",
    card: "#161b22",
    border: "#30363d",
    text: "#e6edf3",
    muted: "#9198a1",
    field: "#0d1117",
    field_border: "#6e7681",
    accent: "#1a5fd0",
    accent_hover: "#0b57d0",
    on_accent: "#ffffff",
    link: "#4493f8",
    focus: "#4493f8",
    error_text: "#ffa198",
    error_bg: "#2d1214",
    error_border: "#f85149",
};

/// Layout and typography, shared by both pages. Colours come only from the custom
/// properties that [`palette_rules`] defines, so the palettes are the single source.
const STYLE: &str = "*{box-sizing:border-box}\
body{margin:0;min-height:100vh;min-height:100dvh;display:flex;flex-direction:column;\
align-items:center;justify-content:center;gap:1.25rem;padding:1.5rem 1rem;\
background:var(--page);color:var(--text);\
font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;\
-webkit-text-size-adjust:100%}\
main{width:100%;max-width:25rem;background:var(--card);border:1px solid var(--border);\
border-radius:12px;padding:2rem 1.75rem;box-shadow:var(--shadow)}\
h1{margin:0;font-size:1.375rem;line-height:1.3;font-weight:600;overflow-wrap:anywhere}\
.sub{margin:.375rem 0 1.5rem;color:var(--muted);text-wrap:pretty}\
.alert{margin:0 0 1.25rem;padding:.75rem 1rem;border:1px solid var(--error-border);\
border-left-width:4px;border-radius:8px;background:var(--error-bg);color:var(--error-text);\
overflow-wrap:anywhere}\
label{display:block;margin:0 0 .375rem;font-weight:600;font-size:.9375rem}\
input{display:block;width:100%;margin:0 0 1.125rem;padding:.625rem .75rem;font:inherit;\
color:var(--text);background:var(--field);border:1px solid var(--field-border);border-radius:8px}\
input[aria-invalid=true]{border-color:var(--error-border)}\
button{display:block;width:100%;margin:.5rem 0 0;padding:.6875rem 1rem;font:inherit;\
font-weight:600;color:var(--on-accent);background:var(--accent);border:0;border-radius:8px;\
cursor:pointer}\
button:hover{background:var(--accent-hover)}\
button:disabled{opacity:.6;cursor:not-allowed}\
a.idp{display:block;margin:.5rem 0 0;padding:.6875rem 1rem;font-weight:600;text-align:center;\
text-decoration:none;color:var(--text);background:var(--field);border:1px solid var(--field-border);\
border-radius:8px}\
a.idp:hover{border-color:var(--accent)}\
a{color:var(--link);text-underline-offset:2px}\
.alt{margin:1rem 0 0;text-align:center}\
details{margin:0 0 1.125rem}\
summary{color:var(--link);text-decoration:underline;text-underline-offset:2px;cursor:pointer;\
margin:0 0 .75rem}\
:focus-visible{outline:2px solid var(--focus);outline-offset:2px}\
footer{color:var(--muted);font-size:.875rem}";

/// What the sign-in page shows. Every field is untrusted text and is escaped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginPage<'a> {
    /// The host the user signs in to, e.g. `app1.example.test` (from the `Host` header).
    pub site: &'a str,
    /// The form's `action`: the gateway's login path, e.g. `/.auth/login`.
    pub action: &'a str,
    /// Where to go after signing in, echoed into the hidden `rd` field (validated on POST).
    pub rd: &'a str,
    /// The username to re-fill after a failed attempt; empty on a fresh form.
    pub username: &'a str,
    /// The one generic message of a failed attempt; `None` (or blank) shows no alert.
    pub error: Option<&'a str>,
    /// Whether the users file is configured: the username/password form is shown.
    pub password_form: bool,
    /// One "Sign in with …" button per identity provider, in config order.
    pub providers: &'a [ProviderButton<'a>],
}

/// A "Sign in with <label>" button of the login page: a link to the provider's start
/// endpoint (carrying `rd`), or, while the provider is unavailable, a disabled button and
/// a note saying so.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProviderButton<'a> {
    /// The provider's `display_name`.
    pub label: &'a str,
    /// The gateway's start path with `rd`, e.g. `/.auth/oidc/corp/start?rd=%2Fx`.
    pub href: &'a str,
    /// Whether discovery has succeeded.
    pub available: bool,
}

/// The provider buttons, escaped; with a password form, a divider before them.
fn provider_buttons(page: &LoginPage) -> String {
    let mut out = String::new();
    if page.providers.is_empty() {
        return out;
    }
    if page.password_form {
        out.push_str("<p class=\"alt\">or</p>\n");
    }
    for button in page.providers {
        let label = escape_html(button.label);
        if button.available {
            let href = escape_html(button.href);
            out.push_str(&format!(
                "<a class=\"idp\" href=\"{href}\">Sign in with {label}</a>\n"
            ));
        } else {
            out.push_str(&format!(
                "<button type=\"button\" disabled>Sign in with {label}</button>\n\
<p class=\"alert\" role=\"status\">{label} is unavailable right now. Try again in a minute.</p>\n"
            ));
        }
    }
    out
}

/// Renders the page a failed provider sign-in ends on: what happened in `message` (one
/// of the endpoint's fixed texts, never a provider's own words) and a link to start over.
pub(crate) fn provider_error_page(site: &str, message: &str, again: &str) -> String {
    let site = escape_html(site);
    let message = escape_html(message);
    let again = escape_html(again);
    let body = format!(
        "<main>\n<h1>Sign-in failed</h1>\n\
<div class=\"alert\" role=\"alert\">{message}</div>\n\
<p class=\"alt\"><a href=\"{again}\">Back to sign-in</a></p>\n</main>\n"
    );
    document(&format!("Sign-in failed · {site}"), &body)
}

/// The `id` of the alert block, referenced by the inputs' `aria-describedby`.
const ERROR_ID: &str = "login-error";

/// The alert block for `error` (none for a blank one) and the attributes that tie the
/// fields to it (`aria-invalid`, `aria-describedby`), both escaped.
fn alert(error: Option<&str>) -> (String, String) {
    match error.filter(|message| !message.trim().is_empty()) {
        Some(message) => (
            format!(
                "<div class=\"alert\" id=\"{ERROR_ID}\" role=\"alert\">{}</div>\n",
                escape_html(message)
            ),
            format!(" aria-invalid=\"true\" aria-describedby=\"{ERROR_ID}\""),
        ),
        None => (String::new(), String::new()),
    }
}

/// Renders the sign-in page as a complete HTML document.
///
/// Focus starts in the username field, or in the password field when a username is
/// re-filled. With an error, both fields are marked `aria-invalid` and described by it.
pub(crate) fn login_page(page: &LoginPage) -> String {
    let site = escape_html(page.site);
    let action = escape_html(page.action);
    let rd = escape_html(page.rd);
    let username = escape_html(page.username);
    let (alert, invalid) = alert(page.error);
    // Focus the first field the user still has to fill in.
    let (focus_user, focus_password) = if page.username.is_empty() {
        (" autofocus", "")
    } else {
        ("", " autofocus")
    };

    let buttons = provider_buttons(page);
    if !page.password_form {
        let body = format!(
            "<main>\n<h1>Sign in to {site}</h1>\n\
<p class=\"sub\">Choose how to sign in.</p>\n{alert}{buttons}</main>\n"
        );
        return document(&format!("Sign in · {site}"), &body);
    }
    let body = format!(
        "<main>\n<h1>Sign in to {site}</h1>\n\
<p class=\"sub\">Enter your username and password to continue.</p>\n\
{alert}<form method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"rd\" value=\"{rd}\">\n\
<label for=\"username\">Username</label>\n\
<input id=\"username\" name=\"username\" type=\"text\" value=\"{username}\" \
autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required{focus_user}{invalid}>\n\
<label for=\"password\">Password</label>\n\
<input id=\"password\" name=\"password\" type=\"password\" \
autocomplete=\"current-password\" required{focus_password}{invalid}>\n\
<button type=\"submit\">Sign in</button>\n\
</form>\n{buttons}</main>\n"
    );
    document(&format!("Sign in · {site}"), &body)
}

/// What the code step (the second factor) shows. Every field is untrusted text and is
/// escaped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodePage<'a> {
    /// The host the user signs in to.
    pub site: &'a str,
    /// The form's `action`: the gateway's login path.
    pub action: &'a str,
    /// Where to go after signing in, echoed into the hidden `rd` field.
    pub rd: &'a str,
    /// The challenge of the password step, echoed into the hidden `challenge` field.
    pub challenge: &'a str,
    /// The one generic message of a wrong code; `None` shows no alert.
    pub error: Option<&'a str>,
}

/// Renders the code step: a numeric one-time-code field with focus, and a disclosure
/// ("Use a recovery code instead") holding the recovery code field, in the same form, so
/// it works without JavaScript. The server takes the recovery code when one is filled in.
pub(crate) fn code_page(page: &CodePage) -> String {
    let site = escape_html(page.site);
    let action = escape_html(page.action);
    let rd = escape_html(page.rd);
    let challenge = escape_html(page.challenge);
    let (alert, invalid) = alert(page.error);
    let body = format!(
        "<main>\n<h1>Sign in to {site}</h1>\n\
<p class=\"sub\">Enter the 6-digit code from your authenticator.</p>\n\
{alert}<form method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"rd\" value=\"{rd}\">\n\
<input type=\"hidden\" name=\"challenge\" value=\"{challenge}\">\n\
<label for=\"code\">Authentication code</label>\n\
<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" \
maxlength=\"6\" autocomplete=\"one-time-code\" spellcheck=\"false\" autofocus{invalid}>\n\
<details>\n<summary>Use a recovery code instead</summary>\n\
<label for=\"recovery_code\">Recovery code</label>\n\
<input id=\"recovery_code\" name=\"recovery_code\" type=\"text\" autocomplete=\"off\" \
autocapitalize=\"none\" spellcheck=\"false\"{invalid}>\n\
</details>\n\
<button type=\"submit\">Verify</button>\n\
</form>\n</main>\n"
    );
    document(&format!("Verify · {site}"), &body)
}

/// Renders the sign-out confirmation: "Sign out of `site`?" with a POST form to `action`
/// carrying `rd`, and a link back to `/` for users who change their mind.
pub(crate) fn logout_page(site: &str, action: &str, rd: &str) -> String {
    let site = escape_html(site);
    let action = escape_html(action);
    let rd = escape_html(rd);
    // The cancel link goes to this host's root, never to `rd`: an unvalidated `rd` in an
    // `href` would be an open redirect (or a `javascript:` URL).
    let body = format!(
        "<main>\n<h1>Sign out of {site}?</h1>\n\
<p class=\"sub\">This ends your session on every site that shares this sign-in.</p>\n\
<form method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"rd\" value=\"{rd}\">\n\
<button type=\"submit\">Sign out</button>\n\
</form>\n\
<p class=\"alt\"><a href=\"/\">Stay signed in</a></p>\n</main>\n"
    );
    document(&format!("Sign out · {site}"), &body)
}

/// Wraps an already escaped `title` and `body` in the shared document: head, stylesheet
/// and footer.
fn document(title: &str, body: &str) -> String {
    let light = palette_rules(&LIGHT);
    let dark = palette_rules(&DARK);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n\
<meta name=\"color-scheme\" content=\"light dark\">\n\
<link rel=\"icon\" href=\"data:,\">\n\
<title>{title}</title>\n\
<style>:root{{{light};--shadow:0 1px 3px rgba(31,35,40,.08),0 8px 24px rgba(31,35,40,.06)}}\
@media (prefers-color-scheme:dark){{:root{{{dark};--shadow:none}}}}{STYLE}</style>\n\
</head>\n<body>\n{body}<footer>Protected by gateway</footer>\n</body>\n</html>\n"
    )
}

/// The palette as CSS custom property declarations, without braces.
fn palette_rules(p: &Palette) -> String {
    format!(
        "--page:{};--card:{};--border:{};--text:{};--muted:{};--field:{};--field-border:{};\
--accent:{};--accent-hover:{};--on-accent:{};--link:{};--focus:{};--error-text:{};\
--error-bg:{};--error-border:{}",
        p.page,
        p.card,
        p.border,
        p.text,
        p.muted,
        p.field,
        p.field_border,
        p.accent,
        p.accent_hover,
        p.on_accent,
        p.link,
        p.focus,
        p.error_text,
        p.error_bg,
        p.error_border,
    )
}

#[cfg(test)]
mod tests;
