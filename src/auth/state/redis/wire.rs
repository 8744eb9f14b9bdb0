//! What goes over the wire: key and channel names under the configured prefix, and one
//! revocation as a small JSON object — the same text is the member of the revocation set
//! and the pub/sub message, so a message and a load from the set read alike.
//!
//! Decoding never panics: anything that is not a well-formed record is `None`, and the
//! caller logs and ignores it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::super::ThrottleKey;
use super::super::revocations::Revocation;

/// Key and channel names of one deployment (`key_prefix`).
#[derive(Debug, Clone)]
pub(super) struct Names {
    /// Sorted set of encoded revocations, scored by expiry (unix milliseconds).
    pub(super) revocations: String,
    /// Channel on which each new revocation is published.
    pub(super) channel: String,
    pub(super) prefix: String,
}

impl Names {
    pub(super) fn new(prefix: &str) -> Names {
        Names {
            revocations: format!("{prefix}revocations"),
            channel: format!("{prefix}revocations"),
            prefix: prefix.to_owned(),
        }
    }

    /// The hash holding one throttle key's counters.
    pub(super) fn throttle(&self, key: &ThrottleKey) -> String {
        match key {
            ThrottleKey::ClientIp(ip) => format!("{}throttle:ip:{ip}", self.prefix),
            ThrottleKey::Username(name) => format!("{}throttle:user:{name}", self.prefix),
            ThrottleKey::Device(id) => format!("{}throttle:device:{id}", self.prefix),
        }
    }
}

/// A revocation that owns its strings, as stored in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Record {
    /// `s` session, `t` token, `u` user cutoff.
    k: String,
    /// The user.
    u: String,
    /// The `sid` or `jti` (empty for a cutoff).
    #[serde(default)]
    i: String,
    /// The cutoff, unix milliseconds (0 unless a cutoff).
    #[serde(default)]
    b: u64,
    /// Expiry, unix milliseconds.
    x: u64,
}

impl Record {
    pub(super) fn from_revocation(revocation: Revocation<'_>) -> Record {
        let (k, user, id, before, until) = match revocation {
            Revocation::Session { user, sid, until } => ("s", user, sid, UNIX_EPOCH, until),
            Revocation::Token { user, jti, until } => ("t", user, jti, UNIX_EPOCH, until),
            Revocation::User {
                user,
                before,
                until,
            } => ("u", user, "", before, until),
        };
        Record {
            k: k.to_owned(),
            u: user.to_owned(),
            i: id.to_owned(),
            b: millis(before),
            x: millis(until),
        }
    }

    /// The revocation, borrowing from the record; `None` for an unknown kind.
    pub(super) fn revocation(&self) -> Option<Revocation<'_>> {
        let until = at(self.x);
        match self.k.as_str() {
            "s" if !self.i.is_empty() => Some(Revocation::Session {
                user: &self.u,
                sid: &self.i,
                until,
            }),
            "t" if !self.i.is_empty() => Some(Revocation::Token {
                user: &self.u,
                jti: &self.i,
                until,
            }),
            "u" => Some(Revocation::User {
                user: &self.u,
                before: at(self.b),
                until,
            }),
            _ => None,
        }
    }

    /// Expiry, unix milliseconds: the record's score in the set.
    pub(super) fn expires_ms(&self) -> u64 {
        self.x
    }

    pub(super) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A well-formed record, or `None` (the caller warns and ignores it).
    pub(super) fn decode(text: &[u8]) -> Option<Record> {
        let record: Record = serde_json::from_slice(text).ok()?;
        record.revocation().is_some().then_some(record)
    }
}

/// Unix milliseconds of `time` (0 before the epoch).
pub(super) fn millis(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{Names, Record};
    use crate::auth::state::{Revocation, ThrottleKey};

    #[test]
    fn a_record_round_trips_every_kind() {
        let until = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let before = UNIX_EPOCH + Duration::from_secs(1_690_000_000);
        for revocation in [
            Revocation::Session {
                user: "alice",
                sid: "s1",
                until,
            },
            Revocation::Token {
                user: "bob",
                jti: "j1",
                until,
            },
            Revocation::User {
                user: "carol",
                before,
                until,
            },
        ] {
            let record = Record::from_revocation(revocation);
            let decoded = Record::decode(record.encode().as_bytes()).expect("well formed");
            assert_eq!(decoded.revocation(), Some(revocation));
        }
    }

    #[test]
    fn malformed_messages_are_refused_not_panicked_on() {
        for text in [
            &b""[..],
            b"null",
            b"{}",
            b"\xff\xfe",
            br#"{"k":"x","u":"a","x":1}"#,
            br#"{"k":"s","u":"a","x":1}"#,
            br#"{"k":"s","u":"a","i":"s","x":-1}"#,
            br#"{"k":"u","u":"a","x":18446744073709551615,"b":18446744073709551615}"#,
        ] {
            if let Some(record) = Record::decode(text) {
                // Only the last one is well formed; its huge times must not panic.
                assert!(record.revocation().is_some());
            }
        }
        assert!(Record::decode(b"{}").is_none());
    }

    #[test]
    fn names_carry_the_prefix() {
        let names = Names::new("gw1:");
        assert_eq!(names.revocations, "gw1:revocations");
        assert_eq!(
            names.throttle(&ThrottleKey::username("alice")),
            "gw1:throttle:user:alice"
        );
    }
}
