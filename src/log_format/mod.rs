//! How a log line looks: the text and JSON line formats of `--log-format`, written for the
//! access log's cost.
//!
//! `tracing_subscriber`'s own formatters cost about 18,000 instructions per access line
//! (plus 22,000 when ANSI colours were on, which they were even when stdout is a file):
//! every field goes through `fmt::Arguments` and a styling wrapper, the timestamp is
//! re-rendered from scratch, and the JSON formatter re-parses each span's fields from JSON
//! text on every event. These formatters plug into the same `tracing_subscriber::fmt`
//! layer — the registry, `RUST_LOG`'s `EnvFilter` and [`crate::log_writer`] are
//! unchanged — and write the same lines more directly:
//!
//! - strings are copied as they are when they need no escaping, and other values
//!   formatted once, straight into the line buffer;
//! - the date and time up to the second are formatted once per second per thread
//!   ([`clock`]); only the microseconds are written per line;
//! - span fields are formatted once, when the span is created (as before), in the line
//!   format's own syntax, so an event copies them;
//! - the line is built in a reused `String` of the thread's ([`buffer`]), so its many
//!   small writes are not dynamic calls, and numbers skip `fmt`'s machinery ([`number`]);
//! - the request a line belongs to is not a `tracing` span but a thread-local set while
//!   the request's code runs ([`in_request`]), written where the span was (`request{id=7}`):
//!   a span per request cost a third of the access line.
//!
//! The text line is `tracing_subscriber`'s "full" format (`<time> <LEVEL> <span>{<fields>}:…
//! <target>: <message> <key>=<value>…`); the JSON line is its flattened JSON object
//! (`timestamp`, `level`, the event's fields, `target`, `span`, `spans`). One difference is
//! deliberate: control characters in any value (not just in the message) are escaped, so a
//! value can never end a line early or send a terminal escape sequence. Colours are used
//! only when stdout is a terminal and `NO_COLOR` is unset.

mod buffer;
mod clock;
mod escape;
mod json;
mod number;
mod request;
mod text;

pub use json::{Json, JsonFields};
pub use request::{InRequest, in_request, within_request};
pub use text::{Text, TextFields};

#[cfg(test)]
mod tests;
