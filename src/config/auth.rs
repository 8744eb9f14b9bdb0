//! The `[auth]`, `[users]` and route `access` parts of the config.
//!
//! Key material is only *named* here (a file, an environment variable); it is read by
//! [`crate::auth`] when the gateway is built, because only `main.rs` reads the environment.
//! Everything that can be checked without reading secrets is checked here, with positions:
//! the algorithm and its key kind, the cookie name and SameSite rules, header names, the
//! endpoint prefix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderName;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use toml::Spanned;

use super::cookie::{CookieSettings, SameSite, is_valid_cookie_name};
use super::duration::ConfigDuration;
use super::location::{Located, Problems};
use crate::router::normalize_path;

/// Default lifetime of issued tokens.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);
/// Default time after sign-in past which a session is no longer renewed: 7 days, like
/// oauth2-proxy's cookie expiry.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default remaining lifetime under which a cookie is renewed.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 60);
/// Default clock skew allowed on `exp`, `nbf`, `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default prefix of the gateway's own endpoints.
pub const DEFAULT_PREFIX: &str = "/.auth";
/// Default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "gateway_token";
/// Default failed logins per key within the window before a lockout.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Default window in which failed logins add up.
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Default lockout.
pub const DEFAULT_LOCKOUT: Duration = Duration::from_secs(300);
/// Default lifetime of a device cookie (a browser that signed in is "known" this long).
pub const DEFAULT_DEVICE_COOKIE_TTL: Duration = Duration::from_secs(90 * 86_400);

/// Validated `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` issued and required.
    pub issuer: String,
    /// Accepted `aud` values; empty = not set, not checked.
    pub audience: Vec<String>,
    /// The one algorithm.
    pub algorithm: Algorithm,
    /// Where the signing key comes from.
    pub key: KeySource,
    /// Verify-only public keys `(kid, PEM file)` for rotation.
    pub verify_keys: Vec<(String, Located<PathBuf>)>,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Renew a cookie when less than this remains.
    pub renew_before: Duration,
    /// No token of a session outlives its sign-in by more than this: renewal stops, and the
    /// user signs in again.
    pub session_lifetime: Duration,
    /// Clock skew allowed.
    pub leeway: Duration,
    /// Prefix of the gateway's endpoints, normalized, without trailing slash.
    pub prefix: String,
    /// Accept `Authorization: <jwt>` without a scheme.
    pub accept_raw_authorization: bool,
    /// Claim naming the user.
    pub user_claim: String,
    /// The named user must be in the users file and enabled.
    pub require_known_user: bool,
    /// The SSO cookie.
    pub cookie: CookieSettings,
    /// Domains `rd=` targets and `Origin`s may be on (with subdomains).
    pub allowed_domains: Vec<String>,
    /// Identity header names.
    pub headers: IdentityHeaders,
}

/// Where the signing key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// HS*: a file holding the secret; `generate` creates it when missing.
    SecretFile {
        /// The file.
        path: Located<PathBuf>,
        /// Create it (mode 0600) when missing.
        generate: bool,
    },
    /// HS*: an environment variable holding the secret.
    SecretEnv(Located<String>),
    /// Asymmetric: a PKCS#8 (or PKCS#1 RSA) PEM private key.
    PrivateKey(Located<PathBuf>),
}

