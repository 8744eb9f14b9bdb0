//! `[state]`: where revocations, sessions and login throttling live — in this process
//! (`store = "memory"`, the default) or in a Redis shared by every instance
//! (`store = "redis"`). Only the settings are checked here; `crate::auth::state` connects,
//! and reads `redis_password_file`.
//!
//! The Redis URL may carry a password (`redis://:secret@host/0`), so [`RedisUrl`] keeps it
//! out of `Debug` and `Display`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::location::{Located, Problems};

/// Default `redis_url`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379/0";
/// Default `key_prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "gateway:";

/// Validated `[state]`.
#[derive(Debug, Clone, Default)]
pub enum StateSettings {
    /// Every instance keeps its own (today's behaviour).
    #[default]
    Memory,
    /// Shared through Redis.
    Redis(RedisSettings),
}

/// `[state]` with `store = "redis"`.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS), possibly with `user:password@`.
    pub url: RedisUrl,
    /// A file holding the password (surrounding whitespace trimmed); wins over the URL's.
    pub password_file: Option<Located<PathBuf>>,
    /// Prefix of every key and channel, so deployments can share one Redis.
    pub key_prefix: String,
}

/// A Redis URL whose password never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL as written, password included: for the client only, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return "***".to_owned();
        };
        match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or("", |(user, _)| user);
                format!("{scheme}://{user}:***@{host}")
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    store: Option<Spanned<String>>,
    redis_url: Option<Spanned<String>>,
    redis_password_file: Option<Spanned<PathBuf>>,
    key_prefix: Option<Spanned<String>>,
}

