//! The JSON line: one object per line, `{"timestamp":…,"level":"INFO","message":"access",
//! <the event's fields>,"target":…,"span":{…,"name":"request"},"spans":[…]}`.
//!
//! Span fields are stored, when the span is created, as the inside of a JSON object
//! (`"id":2`), so an event splices them in as they are.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber, span};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::buffer::write_line;
use super::escape::{JsonEscaped, write_json_string};
use super::number::{write_f64, write_i64, write_u64};
use super::{clock, request};

/// The JSON line format (`--log-format json`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Json;

/// Span and event fields as JSON members (`"key":value`, comma-separated, no braces).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields;

impl<S, N> FormatEvent<S, N> for Json
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
        write_line(&mut writer, |line| write_event(line, ctx, event))
    }
}

/// The whole line of `event`, with its newline.
fn write_event<S, N>(
    line: &mut String,
    ctx: &FmtContext<'_, S, N>,
    event: &Event<'_>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    clock::write_now(line)?;
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push('"');
    let mut visitor = JsonVisitor {
        out: line,
        needs_comma: true,
        result: Ok(()),
    };
    event.record(&mut visitor);
    visitor.result?;
    line.push_str(",\"target\":");
    write_json_string(line, meta.target())?;
    let request = request::current();
    // The innermost span: the request, else the scope's first (leaf-first) span.
    if let Some(id) = request {
        line.push_str(",\"span\":");
        write_request(line, id)?;
    } else if let Some(leaf) = ctx.event_scope().and_then(|mut scope| scope.next()) {
        line.push_str(",\"span\":");
        write_span::<S, N>(line, &leaf)?;
    }
    let scope = ctx.event_scope();
    if scope.is_some() || request.is_some() {
        line.push_str(",\"spans\":[");
        let mut first = true;
        for span in scope.into_iter().flat_map(|scope| scope.from_root()) {
            if !std::mem::take(&mut first) {
                line.push(',');
            }
            write_span::<S, N>(line, &span)?;
        }
        if let Some(id) = request {
            if !first {
                line.push(',');
            }
            write_request(line, id)?;
        }
        line.push(']');
    }
    line.push_str("}\n");
    Ok(())
}

/// The request the line belongs to ([`request`]), as its span was written:
/// `{"id":7,"name":"request"}`.
fn write_request(line: &mut String, id: u64) -> fmt::Result {
    line.push_str("{\"id\":");
    write_u64(line, id)?;
    line.push_str(",\"name\":\"request\"}");
    Ok(())
}

/// `{<the span's fields>,"name":"<name>"}`.
fn write_span<S, N>(line: &mut String, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    line.push('{');
    let extensions = span.extensions();
    if let Some(fields) = extensions.get::<FormattedFields<N>>()
        && !fields.is_empty()
    {
        line.push_str(fields);
        line.push(',');
    }
    line.push_str("\"name\":");
    write_json_string(line, span.name())?;
    line.push('}');
    Ok(())
}

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = JsonVisitor {
            out: &mut writer,
            needs_comma: false,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    /// Fields recorded after the span was created (`span.record(…)`) join the others.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &span::Record<'_>,
    ) -> fmt::Result {
        let needs_comma = !current.fields.is_empty();
        let mut visitor = JsonVisitor {
            out: &mut current.fields,
            needs_comma,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes each field as a JSON member as it is visited.
struct JsonVisitor<'a, W: Write> {
    out: &'a mut W,
    needs_comma: bool,
    result: fmt::Result,
}

impl<W: Write> JsonVisitor<'_, W> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if std::mem::replace(&mut self.needs_comma, true) {
                self.out.write_char(',')?;
            }
            let name = field.name();
            write_json_string(self.out, name.strip_prefix("r#").unwrap_or(name))?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }

    /// A value formatted by `Display`/`Debug`, as a JSON string.
    fn formatted(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        self.member(field, |out| {
            out.write_char('"')?;
            JsonEscaped(out).write_fmt(value)?;
            out.write_char('"')
        });
    }
}

impl<W: Write> Visit for JsonVisitor<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_json_string(out, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write_u64(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write_i64(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinities.
        if value.is_finite() {
            self.member(field, |out| write_f64(out, value));
        } else {
            self.member(field, |out| out.write_str("null"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.formatted(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.formatted(field, format_args!("{value:?}"));
    }
}