/// The identity header names.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// User name header.
    pub user: HeaderName,
    /// Comma-joined groups header.
    pub groups: HeaderName,
    /// Email header.
    pub email: HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            user: HeaderName::from_static("x-forwarded-user"),
            groups: HeaderName::from_static("x-forwarded-groups"),
            email: HeaderName::from_static("x-forwarded-email"),
        }
    }
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    issuer: Spanned<String>,
    #[serde(default)]
    audience: Vec<String>,
    algorithm: Option<Spanned<String>>,
    secret_file: Option<Spanned<PathBuf>>,
    secret_env: Option<Spanned<String>>,
    #[serde(default)]
    generate_secret: Option<Spanned<bool>>,
    private_key: Option<Spanned<PathBuf>>,
    #[serde(default)]
    verify_keys: Vec<RawVerifyKey>,
    token_ttl: Option<ConfigDuration>,
    renew_before: Option<ConfigDuration>,
    session_lifetime: Option<Spanned<ConfigDuration>>,
    leeway: Option<ConfigDuration>,
    prefix: Option<Spanned<String>>,
    accept_raw_authorization: Option<bool>,
    user_claim: Option<Spanned<String>>,
    require_known_user: Option<bool>,
    #[serde(default)]
    cookie: RawCookie,
    #[serde(default)]
    redirect: RawRedirect,
    #[serde(default)]
    headers: RawHeaders,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerifyKey {
    kid: String,
    public_key: Spanned<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCookie {
    name: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    secure: Option<bool>,
    same_site: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedirect {
    allowed_domains: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaders {
    user: Option<Spanned<String>>,
    groups: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
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

/// The algorithms the gateway signs and verifies with.
const ALGORITHMS: [(&str, Algorithm); 10] = [
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// Lower-case, without a leading dot; `None` when not a plausible domain.
fn domain(text: &str) -> Option<String> {
    let d = text
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let plausible = !d.is_empty()
        && d.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    plausible.then_some(d)
}

pub(super) fn validate_auth(
    raw: RawAuth,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Option<AuthSettings> {
    let locator = problems.locator;
    let resolve = |path: Spanned<PathBuf>| {
        let mut located = locator.located(path);
        located.value = base_dir.join(&located.value);
        located
    };
    let before = problems.found.len();

    if raw.issuer.get_ref().trim().is_empty() {
        problems.add(raw.issuer.span().start, "issuer must not be empty");
    }
    let algorithm = match &raw.algorithm {
        None => Algorithm::HS256,
        Some(text) => match ALGORITHMS.iter().find(|(name, _)| name == text.get_ref()) {
            Some((_, algorithm)) => *algorithm,
            None => {
                let names: Vec<&str> = ALGORITHMS.iter().map(|(n, _)| *n).collect();
                problems.add(
                    text.span().start,
                    format!(
                        "unknown algorithm {:?}: expected one of {}",
                        text.get_ref(),
                        names.join(", ")
                    ),
                );
                Algorithm::HS256
            }
        },
    };
    let generate = raw.generate_secret.as_ref().is_some_and(|g| *g.get_ref());
    let key = if is_hmac(algorithm) {
        if let Some(private_key) = &raw.private_key {
            problems.add(
                private_key.span().start,
                "private_key is for RS/PS/ES/EdDSA algorithms; HS* use secret_file or secret_env",
            );
        }
        match (raw.secret_file, raw.secret_env) {
            (Some(file), None) => Some(KeySource::SecretFile {
                path: resolve(file),
                generate,
            }),
            (None, Some(env)) => {
                if let Some(g) = raw.generate_secret.as_ref().filter(|g| *g.get_ref()) {
                    problems.add(g.span().start, "generate_secret needs secret_file");
                }
                Some(KeySource::SecretEnv(locator.located(env)))
            }
            (Some(_), Some(env)) => {
                problems.add(
                    env.span().start,
                    "set either secret_file or secret_env, not both",
                );
                None
            }
            (None, None) => {
                problems.add(
                    raw.issuer.span().start,
                    format!("{algorithm:?} needs secret_file or secret_env in [auth]"),
                );
                None
            }
        }
    } else {
        for secret in [
            raw.secret_file.as_ref().map(|s| s.span().start),
            raw.secret_env.as_ref().map(|s| s.span().start),
        ]
        .into_iter()
        .flatten()
        {
            problems.add(
                secret,
                format!("{algorithm:?} signs with private_key; secrets are for HS* algorithms"),
            );
        }
        match raw.private_key {
            Some(path) => Some(KeySource::PrivateKey(resolve(path))),
            None => {
                problems.add(
                    raw.issuer.span().start,
                    format!("{algorithm:?} needs private_key in [auth]"),
                );
                None
            }
        }
    };
    let verify_keys = raw
        .verify_keys
        .into_iter()
        .map(|k| (k.kid, resolve(k.public_key)))
        .collect::<Vec<_>>();
    if is_hmac(algorithm) && !verify_keys.is_empty() {
        problems.add(
            0,
            "[[auth.verify_keys]] are public keys for asymmetric algorithms",
        );
    }

    let prefix = match &raw.prefix {
        None => DEFAULT_PREFIX.to_owned(),
        Some(p) => match normalize_path(p.get_ref()) {
            Ok(n) if n != "/" => n.trim_end_matches('/').to_owned(),
            _ => {
                problems.add(
                    p.span().start,
                    format!(
                        "invalid prefix {:?}: expected a path such as \"/.auth\"",
                        p.get_ref()
                    ),
                );
                DEFAULT_PREFIX.to_owned()
            }
        },
    };
    let user_claim = match &raw.user_claim {
        None => DEFAULT_USER_CLAIM.to_owned(),
        Some(c) if c.get_ref().is_empty() => {
            problems.add(c.span().start, "user_claim must not be empty");
            DEFAULT_USER_CLAIM.to_owned()
        }
        Some(c) => c.get_ref().clone(),
    };

    let cookie = validate_cookie(raw.cookie, problems);
    let allowed_domains = match raw.redirect.allowed_domains {
        None => cookie.domains.clone(),
        Some(list) => domains(list, problems),
    };
    let headers = validate_headers(raw.headers, problems);

    let session_lifetime_at = raw.session_lifetime.as_ref().map_or(0, |d| d.span().start);
    let settings = AuthSettings {
        issuer: raw.issuer.into_inner(),
        audience: raw.audience,
        algorithm,
        key: key?,
        verify_keys,
        token_ttl: raw.token_ttl.map_or(DEFAULT_TOKEN_TTL, |d| d.0),
        renew_before: raw.renew_before.map_or(DEFAULT_RENEW_BEFORE, |d| d.0),
        session_lifetime: raw
            .session_lifetime
            .map_or(DEFAULT_SESSION_LIFETIME, |d| d.into_inner().0),
        leeway: raw.leeway.map_or(DEFAULT_LEEWAY, |d| d.0),
        prefix,
        accept_raw_authorization: raw.accept_raw_authorization.unwrap_or(true),
        user_claim,
        require_known_user: raw.require_known_user.unwrap_or(true),
        cookie,
        allowed_domains,
        headers,
    };
    if settings.token_ttl.is_zero() {
        problems.add(0, "[auth] token_ttl must be longer than 0s");
    }
    if settings.session_lifetime < settings.token_ttl {
        problems.add(
            session_lifetime_at,
            format!(
                "[auth] session_lifetime ({:?}) must be at least token_ttl ({:?})",
                settings.session_lifetime, settings.token_ttl
            ),
        );
    }
    (problems.found.len() == before).then_some(settings)
}

fn domains(list: Vec<Spanned<String>>, problems: &mut Problems<'_>) -> Vec<String> {
    list.into_iter()
        .filter_map(|d| match domain(d.get_ref()) {
            Some(valid) => Some(valid),
            None => {
                problems.add(
                    d.span().start,
                    format!(
                        "invalid domain {:?}: expected e.g. \"example.com\"",
                        d.get_ref()
                    ),
                );
                None
            }
        })
        .collect()
}

fn validate_cookie(raw: RawCookie, problems: &mut Problems<'_>) -> CookieSettings {
    let raw_name_at = raw.name.as_ref().map(|n| n.span().start);
    let name = match raw.name {
        None => DEFAULT_COOKIE_NAME.to_owned(),
        Some(n) if is_valid_cookie_name(n.get_ref()) => n.into_inner(),
        Some(n) => {
            problems.add(
                n.span().start,
                format!("invalid cookie name {:?}", n.get_ref()),
            );
            DEFAULT_COOKIE_NAME.to_owned()
        }
    };
    let secure = raw.secure.unwrap_or(true);
    let same_site = match raw.same_site {
        None => SameSite::Lax,
        Some(s) => {
            match s.get_ref().as_str() {
                "Strict" => SameSite::Strict,
                "Lax" => SameSite::Lax,
                "None" if secure => SameSite::None,
                "None" => {
                    problems.add(s.span().start, "same_site = \"None\" requires secure = true (browsers refuse it otherwise)");
                    SameSite::Lax
                }
                other => {
                    problems.add(
                        s.span().start,
                        format!(
                            "invalid same_site {other:?}: expected \"Strict\", \"Lax\" or \"None\""
                        ),
                    );
                    SameSite::Lax
                }
            }
        }
    };
    let domains = domains(raw.domains, problems);
    if let Some(rule) = cookie_prefix_rule(&name, secure, !domains.is_empty()) {
        let at = raw_name_at.unwrap_or(0);
        problems.add(
            at,
            format!("cookie name {name:?}: {rule}; browsers would drop the cookie"),
        );
    }
    CookieSettings {
        name,
        domains,
        secure,
        same_site,
    }
}

/// The cookie-name prefix rule (RFC 6265bis §4.1.3, matched case-insensitively) that
/// `name` would break: `__Secure-` needs `Secure`; `__Host-` needs `Secure`, `Path=/` (the
/// gateway's cookie always has it) and no `Domain`, so it cannot be an SSO cookie.
fn cookie_prefix_rule(name: &str, secure: bool, has_domains: bool) -> Option<&'static str> {
    let prefixed = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    if prefixed("__Host-") && has_domains {
        Some("a __Host- cookie may not have a Domain, so it cannot be used with cookie.domains")
    } else if (prefixed("__Host-") || prefixed("__Secure-")) && !secure {
        Some("a __Host- or __Secure- cookie needs secure = true")
    } else {
        None
    }
}

fn validate_headers(raw: RawHeaders, problems: &mut Problems<'_>) -> IdentityHeaders {
    let defaults = IdentityHeaders::default();
    let mut name = |value: Option<Spanned<String>>, default: HeaderName| match value {
        None => default,
        Some(v) => match HeaderName::from_bytes(v.get_ref().as_bytes()) {
            Ok(n) if !is_reserved_header(&n) => n,
            _ => {
                problems.add(
                    v.span().start,
                    format!("invalid identity header name {:?}", v.get_ref()),
                );
                default
            }
        },
    };
    IdentityHeaders {
        user: name(raw.user, defaults.user),
        groups: name(raw.groups, defaults.groups),
        email: name(raw.email, defaults.email),
    }
}

/// Header names that mean something to HTTP itself and cannot carry an identity.
fn is_reserved_header(name: &HeaderName) -> bool {
    use http::header::{
        AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, HOST, TE, TRAILER, TRANSFER_ENCODING,
        UPGRADE,
    };
    [
        AUTHORIZATION,
        CONNECTION,
        CONTENT_LENGTH,
        COOKIE,
        HOST,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ]
    .contains(name)
}

/// The claim that names the user unless configured otherwise.
pub const DEFAULT_USER_CLAIM: &str = "sub";

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

pub(super) fn validate_users(
    raw: RawUsers,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> UsersSettings {
    let mut file = problems.locator.located(raw.file);
    file.value = base_dir.join(&file.value);
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
