//! `[auth]`: the tokens the gateway issues and accepts (issuer, audience, lifetimes, the
//! claim naming the user), the prefix of its own endpoints, and the parts with files of their
//! own — the signing key (`keys`), the cookie (`cookie`), the identity headers (`headers`).
//!
//! Everything that can be checked without reading secrets is checked here, with positions,
//! in file order: the issuer, the algorithm and its key kind, the prefix, the user claim, the
//! cookie, the redirect domains, the header names, then the lifetimes against each other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use toml::Spanned;

use super::cookie::{self, CookieSettings, RawCookie};
use super::duration::ConfigDuration;
use super::headers::{self, IdentityHeaders, RawHeaders};
use super::keys::{self, KeySource, RawKeys, RawVerifyKey};
use super::location::{Located, Problems};
use super::oidc::{self, OidcSettings, RawOidc};
use super::trusted_issuers::{self, RawTrustedIssuer, TrustedIssuerSettings};
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
/// The claim that names the user unless configured otherwise.
pub const DEFAULT_USER_CLAIM: &str = "sub";

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
    /// Whether local users must have a second factor to sign in.
    pub second_factor: SecondFactorPolicy,
    /// `[[auth.oidc]]`: OpenID Connect providers to sign in with.
    pub oidc: Vec<OidcSettings>,
    /// `[[auth.trusted_issuers]]`: other issuers whose Bearer tokens are accepted.
    pub trusted_issuers: Vec<TrustedIssuerSettings>,
}

/// `[auth] second_factor`: whether local users must have a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecondFactorPolicy {
    /// Users with a TOTP secret give a code; users without sign in with their password.
    #[default]
    Optional,
    /// A user without a TOTP secret cannot sign in (and is told to ask an admin to enroll).
    Required,
}

/// `[auth]` as written.
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
    second_factor: Option<Spanned<String>>,
    #[serde(default)]
    oidc: Vec<RawOidc>,
    #[serde(default)]
    trusted_issuers: Vec<RawTrustedIssuer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedirect {
    allowed_domains: Option<Vec<Spanned<String>>>,
}

/// The validated `[auth]`, or `None` when it has a problem (each one is in `problems`).
pub(super) fn validate_auth(
    raw: RawAuth,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Option<AuthSettings> {
    let before = problems.found.len();

    if raw.issuer.get_ref().trim().is_empty() {
        problems.add(raw.issuer.span().start, "issuer must not be empty");
    }
    let algorithm = keys::algorithm(raw.algorithm.as_ref(), problems);
    let raw_keys = RawKeys {
        secret_file: raw.secret_file,
        secret_env: raw.secret_env,
        generate_secret: raw.generate_secret,
        private_key: raw.private_key,
        verify_keys: raw.verify_keys,
    };
    let (key, verify_keys) = keys::validate_keys(
        algorithm,
        raw_keys,
        raw.issuer.span().start,
        base_dir,
        problems,
    );

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

    let cookie = cookie::validate_cookie(raw.cookie, problems);
    let allowed_domains = match raw.redirect.allowed_domains {
        None => cookie.domains.clone(),
        Some(list) => cookie::domains(list, problems),
    };
    let headers = headers::validate_headers(raw.headers, problems);
    let trusted_issuers = trusted_issuers::validate_trusted_issuers(
        raw.trusted_issuers,
        raw.issuer.get_ref(),
        base_dir,
        problems,
    );

    let second_factor = match &raw.second_factor {
        None => SecondFactorPolicy::Optional,
        Some(value) => match value.get_ref().as_str() {
            "optional" => SecondFactorPolicy::Optional,
            "required" => SecondFactorPolicy::Required,
            other => {
                problems.add(
                    value.span().start,
                    format!(
                        "invalid second_factor {other:?}: expected \"optional\" or \"required\""
                    ),
                );
                SecondFactorPolicy::Optional
            }
        },
    };
    let oidc = oidc::validate_oidc(raw.oidc, base_dir, problems);
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
        second_factor,
        oidc,
        trusted_issuers,
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
