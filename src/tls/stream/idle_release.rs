//! A request, from outside the stream's owner, that the stream free its empty buffers.
//!
//! Under HTTP/2, hyper's connection owns the stream for the connection's whole life, so the
//! connection's driver cannot call [`TlsStream::release_buffers`] itself. It holds an
//! [`IdleRelease`] instead and asks; the stream carries the request out at its next read
//! that finds nothing to read (it is idle then, and its buffers are empty or nearly so),
//! keeping any buffer that still holds bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::TlsStream;

/// A handle that asks its [`TlsStream`] to release its empty buffers
/// ([`TlsStream::idle_release`]).
#[derive(Debug, Clone)]
pub struct IdleRelease(Arc<AtomicBool>);

impl IdleRelease {
    /// Asks for a release at the stream's next read that finds nothing to read.
    pub fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// A release was asked for and not carried out yet.
    #[cfg(test)]
    pub(crate) fn is_asked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl TlsStream {
    /// The handle through which a stream owned elsewhere is asked to release its buffers;
    /// the first call makes it, so a stream nobody asks pays nothing.
    pub fn idle_release(&mut self) -> IdleRelease {
        IdleRelease(
            self.idle_release
                .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
                .clone(),
        )
    }

    /// A read found nothing to read: carry out a release that was asked for.
    pub(super) fn release_if_asked(&mut self) {
        if let Some(asked) = &self.idle_release
            && asked.load(Ordering::Relaxed)
        {
            asked.store(false, Ordering::Relaxed);
            self.release_buffers();
        }
    }
}
