//! HTML escaping for the pages the gateway writes itself (login, logout, error pages).
//!
//! Escaping keeps a value from breaking out of element content or a double-quoted
//! attribute; it does not make a URL safe to follow (the callers validate those).

/// Escapes `&`, `<`, `>`, `"` and `'`, so `text` is safe both as element content and
/// inside a quoted attribute value.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escape_html_escapes_the_five_special_characters() {
        assert_eq!(
            escape_html("a&b<c>d\"e'f"),
            "a&amp;b&lt;c&gt;d&quot;e&#39;f"
        );
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }
}
