//! `[tls] hsts`: the `Strict-Transport-Security` value (RFC 6797 §6.1), checked once at load.
//!
//! The value is sent as written, so `check` refuses what a browser would ignore or misread:
//! a missing or non-numeric `max-age`, a directive given twice, an unknown directive (a typo
//! such as `includeSubdomain` would silently not apply), a value a header cannot carry.
//! `preload` needs `includeSubDomains` and a `max-age` of at least a year, as the preload list
//! requires; a `max-age=0` (which tells browsers to forget the policy) is allowed on purpose.

use http::HeaderValue;

/// The smallest `max-age` the HSTS preload list accepts: one year.
const PRELOAD_MIN_MAX_AGE: u64 = 31_536_000;

/// Parses and checks an HSTS value such as `max-age=31536000; includeSubDomains`.
///
/// # Errors
/// A sentence saying what is wrong, for a positioned config error.
pub(super) fn parse_hsts(text: &str) -> Result<HeaderValue, String> {
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    for directive in text.split(';').map(str::trim) {
        if directive.is_empty() {
            continue;
        }
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (directive, None),
        };
        let seen = match name.to_ascii_lowercase().as_str() {
            "max-age" => {
                let digits = value
                    .map(|v| v.trim_matches('"'))
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        format!("hsts: max-age needs a number of seconds, got {directive:?}")
                    })?;
                let seconds = digits
                    .parse::<u64>()
                    .map_err(|_| format!("hsts: max-age {digits} is too large"))?;
                max_age.replace(seconds).is_some()
            }
            "includesubdomains" if value.is_none() => {
                std::mem::replace(&mut include_subdomains, true)
            }
            "preload" if value.is_none() => std::mem::replace(&mut preload, true),
            "includesubdomains" | "preload" => {
                return Err(format!("hsts: {name} takes no value, got {directive:?}"));
            }
            _ => {
                return Err(format!(
                    "hsts: unknown directive {name:?} (expected max-age, includeSubDomains, preload)"
                ));
            }
        };
        if seen {
            return Err(format!("hsts: {name} appears twice"));
        }
    }
    let max_age = max_age.ok_or("hsts: max-age is required, e.g. \"max-age=31536000\"")?;
    if preload && !(include_subdomains && max_age >= PRELOAD_MIN_MAX_AGE) {
        return Err(format!(
            "hsts: preload needs includeSubDomains and max-age of at least {PRELOAD_MIN_MAX_AGE}"
        ));
    }
    HeaderValue::from_str(text.trim()).map_err(|_| "hsts: not a valid header value".to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_hsts;

    #[test]
    fn valid_values_are_sent_as_written() {
        for ok in [
            "max-age=31536000",
            "max-age=31536000; includeSubDomains",
            "MAX-AGE=\"600\";includesubdomains",
            "max-age=63072000; includeSubDomains; preload",
            "max-age=0",
        ] {
            assert_eq!(parse_hsts(ok).expect(ok).to_str().ok(), Some(ok.trim()));
        }
    }

    #[test]
    fn invalid_values_say_why() {
        for (bad, why) in [
            ("", "max-age is required"),
            ("includeSubDomains", "max-age is required"),
            ("max-age=", "needs a number"),
            ("max-age=1y", "needs a number"),
            ("max-age=-1", "needs a number"),
            ("max-age=99999999999999999999999", "too large"),
            ("max-age=1; max-age=2", "appears twice"),
            (
                "max-age=1; includeSubDomains; includeSubDomains",
                "appears twice",
            ),
            ("max-age=1; includeSubdomain", "unknown directive"),
            ("max-age=1; includeSubDomains=yes", "takes no value"),
            ("max-age=600; includeSubDomains; preload", "preload needs"),
            ("max-age=31536000; preload", "preload needs"),
            ("max-age=1\u{7f}", "needs a number"),
        ] {
            let error = parse_hsts(bad).expect_err(bad);
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }
}
