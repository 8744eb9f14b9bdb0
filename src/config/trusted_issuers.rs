//! `[[auth.trusted_issuers]]`: other issuers whose Bearer tokens protected routes accept —
//! an identity provider, Kubernetes service accounts, a CI system's OIDC tokens. Each names
//! its `issuer` (the exact `iss`), where its keys are (`jwks_url`, else the issuer's
//! discovery document), the `audience` its tokens must carry (required: a token minted for
//! another service must not open this one), the claims naming the user and the groups, and
//! the asymmetric algorithms it signs with.
//!
//! Checked here, with positions: a non-empty `https` issuer, unique and different from
//! `[auth] issuer`; an `https` `jwks_url`; a non-empty audience; known asymmetric
//! algorithms (HS* would make the verification key a shared secret the issuer publishes);
//! an existing `ca_file`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use toml::Spanned;

use super::duration::ConfigDuration;
use super::location::{Located, Location, Problems};

/// Algorithms a trusted issuer may sign with unless configured otherwise.
pub const DEFAULT_TRUSTED_ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];
/// The claim naming the user unless configured otherwise.
pub const DEFAULT_TRUSTED_USER_CLAIM: &str = "sub";
/// Least time between two key-set fetches caused by an unknown `kid`, unless configured.
pub const DEFAULT_KEY_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// The asymmetric algorithms by their JOSE names.
const ASYMMETRIC: [(&str, Algorithm); 9] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// Where a trusted issuer's keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKeysAt {
    /// `jwks_url`.
    Jwks(String),
    /// The `jwks_uri` of `<issuer>/.well-known/openid-configuration`.
    Discovery,
}

/// One validated `[[auth.trusted_issuers]]`.
#[derive(Debug, Clone)]
pub struct TrustedIssuerSettings {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Where its keys are.
    pub keys_at: IssuerKeysAt,
    /// Accepted `aud` values (a token needs one of them).
    pub audience: Vec<String>,
    /// The claim naming the user.
    pub user_claim: String,
    /// The claim holding the groups (an array of strings); `None`: no groups.
    pub groups_claim: Option<String>,
    /// The algorithms its tokens may use (all asymmetric).
    pub algorithms: Vec<Algorithm>,
    /// The CA to trust for its HTTPS endpoints; `None`: the system's roots.
    pub ca_file: Option<Located<PathBuf>>,
    /// Least time between two key-set fetches caused by an unknown `kid`.
    pub key_refresh_min_interval: Duration,
    /// Where the entry is in the config file.
    pub at: Location,
}

/// The `audience` key: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAudience {
    One(String),
    Many(Vec<String>),
}

/// `[[auth.trusted_issuers]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrustedIssuer {
    issuer: Spanned<String>,
    jwks_url: Option<Spanned<String>>,
    audience: Option<Spanned<RawAudience>>,
    user_claim: Option<Spanned<String>>,
    groups_claim: Option<Spanned<String>>,
    algorithms: Option<Vec<Spanned<String>>>,
    ca_file: Option<Spanned<PathBuf>>,
    key_refresh_min_interval: Option<ConfigDuration>,
}

/// The valid entries of `raw`; every problem is added to `problems`. `own_issuer` is the
/// gateway's `[auth] issuer`, which no trusted issuer may repeat.
pub(super) fn validate_trusted_issuers(
    raw: Vec<RawTrustedIssuer>,
    own_issuer: &str,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Vec<TrustedIssuerSettings> {
    let mut valid: Vec<TrustedIssuerSettings> = Vec::new();
    for entry in raw {
        let before = problems.found.len();
        let issuer_at = entry.issuer.span().start;
        let issuer = entry.issuer.into_inner();
        if !issuer.starts_with("https://") || issuer.len() <= "https://".len() {
            problems.add(
                issuer_at,
                format!("trusted issuer {issuer:?} must be an https URL"),
            );
        } else if issuer == own_issuer {
            problems.add(
                issuer_at,
                format!("trusted issuer {issuer:?} is the gateway's own [auth] issuer"),
            );
        } else if valid.iter().any(|v| v.issuer == issuer) {
            problems.add(
                issuer_at,
                format!("trusted issuer {issuer:?} is configured twice"),
            );
        }
        let keys_at = match entry.jwks_url {
            None => IssuerKeysAt::Discovery,
            Some(url) => {
                if !url.get_ref().starts_with("https://") {
                    problems.add(url.span().start, "jwks_url must be an https URL");
                }
                IssuerKeysAt::Jwks(url.into_inner())
            }
        };
        let audience = match entry.audience {
            None => {
                problems.add(
                    issuer_at,
                    "a trusted issuer needs an audience: the aud its tokens must carry",
                );
                Vec::new()
            }
            Some(audience) => {
                let at = audience.span().start;
                let list = match audience.into_inner() {
                    RawAudience::One(one) => vec![one],
                    RawAudience::Many(many) => many,
                };
                if list.is_empty() || list.iter().any(String::is_empty) {
                    problems.add(at, "audience must name at least one non-empty value");
                }
                list
            }
        };
        let claim = |raw: Option<Spanned<String>>, problems: &mut Problems<'_>| {
            raw.map(|name| {
                if name.get_ref().is_empty() {
                    problems.add(name.span().start, "a claim name must not be empty");
                }
                name.into_inner()
            })
        };
        let user_claim =
            claim(entry.user_claim, problems).unwrap_or_else(|| DEFAULT_TRUSTED_USER_CLAIM.into());
        let groups_claim = claim(entry.groups_claim, problems);
        let algorithms = match entry.algorithms {
            None => DEFAULT_TRUSTED_ALGORITHMS.to_vec(),
            Some(names) => algorithms(names, issuer_at, problems),
        };
        let ca_file = entry.ca_file.map(|path| {
            let at = path.span().start;
            let located = problems.locator.resolved(path, base_dir);
            if !located.value.is_file() {
                problems.add(
                    at,
                    format!("ca_file {} is not a readable file", located.value.display()),
                );
            }
            located
        });
        if problems.found.len() == before {
            valid.push(TrustedIssuerSettings {
                issuer,
                keys_at,
                audience,
                user_claim,
                groups_claim,
                algorithms,
                ca_file,
                key_refresh_min_interval: entry
                    .key_refresh_min_interval
                    .map_or(DEFAULT_KEY_REFRESH_MIN_INTERVAL, |d| d.0),
                at: problems.locator.locate(issuer_at),
            });
        }
    }
    valid
}

