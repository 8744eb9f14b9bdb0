//! `[users]`: the users file and login throttling. The file is only *named* here, resolved
//! against the config file's folder; `crate::auth::users` reads it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::ConfigDuration;
use super::location::{Located, Problems};

/// Default failed logins per key within the window before a lockout.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Default window in which failed logins add up.
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Default lockout.
pub const DEFAULT_LOCKOUT: Duration = Duration::from_secs(300);
/// Default lifetime of a device cookie (a browser that signed in is "known" this long).
pub const DEFAULT_DEVICE_COOKIE_TTL: Duration = Duration::from_secs(90 * 86_400);

/// Validated `[users]`.
#[derive(Debug, Clone)]
pub struct UsersSettings {
    /// The users file.
    pub file: Located<PathBuf>,
    /// Login throttling.
    pub throttle: ThrottleSettings,
    /// Lifetime of device cookies; zero: none are issued or honoured.
    pub device_cookie_ttl: Duration,
}

/// The `[users]` throttling settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures within `failure_window` that lock a key (the config refuses 0; 0 acts as 1).
    pub max_failures: u32,
    /// Window, from a key's first failure, in which failures add up.
    pub failure_window: Duration,
    /// How long a key stays locked.
    pub lockout: Duration,
}

/// Throttling defaults, for a gateway without `[users]` (no logins to throttle).
pub fn default_throttle() -> ThrottleSettings {
    ThrottleSettings {
        max_failures: DEFAULT_MAX_FAILURES,
        failure_window: DEFAULT_FAILURE_WINDOW,
        lockout: DEFAULT_LOCKOUT,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUsers {
    file: Spanned<PathBuf>,
    max_failures: Option<Spanned<u32>>,
    failure_window: Option<ConfigDuration>,
    lockout: Option<ConfigDuration>,
    device_cookie_ttl: Option<ConfigDuration>,
}

pub(super) fn validate_users(
    raw: RawUsers,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> UsersSettings {
    let file = problems.locator.resolved(raw.file, base_dir);
    let max_failures = match raw.max_failures {
        None => DEFAULT_MAX_FAILURES,
        Some(m) if *m.get_ref() >= 1 => m.into_inner(),
        Some(m) => {
            problems.add(m.span().start, "max_failures must be at least 1");
            DEFAULT_MAX_FAILURES
        }
    };
    UsersSettings {
        file,
        throttle: ThrottleSettings {
            max_failures,
            failure_window: raw.failure_window.map_or(DEFAULT_FAILURE_WINDOW, |d| d.0),
            lockout: raw.lockout.map_or(DEFAULT_LOCKOUT, |d| d.0),
        },
        device_cookie_ttl: raw
            .device_cookie_ttl
            .map_or(DEFAULT_DEVICE_COOKIE_TTL, |d| d.0),
    }
}
