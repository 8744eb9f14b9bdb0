//! The SNI host name of a handshake, from the certificate resolver to the TLS stream.
//!
//! rustls' unbuffered server connection keeps the name the client sent but does not expose
//! it (its buffered one does). The resolver sees it: [`SniSeen::record`] is called there,
//! and the stream's handshake takes it with [`SniSeen::capture`].

use std::cell::RefCell;

/// The SNI host name the certificate resolver saw, handed to the handshake that ran it.
///
/// rustls calls the resolver from inside `process_tls_records`, synchronously, on the
/// thread that runs the handshake; the handshake clears the slot before each call and takes
/// it after, so a name never crosses from one connection to another.
pub(crate) struct SniSeen;

thread_local! {
    static SEEN: RefCell<Option<Option<Box<str>>>> = const { RefCell::new(None) };
}

impl SniSeen {
    /// Called by the resolver with the ClientHello's server name.
    pub(crate) fn record(name: Option<&str>) {
        SEEN.with(|seen| *seen.borrow_mut() = Some(name.map(Box::from)));
    }

    /// Runs `step`, and returns with its result the name the resolver saw if it ran.
    pub(super) fn capture<T>(step: impl FnOnce() -> T) -> (T, Option<Option<Box<str>>>) {
        SEEN.with(|seen| seen.borrow_mut().take());
        let result = step();
        (result, SEEN.with(|seen| seen.borrow_mut().take()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolver_name_reaches_only_the_step_it_ran_in() {
        let ((), seen) = SniSeen::capture(|| SniSeen::record(Some("app.example.com")));
        assert_eq!(seen, Some(Some("app.example.com".into())));
        let ((), seen) = SniSeen::capture(|| ());
        assert_eq!(seen, None, "nothing resolved in this step");
        SniSeen::record(Some("stale.example.com"));
        let ((), seen) = SniSeen::capture(|| ());
        assert_eq!(
            seen, None,
            "a name recorded outside a step is not handed on"
        );
    }
}
