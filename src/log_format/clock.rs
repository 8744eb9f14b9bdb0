//! The line's timestamp, RFC 3339 in UTC with microseconds (`2026-12-04T23:16:09.049129Z`).
//!
//! Calendar arithmetic is the expensive part and changes once a second, so each thread
//! keeps the rendered `YYYY-MM-DDTHH:MM:SS.` of the last second it logged in and writes
//! only the six digits of microseconds per line.

use std::cell::Cell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS.`
const PREFIX_LEN: usize = 20;

thread_local! {
    /// The second last rendered on this thread and its prefix.
    static LAST_SECOND: Cell<(u64, [u8; PREFIX_LEN])> = const { Cell::new((u64::MAX, [0; PREFIX_LEN])) };
}

/// Writes the current time.
pub(super) fn write_now(out: &mut impl Write) -> fmt::Result {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    write_time(out, since_epoch.as_secs(), since_epoch.subsec_micros())
}

fn write_time(out: &mut impl Write, seconds: u64, micros: u32) -> fmt::Result {
    let prefix = LAST_SECOND.with(|last| {
        let (second, prefix) = last.get();
        if second == seconds {
            return prefix;
        }
        let prefix = render_prefix(seconds);
        last.set((seconds, prefix));
        prefix
    });
    // Only ASCII digits and separators are ever stored.
    out.write_str(std::str::from_utf8(&prefix).map_err(|_| fmt::Error)?)?;
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)?;
    out.write_char('Z')
}

fn render_prefix(seconds: u64) -> [u8; PREFIX_LEN] {
    let time = i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut rendered = String::with_capacity(PREFIX_LEN);
    let _ = write!(
        rendered,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    let mut prefix = [b'0'; PREFIX_LEN];
    let bytes = rendered.as_bytes();
    let len = bytes.len().min(PREFIX_LEN);
    prefix[..len].copy_from_slice(&bytes[..len]);
    prefix
}

#[cfg(test)]
mod tests {
    use super::write_time;

    fn rendered(seconds: u64, micros: u32) -> String {
        let mut out = String::new();
        write_time(&mut out, seconds, micros).expect("writes");
        out
    }

    #[test]
    fn renders_rfc3339_utc_with_microseconds_across_second_changes() {
        assert_eq!(rendered(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rendered(1_796_426_169, 49_129),
            "2026-12-04T23:16:09.049129Z"
        );
        assert_eq!(
            rendered(1_796_426_169, 999_999),
            "2026-12-04T23:16:09.999999Z"
        );
        assert_eq!(rendered(1_796_426_170, 7), "2026-12-04T23:16:10.000007Z");
        // Leap day, and back to an earlier second (clocks step back).
        assert_eq!(rendered(1_709_164_800, 1), "2024-02-29T00:00:00.000001Z");
        assert_eq!(rendered(1_796_426_169, 5), "2026-12-04T23:16:09.000005Z");
    }
}
