//! Where log lines go: stdout, written in batches off the request path.
//!
//! A line per request written straight to stdout costs a `write(2)` on the worker that
//! served the request; handing each line to a writer thread instead costs a wake-up of that
//! thread per line. [`BatchedStdout`] does neither: a thread that logs appends the
//! formatted line to a buffer of its own (a mutex only it and the flusher ever take), and
//! one flusher thread writes every buffer to stdout each [`FLUSH_INTERVAL`] — one `write(2)`
//! per burst of lines — or sooner when a buffer passes [`FLUSH_BYTES`].
//!
//! Guarantees: a line is never split or interleaved with another (whole buffers of whole
//! lines are written under the stdout lock); the lines of one thread keep their order;
//! nothing is dropped — a thread whose buffer is full writes it itself. Lines reach stdout
//! at most [`FLUSH_INTERVAL`] late; [`FlushGuard`] writes what is left when dropped, so keep
//! it until the process exits.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the flusher writes the buffered lines.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// A buffer this large is written at once by the thread that filled it.
pub const FLUSH_BYTES: usize = 64 * 1024;

type Buffer = Arc<Mutex<Vec<u8>>>;

/// Every thread's buffer, for the flusher.
fn buffers() -> &'static Mutex<Vec<Buffer>> {
    static BUFFERS: OnceLock<Mutex<Vec<Buffer>>> = OnceLock::new();
    BUFFERS.get_or_init(|| Mutex::new(Vec::new()))
}

thread_local! {
    /// This thread's buffer, registered with [`buffers`] on first use.
    static BUFFER: Buffer = {
        let buffer = Buffer::default();
        lock(buffers()).push(Arc::clone(&buffer));
        buffer
    };
}

/// A mutex's guard, poisoned or not: a panic while appending bytes leaves nothing to repair.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `bytes` to stdout as one piece (under the stdout lock).
fn write_out(bytes: &[u8]) {
    // Nowhere to report a failed log write; the line is lost, the request is not.
    let _ = io::stdout().lock().write_all(bytes);
}

/// Takes `buffer`'s lines and writes them out.
fn flush(buffer: &Mutex<Vec<u8>>) {
    let lines = std::mem::take(&mut *lock(buffer));
    if !lines.is_empty() {
        write_out(&lines);
    }
}

/// Writes every thread's lines; forgets the buffers of threads that have exited.
fn flush_all() {
    let all: Vec<Buffer> = {
        let mut registered = lock(buffers());
        let all = registered.clone();
        // Each buffer is held by the registry, by `all` and, while its thread lives, by the
        // thread itself: two means the thread is gone (its last lines are written below).
        registered.retain(|buffer| Arc::strong_count(buffer) > 2);
        all
    };
    for buffer in &all {
        flush(buffer);
    }
}

/// The `MakeWriter` for `tracing_subscriber::fmt`: batched stdout (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct BatchedStdout;

impl BatchedStdout {
    /// Starts the flusher thread; the guard writes the remaining lines when dropped.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub fn start() -> io::Result<FlushGuard> {
        std::thread::Builder::new()
            .name("gateway-log".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_INTERVAL);
                    flush_all();
                }
            })?;
        Ok(FlushGuard(()))
    }
}

/// Writes every buffered line when dropped.
#[derive(Debug)]
pub struct FlushGuard(());

impl Drop for FlushGuard {
    fn drop(&mut self) {
        flush_all();
    }
}

/// One event's writer: appends to the calling thread's buffer.
#[derive(Debug)]
pub struct LineWriter(());

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        BUFFER.with(|buffer| {
            let mut lines = lock(buffer);
            lines.extend_from_slice(bytes);
            if lines.len() >= FLUSH_BYTES {
                let full = std::mem::take(&mut *lines);
                drop(lines);
                write_out(&full);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStdout {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::{BUFFER, LineWriter, buffers, flush_all, lock};

    #[test]
    fn a_thread_registers_one_buffer_and_it_is_forgotten_after_the_thread_exits() {
        let buffer = std::thread::spawn(|| {
            // Nothing is written (the test's stdout stays clean), but the buffer registers.
            LineWriter(()).write_all(b"").expect("append");
            BUFFER.with(Arc::downgrade)
        })
        .join()
        .expect("thread");
        let registered = || {
            lock(buffers())
                .iter()
                .any(|b| std::ptr::eq(Arc::as_ptr(b), buffer.as_ptr()))
        };
        assert!(registered());
        flush_all();
        assert!(!registered());
    }
}
