//! Request-target normalization: which host and path a request is about.
//! Pure: no I/O, no config types.
//!
//! # Path normalization ([`normalize_path`])
//!
//! DESIGN.md "Precise rules", applied in this order:
//!
//! 1. reject a raw `#`, `?`, `\`, NUL, other control character, space or non-ASCII byte;
//! 2. the path must start with `/` (the asterisk-form `*` is the caller's business);
//! 3. decode `%XX` of unreserved characters (ALPHA DIGIT `-._~`), upper-case the hex of
//!    every other escape; reject a `%` without two hex digits, and `%2F`, `%5C`, `%00`;
//! 4. collapse repeated `/`;
//! 5. resolve `.` and `..` segments, including those that only appear after step 3
//!    (`%2e%2e`); a `..` that would climb above `/` is an error.
//!
//! Invariants of a normalized path: ASCII, starts with `/`, no empty, `.` or `..` segment,
//! no escape of an unreserved character, every escape upper-case, never `%2F`/`%5C`/`%00`.
//! A trailing slash is kept when the input had one, or ended in `.` or `..` (RFC 3986
//! §5.2.4: `/a/.` → `/a/`, `/a/..` → `/`). Normalization is idempotent, so the path that is
//! routed and authorized is byte-for-byte the path that is forwarded.
//!
//! Deliberately not done: the query is never seen here (split it off first); nothing is
//! decoded twice (`%252e` stays `%252e`, never `.`: a second decode is exactly the
//! disagreement with the upstream that an attacker looks for); reserved characters are
//! never decoded, so `%3B` and `;` stay distinct; `;` is an ordinary character (`..;` is a
//! name, not `..`); raw characters are never re-encoded (the upstream gets what was sent).
//!
//! # Host normalization ([`normalize_host`])
//!
//! A `Host` value or URI authority: lower-cased, the port (numeric, 1–65535) and one trailing
//! dot removed. A name is labels of ASCII letters, digits, `-` and `_`; an IPv6 literal is
//! validated and written in its canonical form (`[0:0::1]:443` → `[::1]`). Userinfo, empty
//! labels, whitespace and anything else (`/`, `?`, `#`, `\`, `*`, `%`) are refused.

use std::net::Ipv6Addr;

use thiserror::Error;

/// Why a request path or a configured route prefix was refused (a request gets 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("path does not start with `/`")]
    NotAbsolute,
    /// A raw `#`: a fragment is never sent to a server.
    #[error("path contains a `#`")]
    Fragment,
    /// A raw `?`: the query must be split off before normalization.
    #[error("path contains a `?`")]
    Query,
    /// A raw `\`, which some upstreams read as `/`.
    #[error("path contains a backslash")]
    Backslash,
    /// A raw NUL byte.
    #[error("path contains a NUL byte")]
    Nul,
    /// A raw control character other than NUL (0x01–0x1F, 0x7F).
    #[error("path contains a control character")]
    ControlCharacter,
    /// A raw space.
    #[error("path contains a space")]
    Space,
    /// A byte outside ASCII; it must be percent-encoded.
    #[error("path contains a non-ASCII byte")]
    NonAscii,
    /// A `%` not followed by two hex digits.
    #[error("path contains a `%` not followed by two hex digits")]
    BadPercentEncoding,
    /// `%2F`: an encoded `/` would let the upstream see other segments than we routed.
    #[error("path contains an encoded slash (%2F)")]
    EncodedSlash,
    /// `%5C`: an encoded `\`.
    #[error("path contains an encoded backslash (%5C)")]
    EncodedBackslash,
    /// `%00`: an encoded NUL.
    #[error("path contains an encoded NUL (%00)")]
    EncodedNul,
    /// A `..` segment would climb above `/`.
    #[error("path climbs above the root with `..`")]
    AboveRoot,
    /// The path reaches another route when `;` parameters are cut or letter case is
    /// ignored, as Tomcat, Spring or a case-insensitive upstream read it (see `lenient`).
    #[error("path reaches another route when `;` parameters or letter case are ignored")]
    Ambiguous,
}

/// Why a host (a `Host` value, a URI authority or a configured host pattern) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HostError {
    /// Nothing left once the port and the trailing dot are removed.
    #[error("host is empty")]
    Empty,
    /// An `@`: userinfo has no place in a `Host`.
    #[error("host contains userinfo (`@`)")]
    Userinfo,
    /// A space or a tab.
    #[error("host contains whitespace")]
    Whitespace,
    /// A control character.
    #[error("host contains a control character")]
    ControlCharacter,
    /// A byte outside ASCII (an IDN must arrive in its `xn--` form).
    #[error("host contains a non-ASCII byte")]
    NonAscii,
    /// A character that is not a letter, digit, `-`, `_` or a label-separating `.`.
    #[error("host contains an invalid character")]
    InvalidCharacter,
    /// Empty labels: `a..b`, `.a`, or more than one trailing dot.
    #[error("host has an empty label")]
    EmptyLabel,
    /// A label over 63 bytes or a name over 253 bytes.
    #[error("host name is too long")]
    TooLong,
    /// A port that is empty, not all digits, 0 or over 65535.
    #[error("host has an invalid port")]
    InvalidPort,
    /// A port in a configured host pattern, which matches hosts, not ports.
    #[error("host pattern must not have a port")]
    PortNotAllowed,
    /// A bracketed literal that is not an IPv6 address, or a `[` without its `]`.
    #[error("host is not a valid IPv6 literal")]
    InvalidIpv6,
    /// A `*` anywhere but as the whole first label of a pattern (`*.example.com`).
    #[error("wildcard must be the whole first label, as in `*.example.com`")]
    InvalidWildcard,
}

