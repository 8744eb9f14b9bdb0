//! Things `gateway check` points out in a *valid* config: each works, but an ops engineer
//! would want to know before going live. They never stop the gateway.
//!
//! - the demo user of the shipped `users.toml` is still present;
//! - two users whose names look alike (equal after case folding and NFKC: `Admin`/`admin`,
//!   fullwidth `ａｄｍｉｎ`), which a person reading a log or granting access may confuse;
//! - cookies without `Secure`;
//! - development conveniences left on (`generate_self_signed`, `generate_secret`);
//! - a public route that carves a hole into a protected one (same hosts, a longer prefix);
//! - a secret or private key file that group or others can read;
//! - `[forward_auth] unmatched = "authenticated"`: forward-auth vouches for any signed-in user
//!   on hosts and paths no route names;
//! - `upstream_timeout` shorter than `body_read_timeout`: a request body that stops arriving
//!   is then answered 504, blaming the upstream, before its own 408 could fire.
//!
//! The users file is read by `crate::auth`, a layer above this one, so the config cannot look
//! inside it: the caller (`gateway check`) states what it found there as [`UsersFacts`] —
//! whether the demo user is enabled, which names look alike and where — and the warnings
//! about it are worded and placed here, in order with the others.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use super::access::Access;
use super::forward_auth::Unmatched;
use super::keys::KeySource;
use super::load::Config;
use super::location::Location;
use super::routes::RouteSettings;
use crate::router::HostPattern;

/// The user name of the shipped development users file.
pub const DEMO_USER: &str = "demo";

/// What the caller found in the users file, for the warnings about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersFacts {
    /// [`DEMO_USER`] is in the file and not disabled.
    pub demo_user_enabled: bool,
    /// Pairs of user names that look alike, in file order.
    pub lookalikes: Vec<LookalikeNames>,
    /// Some user has a TOTP secret: the file is then a secret itself.
    pub holds_secrets: bool,
}

/// Two user names in the users file that differ only in case or Unicode compatibility forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookalikeNames {
    /// The name written first in the file.
    pub first: String,
    /// The 1-based line of `first`.
    pub first_line: usize,
    /// The name written later.
    pub second: String,
    /// The 1-based line and column (in characters) of `second`: where the warning points.
    pub second_at: (usize, usize),
}

/// One piece of advice, with where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where in the config, when it is about one place.
    pub at: Option<Location>,
    /// What to look at.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "warning: {at}: {}", self.message),
            None => write!(f, "warning: {}", self.message),
        }
    }
}

/// Everything worth a warning in `config` (which is valid) and in its users file, as the
/// caller found it (`None`: no users file, or not loaded). Reads file modes; unreadable
/// files are not warned about here (loading reports them as errors).
pub fn warnings(config: &Config, users: Option<&UsersFacts>) -> Vec<Warning> {
    let mut found = Vec::new();
    let mut warn = |at: Option<&Location>, message: String| {
        found.push(Warning {
            at: at.cloned(),
            message,
        });
    };
    if config.tls.generate_self_signed {
        warn(
            Some(&config.tls.cert.at),
            "generate_self_signed is on: a self-signed certificate is for development only"
                .to_owned(),
        );
    }
    let mut private_files = vec![&config.tls.key];
    private_files.extend(config.tls.sni.iter().map(|sni| &sni.key));
    if let Some(auth) = &config.auth {
        if !auth.cookie.secure {
            warn(
                None,
                "[auth.cookie] secure = false: browsers will send the token over plain HTTP"
                    .to_owned(),
            );
        }
        match &auth.key {
            KeySource::SecretFile { path, generate } => {
                if *generate {
                    warn(
                        Some(&path.at),
                        "generate_secret is on: a generated secret is for development only"
                            .to_owned(),
                    );
                }
                private_files.push(path);
            }
            KeySource::PrivateKey(path) => private_files.push(path),
            KeySource::SecretEnv(_) => {}
        }
    }
    if let Some(file) = config.users.as_ref().and_then(|u| u.file.as_ref())
        && users.is_some_and(|u| u.holds_secrets)
    {
        private_files.push(file);
    }
    for file in private_files {
        if let Some(mode) = group_or_other_access(&file.value) {
            warn(
                Some(&file.at),
                format!(
                    "{} is readable by group or others (mode {mode:o}); chmod 600 it",
                    file.value.display()
                ),
            );
        }
    }
    // The users file, else the htpasswd file (the one the users' positions are in).
    let users_file = config
        .users
        .as_ref()
        .and_then(|u| u.file.as_ref().or(u.htpasswd.as_ref().map(|h| &h.file)));
    if let (Some(users_file), Some(facts)) = (users_file, users) {
        if facts.demo_user_enabled {
            warn(
                Some(&users_file.at),
                format!(
                    "the demo user {DEMO_USER:?} is in {}; remove it before going live",
                    users_file.value.display()
                ),
            );
        }
        let file: Arc<str> = users_file.value.display().to_string().into();
        for pair in &facts.lookalikes {
            let (line, col) = pair.second_at;
            let at = Location {
                file: Arc::clone(&file),
                line,
                col,
            };
            warn(
                Some(&at),
                format!(
                    "user {:?} looks like user {:?} (line {}): the names differ only in case \
                     or Unicode compatibility forms; rename one",
                    pair.second, pair.first, pair.first_line
                ),
            );
        }
    }
    if config.forward_auth.unmatched == Unmatched::Authenticated {
        warn(
            config.forward_auth.unmatched_at.as_ref(),
            "[forward_auth] unmatched = \"authenticated\": /.auth/verify lets any signed-in user \
             through to hosts and paths no route names; \"deny\" refuses them"
                .to_owned(),
        );
    }
    let server = &config.server;
    if server.upstream_timeout < server.body_read_timeout {
        warn(
            None,
            format!(
                "[server] upstream_timeout ({:?}) is shorter than body_read_timeout ({:?}): a \
                 request body that stops arriving is answered 504, blaming the upstream, \
                 instead of 408",
                server.upstream_timeout, server.body_read_timeout
            ),
        );
    }
    for (public, protected) in holes(&config.routes) {
        warn(
            Some(&public.at),
            format!(
                "public route {} {} lies inside protected route {} {}: that part of it needs no login",
                public.host, public.path, protected.host, protected.path
            ),
        );
    }
    found
}