/// The algorithms named, each a known asymmetric one, at least one.
fn algorithms(
    names: Vec<Spanned<String>>,
    issuer_at: usize,
    problems: &mut Problems<'_>,
) -> Vec<Algorithm> {
    if names.is_empty() {
        problems.add(issuer_at, "algorithms must name at least one algorithm");
    }
    let mut found = Vec::new();
    for name in names {
        match ASYMMETRIC.iter().find(|(n, _)| n == name.get_ref()) {
            Some((_, algorithm)) if !found.contains(algorithm) => found.push(*algorithm),
            Some(_) => {}
            None => {
                let known: Vec<&str> = ASYMMETRIC.iter().map(|(n, _)| *n).collect();
                problems.add(
                    name.span().start,
                    format!(
                        "algorithm {:?} is not allowed for a trusted issuer: expected one of {} \
                         (asymmetric only)",
                        name.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError, IssuerKeysAt};

    const BASE: &str = "[tls]\ncert = \"a.crt\"\nkey = \"a.key\"\n[auth]\nissuer = \"https://auth.example.com\"\nsecret_file = \"jwt.secret\"\nrequire_known_user = false\n";

    fn parse(entries: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{BASE}{entries}"), Path::new("/etc/gateway"))
    }

    fn problems(entries: &str) -> Vec<String> {
        match parse(entries) {
            Err(ConfigError::Invalid { problems }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn an_entry_gets_defaults_and_discovery() {
        let config = parse(
            "[[auth.trusted_issuers]]\nissuer = \"https://token.actions.githubusercontent.com\"\naudience = \"https://github.com/acme\"\n",
        )
        .expect("valid");
        let auth = config.auth.expect("auth");
        let issuer = &auth.trusted_issuers[0];
        assert_eq!(issuer.keys_at, IssuerKeysAt::Discovery);
        assert_eq!(issuer.audience, ["https://github.com/acme"]);
        assert_eq!(issuer.user_claim, "sub");
        assert_eq!(issuer.groups_claim, None);
        assert_eq!(issuer.algorithms, super::DEFAULT_TRUSTED_ALGORITHMS);
    }

    #[test]
    fn each_problem_is_positioned() {
        let found = problems(
            "[[auth.trusted_issuers]]\nissuer = \"http://idp.test\"\naudience = \"a\"\n\
             [[auth.trusted_issuers]]\nissuer = \"https://auth.example.com\"\naudience = \"a\"\n\
             [[auth.trusted_issuers]]\nissuer = \"https://idp.test\"\n\
             [[auth.trusted_issuers]]\nissuer = \"https://k8s.test\"\naudience = []\nalgorithms = [\"HS256\"]\njwks_url = \"http://k8s.test/jwks\"\nca_file = \"missing.pem\"\n",
        );
        let expected = [
            "<config>:9:10: trusted issuer \"http://idp.test\" must be an https URL",
            "<config>:12:10: trusted issuer \"https://auth.example.com\" is the gateway's own [auth] issuer",
            "<config>:15:10: a trusted issuer needs an audience",
            "<config>:20:12: jwks_url must be an https URL",
            "<config>:18:12: audience must name at least one non-empty value",
            "<config>:19:15: algorithm \"HS256\" is not allowed for a trusted issuer",
            "<config>:21:11: ca_file /etc/gateway/missing.pem is not a readable file",
        ];
        for want in expected {
            assert!(
                found.iter().any(|p| p.starts_with(want)),
                "{want}\nin {found:#?}"
            );
        }
    }
}