/// Normalizes a request path (the request-target without its query) as DESIGN.md's
/// "Precise rules" say; see the module docs for the steps and the invariants of the result.
///
/// # Errors
///
/// A [`PathError`] naming the first rule the path breaks.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    if let Some(error) = raw.bytes().find_map(raw_byte_error) {
        return Err(error);
    }
    let decoded = decode_unreserved(raw)?;
    resolve_segments(&decoded)
}

/// The error for a byte that may never appear raw in a path, if it is one.
fn raw_byte_error(byte: u8) -> Option<PathError> {
    match byte {
        b'#' => Some(PathError::Fragment),
        b'?' => Some(PathError::Query),
        b'\\' => Some(PathError::Backslash),
        b' ' => Some(PathError::Space),
        0 => Some(PathError::Nul),
        0x01..=0x1f | 0x7f => Some(PathError::ControlCharacter),
        0x80..=0xff => Some(PathError::NonAscii),
        _ => None,
    }
}

/// Decodes escapes of unreserved characters, upper-cases the others. `raw` is ASCII.
fn decode_unreserved(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte != b'%' {
            out.push(char::from(byte));
            i += 1;
            continue;
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
            return Err(PathError::BadPercentEncoding);
        };
        let (Some(hi_value), Some(lo_value)) = (hex_value(hi), hex_value(lo)) else {
            return Err(PathError::BadPercentEncoding);
        };
        match (hi_value << 4) | lo_value {
            b'/' => return Err(PathError::EncodedSlash),
            b'\\' => return Err(PathError::EncodedBackslash),
            0 => return Err(PathError::EncodedNul),
            decoded if is_unreserved(decoded) => out.push(char::from(decoded)),
            _ => {
                out.push('%');
                out.push(char::from(hi.to_ascii_uppercase()));
                out.push(char::from(lo.to_ascii_uppercase()));
            }
        }
        i += 3;
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 §2.3 unreserved characters: the only ones whose escapes are decoded.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Collapses repeated `/` and resolves `.` and `..` segments (RFC 3986 §5.2.4).
pub(super) fn resolve_segments(path: &str) -> Result<String, PathError> {
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut out = String::with_capacity(path.len());
    let mut trailing_slash = false;
    for segment in rest.split('/') {
        // Only the last segment's value survives the loop: an empty, `.` or `..` last
        // segment means the path names a directory, so it keeps its trailing slash.
        trailing_slash = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                let parent = out.rfind('/').ok_or(PathError::AboveRoot)?;
                out.truncate(parent);
            }
            name => {
                out.push('/');
                out.push_str(name);
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// Normalizes a `Host` header value or a URI authority: lower-cased, without its port and
/// one trailing dot; an IPv6 literal keeps its brackets and is written canonically.
///
/// # Errors
///
/// A [`HostError`] naming what is wrong: empty, userinfo, whitespace, control or non-ASCII
/// bytes, a bad port, an invalid character, an empty label, too long, a bad IPv6 literal.
pub fn normalize_host(raw: &str) -> Result<String, HostError> {
    parse_host(raw, PortRule::Strip)
}

/// Whether a port is accepted (and dropped) or refused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PortRule {
    Strip,
    Reject,
}

pub(super) fn parse_host(raw: &str, port_rule: PortRule) -> Result<String, HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    if let Some(error) = raw.bytes().find_map(host_byte_error) {
        return Err(error);
    }
    let (name, port) = split_port(raw)?;
    if let Some(port) = port {
        if port_rule == PortRule::Reject {
            return Err(HostError::PortNotAllowed);
        }
        if !is_valid_port(port) {
            return Err(HostError::InvalidPort);
        }
    }
    match name.strip_prefix('[') {
        Some(literal) => parse_ipv6_literal(literal),
        None => parse_domain_name(name),
    }
}

/// The error for a byte that may never appear in a host, if it is one.
fn host_byte_error(byte: u8) -> Option<HostError> {
    match byte {
        b'@' => Some(HostError::Userinfo),
        b' ' | b'\t' => Some(HostError::Whitespace),
        0x00..=0x1f | 0x7f => Some(HostError::ControlCharacter),
        0x80..=0xff => Some(HostError::NonAscii),
        _ => None,
    }
}

/// Splits `host[:port]`; an IPv6 literal keeps its brackets in the host part.
fn split_port(raw: &str) -> Result<(&str, Option<&str>), HostError> {
    if raw.starts_with('[') {
        let end = raw.find(']').ok_or(HostError::InvalidIpv6)?;
        let (literal, rest) = raw.split_at(end + 1);
        return match rest {
            "" => Ok((literal, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((literal, Some(port))),
                None => Err(HostError::InvalidCharacter),
            },
        };
    }
    Ok(match raw.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (raw, None),
    })
}

fn is_valid_port(port: &str) -> bool {
    // All digits first: `u16::from_str` would also take a leading `+`.
    !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && matches!(port.parse::<u16>(), Ok(number) if number != 0)
}

/// `literal` is what follows `[`, including the closing `]`.
fn parse_ipv6_literal(literal: &str) -> Result<String, HostError> {
    let address = literal
        .strip_suffix(']')
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .ok_or(HostError::InvalidIpv6)?;
    Ok(format!("[{address}]"))
}

const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

fn parse_domain_name(name: &str) -> Result<String, HostError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(HostError::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(HostError::TooLong);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(HostError::InvalidCharacter);
        }
    }
    Ok(name.to_ascii_lowercase())
}