fn group_or_other_access(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Pairs (public, protected) where the public route's prefix is strictly inside the
/// protected route's and their host patterns can match the same host.
fn holes(routes: &[RouteSettings]) -> Vec<(&RouteSettings, &RouteSettings)> {
    let public = routes.iter().filter(|r| r.access == Access::Public);
    public
        .flat_map(|p| {
            routes
                .iter()
                .filter(|q| q.access != Access::Public)
                .filter(move |q| {
                    hosts_overlap(&p.host, &q.host) && strictly_inside(&p.path, &q.path)
                })
                .map(move |q| (p, q))
        })
        .collect()
}

fn strictly_inside(inner: &str, outer: &str) -> bool {
    inner != outer
        && (outer == "/"
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/')))
}

fn hosts_overlap(a: &HostPattern, b: &HostPattern) -> bool {
    let under = |host: &str, suffix: &str| {
        host.strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('.'))
    };
    match (a, b) {
        (HostPattern::Any, _) | (_, HostPattern::Any) => true,
        (HostPattern::Exact(x), HostPattern::Exact(y)) => x == y,
        (HostPattern::Exact(host), HostPattern::Wildcard(suffix))
        | (HostPattern::Wildcard(suffix), HostPattern::Exact(host)) => under(host, suffix),
        (HostPattern::Wildcard(x), HostPattern::Wildcard(y)) => {
            x == y || under(x, y) || under(y, x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{hosts_overlap, strictly_inside};
    use crate::router::HostPattern;

    fn pattern(text: &str) -> HostPattern {
        if text == "*" {
            HostPattern::Any
        } else {
            HostPattern::parse(text).expect("pattern")
        }
    }

    #[test]
    fn holes_need_a_strictly_longer_prefix_on_a_segment_boundary() {
        assert!(strictly_inside("/api/public", "/api"));
        assert!(strictly_inside("/health", "/"));
        assert!(!strictly_inside("/api", "/api"));
        assert!(!strictly_inside("/apix", "/api"));
        assert!(!strictly_inside("/", "/api"));
    }

    #[test]
    fn host_patterns_overlap_when_one_host_could_match_both() {
        assert!(hosts_overlap(&pattern("*"), &pattern("a.example.com")));
        assert!(hosts_overlap(
            &pattern("a.example.com"),
            &pattern("*.example.com")
        ));
        assert!(hosts_overlap(
            &pattern("*.b.example.com"),
            &pattern("*.example.com")
        ));
        assert!(!hosts_overlap(
            &pattern("a.example.com"),
            &pattern("b.example.com")
        ));
        assert!(!hosts_overlap(
            &pattern("example.com"),
            &pattern("*.example.com")
        ));
        assert!(!hosts_overlap(
            &pattern("*.example.org"),
            &pattern("*.example.com")
        ));
    }

    #[test]
    fn unmatched_authenticated_is_warned_about_at_its_position() {
        let base = "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
                    [[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n";
        let forward_auth = |section: &str| {
            let config = crate::config::Config::from_toml_str(
                &format!("{base}{section}"),
                std::path::Path::new("/nonexistent"),
            )
            .expect("valid");
            super::warnings(&config, None)
                .into_iter()
                .filter(|w| w.message.contains("[forward_auth]"))
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        };
        assert!(forward_auth("").is_empty());
        assert!(forward_auth("[forward_auth]\nunmatched = \"deny\"\n").is_empty());
        let found = forward_auth("[forward_auth]\nunmatched = \"authenticated\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "warning: <config>:8:13: [forward_auth] unmatched = \"authenticated\""
            ),
            "{found:?}"
        );
    }

    #[test]
    fn an_upstream_timeout_below_the_body_read_timeout_is_warned_about() {
        let messages = |server: &str| {
            let config = crate::config::Config::from_toml_str(
                &format!(
                    "[server]\n{server}\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
                     [[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n"
                ),
                std::path::Path::new("/nonexistent"),
            )
            .expect("valid");
            super::warnings(&config, None)
                .into_iter()
                .filter(|w| w.message.contains("body_read_timeout"))
                .count()
        };
        assert_eq!(messages(""), 0, "the defaults: 60s and 30s");
        assert_eq!(messages("upstream_timeout = \"30s\""), 0);
        assert_eq!(messages("upstream_timeout = \"10s\""), 1);
        assert_eq!(messages("body_read_timeout = \"2m\""), 1);
    }
}
