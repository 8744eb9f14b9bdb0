//! The text line: `2026-12-04T23:16:09.049129Z  INFO conn{peer=…}:request{id=2}:
//! gateway::request::record: access method=GET host="a.example" … status=200`.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::clock;
use super::escape::{Sanitized, write_quoted};

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
        let paint = |writer: &mut Writer<'_>, style: &str| {
            if ansi {
                writer.write_str(style)?;
            }
            Ok::<(), fmt::Error>(())
        };
        let meta = event.metadata();
        paint(&mut writer, DIM)?;
        clock::write_now(&mut writer)?;
        paint(&mut writer, RESET)?;
        let (label, colour) = match *meta.level() {
            Level::TRACE => ("TRACE", "\x1b[35m"),
            Level::DEBUG => ("DEBUG", "\x1b[34m"),
            Level::INFO => (" INFO", "\x1b[32m"),
            Level::WARN => (" WARN", "\x1b[33m"),
            Level::ERROR => ("ERROR", "\x1b[31m"),
        };
        writer.write_char(' ')?;
        paint(&mut writer, colour)?;
        writer.write_str(label)?;
        paint(&mut writer, RESET)?;
        writer.write_char(' ')?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                paint(&mut writer, BOLD)?;
                writer.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                paint(&mut writer, RESET)?;
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        paint(&mut writer, DIM)?;
        writer.write_str(meta.target())?;
        writer.write_char(':')?;
        paint(&mut writer, RESET)?;
        writer.write_char(' ')?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
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
        self.field(field, |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |out| write!(out, "{value:?}"));
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
