//! The byte buffers of a TLS stream: each is a `Vec` kept at its allocated length (so
//! rustls can write into it without zeroing each time) and a count of the bytes in use.

use std::io;

/// Why appending to a buffer failed: it needs to be this large, or it cannot be done.
pub(super) enum Failure {
    Grow(usize),
    Fail(io::Error),
}
pub(super) use Failure::{Fail, Grow};

/// Writes into the free end of `buf` (whose first `len` bytes are taken) with `write`,
/// growing it to what `write` asks for; `room` is a first guess of what it needs.
pub(super) fn append(
    buf: &mut Vec<u8>,
    len: &mut usize,
    room: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Failure>,
) -> io::Result<()> {
    if buf.len() < *len + room {
        buf.resize(*len + room, 0);
    }
    loop {
        match write(&mut buf[*len..]) {
            Ok(n) => {
                *len += n;
                return Ok(());
            }
            Err(Grow(required)) if *len + required > buf.len() => buf.resize(*len + required, 0),
            Err(Grow(_)) => return Err(io::Error::other("TLS buffer did not grow")),
            Err(Fail(error)) => return Err(error),
        }
    }
}

/// Where the TLS record that `bytes` starts with ends, once its 5-byte header is in; 0 before.
pub(super) fn record_end(bytes: &[u8]) -> usize {
    match bytes {
        [_, _, _, high, low, ..] => 5 + usize::from(u16::from_be_bytes([*high, *low])),
        _ => 0,
    }
}

/// Removes the first `n` of the `len` bytes in `buf`.
pub(super) fn discard_front(buf: &mut [u8], len: &mut usize, n: usize) {
    if n == 0 {
        return;
    }
    buf.copy_within(n..*len, 0);
    *len -= n;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_ends_after_its_header_and_length() {
        assert_eq!(record_end(&[0x17, 3, 3, 0x40, 0x11, 0]), 5 + 0x4011);
        assert_eq!(record_end(&[0x17, 3, 3, 0, 0]), 5);
        assert_eq!(record_end(&[0x17, 3, 3, 0x40]), 0, "no length yet");
    }

    #[test]
    fn discarding_moves_the_rest_to_the_front() {
        let mut buf = *b"abcdef";
        let mut len = 5;
        discard_front(&mut buf, &mut len, 2);
        assert_eq!((&buf[..len], len), (&b"cde"[..], 3));
        discard_front(&mut buf, &mut len, 0);
        assert_eq!(len, 3);
        discard_front(&mut buf, &mut len, 3);
        assert_eq!(len, 0);
    }

    #[test]
    fn append_grows_the_buffer_to_what_the_writer_asks() {
        let mut buf = vec![0u8; 2];
        let mut len = 1;
        let mut calls = 0;
        append(&mut buf, &mut len, 0, |out| {
            calls += 1;
            if out.len() < 4 {
                return Err(Grow(4));
            }
            out[..4].copy_from_slice(b"wxyz");
            Ok(4)
        })
        .unwrap();
        assert_eq!((calls, len, &buf[1..5]), (2, 5, &b"wxyz"[..]));
    }

    #[test]
    fn append_stops_when_growing_would_not_help() {
        let mut buf = vec![0u8; 8];
        let mut len = 0;
        let error = append(&mut buf, &mut len, 0, |_| Err(Grow(4))).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Other);
    }
}
