//! Where a line is built: a `String` of the thread's own, reused from line to line.
//!
//! `tracing_subscriber` hands a formatter a `Writer`, which writes through `&mut dyn
//! fmt::Write`: every `write_char(',')` and quote is a dynamic call. Building the line in
//! a concrete `String` lets the compiler inline those writes; the finished line is then
//! handed to the `Writer` in one piece.

use std::cell::RefCell;
use std::fmt;

use tracing_subscriber::fmt::format::Writer;

/// The most a thread's buffer keeps between lines.
const KEEP_CAPACITY: usize = 16 * 1024;

thread_local! {
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Builds a line with `build` and writes it to `writer`.
pub(super) fn write_line(
    writer: &mut Writer<'_>,
    build: impl FnOnce(&mut String) -> fmt::Result,
) -> fmt::Result {
    LINE.with(|line| match line.try_borrow_mut() {
        Ok(mut line) => {
            line.clear();
            let written = build(&mut line).and_then(|()| writer.write_str(&line));
            // An unusually long line (a long error chain) does not keep its memory.
            if line.capacity() > KEEP_CAPACITY {
                *line = String::new();
            }
            written
        }
        // A line formatted while another is (a value whose formatting logs): its own buffer.
        Err(_) => {
            let mut line = String::new();
            build(&mut line)?;
            writer.write_str(&line)
        }
    })
}