pub(super) fn validate_state(
    raw: Option<RawState>,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> StateSettings {
    let raw = raw.unwrap_or_default();
    let store = raw
        .store
        .as_ref()
        .map_or("memory", |s| s.get_ref().as_str());
    match store {
        "memory" => {
            let redis_only = [
                raw.redis_url
                    .as_ref()
                    .map(|s| ("redis_url", s.span().start)),
                raw.redis_password_file
                    .as_ref()
                    .map(|s| ("redis_password_file", s.span().start)),
                raw.key_prefix
                    .as_ref()
                    .map(|s| ("key_prefix", s.span().start)),
            ];
            for (key, offset) in redis_only.into_iter().flatten() {
                problems.add(offset, format!("{key} needs store = \"redis\""));
            }
            StateSettings::Memory
        }
        "redis" => StateSettings::Redis(validate_redis(raw, base_dir, problems)),
        other => {
            let offset = raw.store.as_ref().map_or(0, |s| s.span().start);
            problems.add(
                offset,
                format!("store = {other:?}: expected \"memory\" or \"redis\""),
            );
            StateSettings::Memory
        }
    }
}

fn validate_redis(raw: RawState, base_dir: &Path, problems: &mut Problems<'_>) -> RedisSettings {
    let url = match raw.redis_url {
        None => RedisUrl(DEFAULT_REDIS_URL.to_owned()),
        Some(spanned) => {
            let offset = spanned.span().start;
            let url = RedisUrl(spanned.into_inner());
            if let Err(why) = check_url(url.expose()) {
                problems.add(offset, format!("redis_url {url}: {why}"));
            }
            url
        }
    };
    let key_prefix = match raw.key_prefix {
        None => DEFAULT_KEY_PREFIX.to_owned(),
        Some(prefix) if prefix.get_ref().is_empty() || prefix.get_ref().len() > 64 => {
            problems.add(
                prefix.span().start,
                "key_prefix must be 1 to 64 characters (e.g. \"gateway:\")",
            );
            DEFAULT_KEY_PREFIX.to_owned()
        }
        Some(prefix) => prefix.into_inner(),
    };
    RedisSettings {
        url,
        password_file: raw
            .redis_password_file
            .map(|path| problems.locator.resolved(path, base_dir)),
        key_prefix,
    }
}

/// Why `url` cannot be used, if it cannot (the message never repeats the URL).
fn check_url(url: &str) -> Result<(), &'static str> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("expected a redis:// or rediss:// (TLS) URL");
    }
    redis::IntoConnectionInfo::into_connection_info(url)
        .map(drop)
        .map_err(|_| "not a valid Redis URL (redis://[user:password@]host[:port][/db])")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{DEFAULT_KEY_PREFIX, DEFAULT_REDIS_URL, RedisUrl, StateSettings};
    use crate::config::{Config, ConfigError};

    const BASE: &str = "[tls]\ncert = \"a.crt\"\nkey = \"a.key\"\n[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n";

    fn state(section: &str) -> Result<StateSettings, Vec<String>> {
        match Config::from_toml_str(&format!("{BASE}{section}"), Path::new("/etc/gateway")) {
            Ok(config) => Ok(config.state),
            Err(ConfigError::Invalid { problems }) => {
                Err(problems.iter().map(ToString::to_string).collect())
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn no_section_or_memory_is_the_in_process_store() {
        assert!(matches!(state(""), Ok(StateSettings::Memory)));
        assert!(matches!(
            state("[state]\nstore = \"memory\"\n"),
            Ok(StateSettings::Memory)
        ));
    }

    #[test]
    fn redis_gets_defaults_and_resolves_the_password_file() {
        let Ok(StateSettings::Redis(redis)) = state("[state]\nstore = \"redis\"\n") else {
            panic!("redis expected");
        };
        assert_eq!(redis.url.expose(), DEFAULT_REDIS_URL);
        assert_eq!(redis.key_prefix, DEFAULT_KEY_PREFIX);
        assert!(redis.password_file.is_none());
        let Ok(StateSettings::Redis(redis)) = state(
            "[state]\nstore = \"redis\"\nredis_url = \"rediss://u:pw@r.example:6380/2\"\n\
             redis_password_file = \"certs/redis.password\"\nkey_prefix = \"gw1:\"\n",
        ) else {
            panic!("redis expected");
        };
        assert_eq!(redis.key_prefix, "gw1:");
        assert_eq!(
            redis.password_file.map(|f| f.value),
            Some(Path::new("/etc/gateway/certs/redis.password").to_owned())
        );
        assert!(!format!("{:?}", redis.url).contains("pw"));
    }

    #[test]
    fn bad_values_are_positioned_errors() {
        let errors = |section: &str| state(section).expect_err("invalid");
        assert_eq!(
            errors("[state]\nstore = \"etcd\"\n"),
            ["<config>:8:9: store = \"etcd\": expected \"memory\" or \"redis\""]
        );
        assert_eq!(
            errors("[state]\nredis_url = \"redis://x\"\n"),
            ["<config>:8:13: redis_url needs store = \"redis\""]
        );
        let bad_url = errors("[state]\nstore = \"redis\"\nredis_url = \"http://:secret@x\"\n");
        assert_eq!(bad_url.len(), 1);
        assert!(
            bad_url[0].starts_with("<config>:9:13: redis_url http://:***@x"),
            "{bad_url:?}"
        );
        assert!(!bad_url[0].contains("secret"));
        assert_eq!(
            errors("[state]\nstore = \"redis\"\nkey_prefix = \"\"\n"),
            ["<config>:9:14: key_prefix must be 1 to 64 characters (e.g. \"gateway:\")"]
        );
        assert!(errors("[state]\nstore = \"redis\"\nredis_db = 1\n")[0].contains("redis_db"));
    }

    #[test]
    fn redacted_url_hides_the_password() {
        let url = RedisUrl("redis://app:hunter2@redis:6379/0".to_owned());
        assert_eq!(url.redacted(), "redis://app:***@redis:6379/0");
        assert!(!format!("{url:?}").contains("hunter2"));
        let bare = RedisUrl("redis://127.0.0.1:6379/0".to_owned());
        assert_eq!(bare.redacted(), "redis://127.0.0.1:6379/0");
    }
}
