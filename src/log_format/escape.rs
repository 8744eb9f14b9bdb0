//! Escaping for values in log lines: nothing a client sent can end a line early, forge a
//! field, or reach a terminal as an escape sequence.
//!
//! Both writers are `fmt::Write` adapters, so a value is escaped as it is formatted,
//! without an intermediate string; runs of characters that need nothing are copied in one
//! piece.

use std::fmt::{self, Write};

/// Characters no log value may carry raw: C0 controls, DEL and C1 controls.
fn is_control(c: char) -> bool {
    c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// Which bytes send a string to the careful path, for each writer: a table lookup per
/// byte, since almost every value is plain. C1 controls are encoded `C2 80..9F`, so a `C2`
/// byte is among them.
struct Careful([bool; 256]);

impl Careful {
    /// Controls, DEL and `C2`, plus `extra`.
    const fn with(extra: &[u8]) -> Self {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = b < 0x20 || b == 0x7f || b == 0xc2;
            b += 1;
        }
        let mut i = 0;
        while i < extra.len() {
            table[extra[i] as usize] = true;
            i += 1;
        }
        Self(table)
    }

    /// Bytes outside printable ASCII, and `extra`.
    const fn beyond_printable_ascii(extra: &[u8]) -> Self {
        let mut table = Self::with(extra).0;
        let mut b = 0x80;
        while b < 256 {
            table[b] = true;
            b += 1;
        }
        Self(table)
    }

    fn any_in(&self, s: &str) -> bool {
        s.bytes().any(|b| self.0[usize::from(b)])
    }
}

/// What [`Sanitized`] looks at more closely.
static SANITIZED: Careful = Careful::with(&[]);
/// What [`JsonEscaped`] looks at more closely.
static JSON: Careful = Careful::with(b"\"\\");
/// What [`write_quoted`] leaves to `Debug`.
static QUOTED: Careful = Careful::beyond_printable_ascii(b"\"\\");

/// Writes `s` quoted as Rust's `Debug` does (`"a \"b\""`), which is how text lines show
/// string values; the common case — printable ASCII without quotes or backslashes — is
/// copied as it is.
pub(super) fn write_quoted(out: &mut impl Write, s: &str) -> fmt::Result {
    if !QUOTED.any_in(s) {
        out.write_char('"')?;
        out.write_str(s)?;
        out.write_char('"')
    } else {
        // `Debug` escapes quotes, backslashes and every control character.
        write!(out, "{s:?}")
    }
}

/// Text lines: passes a formatted value through, escaping control characters
/// (`\n`, `\r`, `\t`, `\x1b`, `\u{9b}`…).
pub(super) struct Sanitized<'w, W: Write>(pub(super) &'w mut W);

impl<W: Write> Write for Sanitized<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !SANITIZED.any_in(s) {
            return self.0.write_str(s);
        }
        let mut start = 0;
        for (at, c) in s.char_indices() {
            if is_control(c) {
                self.0.write_str(&s[start..at])?;
                match c {
                    '\n' => self.0.write_str("\\n")?,
                    '\r' => self.0.write_str("\\r")?,
                    '\t' => self.0.write_str("\\t")?,
                    c if c < '\u{7f}' => write!(self.0, "\\x{:02x}", u32::from(c))?,
                    c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
                }
                start = at + c.len_utf8();
            }
        }
        self.0.write_str(&s[start..])
    }
}

/// JSON lines: the content of a JSON string (RFC 8259 escapes; DEL and C1 controls as
/// `\u00XX` too). The caller writes the surrounding quotes.
pub(super) struct JsonEscaped<'w, W: Write>(pub(super) &'w mut W);

impl<W: Write> Write for JsonEscaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !JSON.any_in(s) {
            return self.0.write_str(s);
        }
        let mut start = 0;
        for (at, c) in s.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if is_control(c) => "",
                _ => continue,
            };
            self.0.write_str(&s[start..at])?;
            if escape.is_empty() {
                write!(self.0, "\\u{:04x}", u32::from(c))?;
            } else {
                self.0.write_str(escape)?;
            }
            start = at + c.len_utf8();
        }
        self.0.write_str(&s[start..])
    }
}

/// Writes `s` as a JSON string, quotes included.
pub(super) fn write_json_string(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    JsonEscaped(out).write_str(s)?;
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;

    #[test]
    fn quoted_strings_match_debug_and_escape_controls() {
        for s in [
            "/plain/path",
            "with \"quotes\"",
            "back\\slash",
            "line\nbreak",
            "esc\u{1b}[31m",
            "é",
        ] {
            let mut out = String::new();
            write_quoted(&mut out, s).expect("writes");
            assert_eq!(out, format!("{s:?}"));
        }
    }

    #[test]
    fn every_character_of_the_first_256_is_quoted_sanitized_and_json_escaped_right() {
        for c in (0..=255u8).map(char::from) {
            let s = format!("a{c}b");
            let mut quoted = String::new();
            write_quoted(&mut quoted, &s).expect("writes");
            assert_eq!(quoted, format!("{s:?}"), "{c:?}");
            let mut sanitized = String::new();
            Sanitized(&mut sanitized).write_str(&s).expect("writes");
            assert_eq!(sanitized == s, !is_control(c), "{c:?}: {sanitized}");
            let mut json = String::new();
            write_json_string(&mut json, &s).expect("writes");
            assert!(!json.chars().any(is_control), "{c:?}: {json}");
            assert_eq!(
                serde_json::from_str::<String>(&json).expect("valid JSON"),
                s
            );
        }
    }

    #[test]
    fn sanitized_values_cannot_break_a_line_or_reach_the_terminal() {
        let mut out = String::new();
        write!(Sanitized(&mut out), "a\nb\r\tc\u{1b}[2J\u{7f}\u{9b}é").expect("writes");
        assert_eq!(out, "a\\nb\\r\\tc\\x1b[2J\\u{7f}\\u{9b}é");
    }

    #[test]
    fn json_strings_round_trip_through_a_json_parser() {
        let s = "q\"b\\s/n\nr\rt\tnul\u{0}esc\u{1b}del\u{7f}c1\u{85}é💡";
        let mut out = String::new();
        write_json_string(&mut out, s).expect("writes");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{85}') && !out.contains('\n'));
        let parsed: String = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed, s);
    }
}
