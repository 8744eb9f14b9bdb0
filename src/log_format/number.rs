//! Numbers in log lines, written the way `Display` (integers) and `Debug` (floats) write
//! them, without going through `fmt`'s padding and formatting machinery.
//!
//! Every access line carries a status, a request id and a duration in milliseconds with
//! microsecond resolution (`12.345`); through `write!` those three cost about as much as
//! all the line's strings.

use std::fmt::{self, Write};

/// Writes `value` as `Display` does.
pub(super) fn write_u64(out: &mut impl Write, mut value: u64) -> fmt::Result {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.write_str(std::str::from_utf8(&digits[start..]).map_err(|_| fmt::Error)?)
}

/// Writes `value` as `i64`'s `Display` does.
pub(super) fn write_i64(out: &mut impl Write, value: i64) -> fmt::Result {
    if value < 0 {
        out.write_char('-')?;
    }
    write_u64(out, value.unsigned_abs())
}

/// Writes `value` as `Debug` does (`1.5`, `12.345`, `3.0`, `1e-7`).
///
/// The fast path covers a value that is the double nearest to a decimal with at most three
/// fractional digits below 10⁹, as every duration in whole microseconds is: `Debug` prints
/// the shortest decimal that reads back as the same double, and at this magnitude no other
/// decimal of that length or shorter lies within rounding distance, so it is that decimal.
/// Anything else goes through `Debug`.
pub(super) fn write_f64(out: &mut impl Write, value: f64) -> fmt::Result {
    if value.is_sign_positive() && value < 1e9 {
        let thousandths = (value * 1000.0).round();
        if thousandths / 1000.0 == value {
            let thousandths = thousandths as u64;
            write_u64(out, thousandths / 1000)?;
            out.write_char('.')?;
            let fraction = thousandths % 1000;
            if fraction == 0 {
                return out.write_char('0');
            }
            let digits = [
                b'0' + (fraction / 100) as u8,
                b'0' + (fraction / 10 % 10) as u8,
                b'0' + (fraction % 10) as u8,
            ];
            let significant = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
            return out
                .write_str(std::str::from_utf8(&digits[..significant]).map_err(|_| fmt::Error)?);
        }
    }
    write!(out, "{value:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut String) -> fmt::Result) -> String {
        let mut out = String::new();
        write(&mut out).expect("writes");
        out
    }

    #[test]
    fn integers_match_display() {
        for value in [0, 7, 10, 200, 404, 999_999, u64::MAX] {
            assert_eq!(written(|out| write_u64(out, value)), value.to_string());
        }
        for value in [0, -1, 42, i64::MIN, i64::MAX] {
            assert_eq!(written(|out| write_i64(out, value)), value.to_string());
        }
    }

    #[test]
    fn floats_match_debug() {
        // Every duration in whole microseconds up to 300 ms, and some far beyond.
        let micros = (0..300_000u64).chain((0..2_000).map(|i| i * 7_919_993 + 1));
        for micros in micros {
            let value = micros as f64 / 1000.0;
            assert_eq!(written(|out| write_f64(out, value)), format!("{value:?}"));
        }
        // The paths `Debug` takes: exponents, negative zero, fractions beyond the fast
        // path, the limit, infinities and NaN.
        for value in [
            1e-7,
            0.000_5,
            -0.0,
            -1.5,
            0.1 + 0.2,
            1.0 / 3.0,
            999_999_999.999,
            1e9,
            1e16,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NAN,
        ] {
            assert_eq!(written(|out| write_f64(out, value)), format!("{value:?}"));
        }
    }
}
