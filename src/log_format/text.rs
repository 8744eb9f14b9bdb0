//! The text line: `2026-12-04T23:16:09.049129Z  INFO conn{peer=…}:request{id=2}:
//! gateway::request::record: access method=GET host="a.example" … status=200`.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::buffer::write_line;
use super::escape::{Sanitized, write_quoted};
use super::number::{write_f64, write_i64, write_u64};
use super::{clock, request};

/// The text line format (`--log-format text`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Text;

/// Span and event fields as text: `key=value` separated by spaces, strings quoted, the
/// message bare.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        write_line(&mut writer, |line| write_event(line, ansi, ctx, event))
    }
}

/// The whole line of `event`, with its newline.
fn write_event<S, N>(
    line: &mut String,
    ansi: bool,
    ctx: &FmtContext<'_, S, N>,
    event: &Event<'_>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let paint = |line: &mut String, style: &str| {
        if ansi {
            line.push_str(style);
        }
    };
    let meta = event.metadata();
    paint(line, DIM);
    clock::write_now(line)?;
    paint(line, RESET);
    let (label, colour) = match *meta.level() {
        Level::TRACE => ("TRACE", "\x1b[35m"),
        Level::DEBUG => ("DEBUG", "\x1b[34m"),
        Level::INFO => (" INFO", "\x1b[32m"),
        Level::WARN => (" WARN", "\x1b[33m"),
        Level::ERROR => ("ERROR", "\x1b[31m"),
    };
    line.push(' ');
    paint(line, colour);
    line.push_str(label);
    paint(line, RESET);
    line.push(' ');
    let scope = ctx.event_scope();
    let request = request::current();
    if scope.is_some() || request.is_some() {
        for span in scope.into_iter().flat_map(|scope| scope.from_root()) {
            paint(line, BOLD);
            line.push_str(span.name());
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<N>>()
                && !fields.is_empty()
            {
                line.push('{');
                line.push_str(fields);
                line.push('}');
            }
            paint(line, RESET);
            line.push(':');
        }
        if let Some(id) = request {
            paint(line, BOLD);
            line.push_str("request{id=");
            write_u64(line, id)?;
            line.push('}');
            paint(line, RESET);
            line.push(':');
        }
        line.push(' ');
    }
    paint(line, DIM);
    line.push_str(meta.target());
    line.push(':');
    paint(line, RESET);
    line.push(' ');
    let mut visitor = TextVisitor {
        out: line,
        empty: true,
        result: Ok(()),
    };
    event.record(&mut visitor);
    visitor.result?;
    line.push('\n');
    Ok(())
}

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            out: &mut writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes each field as it is visited.
struct TextVisitor<'a, W: Write> {
    out: &'a mut W,
    empty: bool,
    result: fmt::Result,
}

impl<W: Write> TextVisitor<'_, W> {
    /// Writes the separator and, but for the message, `key=`; then `value`.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.empty) {
                self.out.write_char(' ')?;
            }
            let name = field.name();
            if name != "message" {
                self.out
                    .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.out.write_char('=')?;
            }
            value(self.out)
        })();
    }
}

impl<W: Write> Visit for TextVisitor<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, |out| Sanitized(out).write_str(value));
        } else {
            self.field(field, |out| write_quoted(out, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |out| write_u64(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |out| write_i64(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |out| write_f64(out, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |out| {
            write!(Sanitized(out), "{value}")?;
            let Some(mut source) = value.source() else {
                return Ok(());
            };
            let name = field.name();
            write!(
                out,
                " {}.sources=[",
                name.strip_prefix("r#").unwrap_or(name)
            )?;
            loop {
                write!(Sanitized(out), "{source}")?;
                match source.source() {
                    Some(next) => {
                        out.write_str(", ")?;
                        source = next;
                    }
                    None => break,
                }
            }
            out.write_char(']')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |out| write!(Sanitized(out), "{value:?}"));
    }
}
