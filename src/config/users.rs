//! `[users]`: the users files and login throttling. Users come from a `users.toml`
//! (`file`), an Apache htpasswd file (`htpasswd`, every user in it getting
//! `htpasswd_groups`), or both; at least one is needed. The files are only *named* here,
//! resolved against the config file's folder; `crate::auth::users` reads them.

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
    /// The users file (`users.toml`), when there is one.
    pub file: Option<Located<PathBuf>>,
    /// The htpasswd file, when there is one.
    pub htpasswd: Option<HtpasswdSettings>,
    /// Login throttling.
    pub throttle: ThrottleSettings,
    /// Lifetime of device cookies; zero: none are issued or honoured.
    pub device_cookie_ttl: Duration,
}

/// `[users] htpasswd` and the groups its users get.
#[derive(Debug, Clone)]
pub struct HtpasswdSettings {
    /// The htpasswd file.
    pub file: Located<PathBuf>,
    /// `htpasswd_groups`: the groups of every user in it.
    pub groups: Vec<String>,
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
    file: Option<Spanned<PathBuf>>,
    htpasswd: Option<Spanned<PathBuf>>,
    htpasswd_groups: Option<Spanned<Vec<Spanned<String>>>>,
    max_failures: Option<Spanned<u32>>,
    failure_window: Option<ConfigDuration>,
    lockout: Option<ConfigDuration>,
    device_cookie_ttl: Option<ConfigDuration>,
}

pub(super) fn validate_users(
    raw: Spanned<RawUsers>,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> UsersSettings {
    let section_at = raw.span().start;
    let raw = raw.into_inner();
    if raw.file.is_none() && raw.htpasswd.is_none() {
        problems.add(
            section_at,
            "[users] needs file = \"users.toml\", htpasswd = \"users.htpasswd\", or both",
        );
    }
    let groups = match (&raw.htpasswd, raw.htpasswd_groups) {
        (_, None) => Vec::new(),
        (None, Some(groups)) => {
            problems.add(groups.span().start, "htpasswd_groups needs htpasswd");
            Vec::new()
        }
        (Some(_), Some(groups)) => groups
            .into_inner()
            .into_iter()
            .filter_map(|group| {
                let name = group.get_ref();
                if name.is_empty() || name.contains(',') || name.chars().any(char::is_control) {
                    problems.add(
                        group.span().start,
                        format!(
                            "invalid group {name:?}: a group name is not empty and has no ',' \
                             or control characters"
                        ),
                    );
                    return None;
                }
                Some(group.into_inner())
            })
            .collect(),
    };
    let file = raw.file.map(|f| problems.locator.resolved(f, base_dir));
    let htpasswd = raw.htpasswd.map(|f| HtpasswdSettings {
        file: problems.locator.resolved(f, base_dir),
        groups,
    });
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
        htpasswd,
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
