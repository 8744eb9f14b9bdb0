//! The signing key: which algorithm (`[auth] algorithm`), and where its key comes from — a
//! secret file or environment variable for HS*, a PEM private key otherwise — plus the
//! verify-only public keys kept during a rotation. Key material is only *named* here; it is
//! read by `crate::auth` when the gateway is built, because only `main.rs` reads the
//! environment. What can be checked without it is: the algorithm's name, and that the key
//! kind fits it.

use std::path::{Path, PathBuf};

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use toml::Spanned;

use super::location::{Located, Problems};

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

/// The key fields of `[auth]` as written (serde fills them in `[auth]`'s raw struct, which
/// hands them here).
pub(super) struct RawKeys {
    pub(super) secret_file: Option<Spanned<PathBuf>>,
    pub(super) secret_env: Option<Spanned<String>>,
    pub(super) generate_secret: Option<Spanned<bool>>,
    pub(super) private_key: Option<Spanned<PathBuf>>,
    pub(super) verify_keys: Vec<RawVerifyKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerifyKey {
    kid: String,
    public_key: Spanned<PathBuf>,
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

/// The algorithm named by `raw` (absent: HS256); an unknown name is a problem, and HS256
/// stands in for it so validation can go on.
pub(super) fn algorithm(raw: Option<&Spanned<String>>, problems: &mut Problems<'_>) -> Algorithm {
    match raw {
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
    }
}

/// The signing key and the verify-only keys for `algorithm`; `None` for the key when the
/// fields do not name exactly one key of the right kind (a problem says so, at `issuer_at`
/// when no field is there to point at). Paths resolve against `base_dir`.
pub(super) fn validate_keys(
    algorithm: Algorithm,
    raw: RawKeys,
    issuer_at: usize,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> (Option<KeySource>, Vec<(String, Located<PathBuf>)>) {
    let locator = problems.locator;
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
                path: locator.resolved(file, base_dir),
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
                    issuer_at,
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
            Some(path) => Some(KeySource::PrivateKey(locator.resolved(path, base_dir))),
            None => {
                problems.add(
                    issuer_at,
                    format!("{algorithm:?} needs private_key in [auth]"),
                );
                None
            }
        }
    };
    let verify_keys = raw
        .verify_keys
        .into_iter()
        .map(|k| (k.kid, locator.resolved(k.public_key, base_dir)))
        .collect::<Vec<_>>();
    if is_hmac(algorithm) && !verify_keys.is_empty() {
        problems.add(
            0,
            "[[auth.verify_keys]] are public keys for asymmetric algorithms",
        );
    }
    (key, verify_keys)
}
