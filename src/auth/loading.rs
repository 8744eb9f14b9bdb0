//! Loading what `[auth]` and `[users]` name: the token keys (an HMAC secret from a file or
//! the environment, generated on first start when asked; or a PEM private key and the
//! verify-only public keys), the device-cookie key derived from the same material, and the
//! users file. Everything is read and checked before any port is bound; errors carry the
//! config position of the setting that named the file.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::oidc::OidcSetupError;
use super::oidc::login_state::LoginStateKey;
use super::session::device::DeviceKey;
use super::token::{KeyError, TokenKeys, TokenSettings};
use super::users::{Users, UsersError};
use crate::config::{AuthSettings, KeySource, Located, Location, UsersSettings};
use crate::files::write_file;

/// Why the authentication state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A key or secret file could not be read.
    #[error("{at}: cannot read {}", path.display())]
    ReadFile {
        /// Where it is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `secret_env` names a variable that is not set.
    #[error("{at}: environment variable {name} is not set (secret_env)")]
    SecretEnvMissing {
        /// Where it is configured.
        at: Location,
        /// The variable.
        name: String,
    },
    /// `generate_secret` could not write the secret file.
    #[error("{at}: cannot create the JWT secret {}", path.display())]
    GenerateSecret {
        /// Where it is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `[[auth.oidc]]` provider cannot be set up (its secret, its CA file).
    #[error(transparent)]
    Oidc(#[from] OidcSetupError),
    /// The key material is unusable (too short, wrong kind, malformed).
    #[error("{at}: unusable signing or verification key")]
    Key {
        /// Where the key is configured.
        at: Location,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// `[users]` names neither a users file nor an htpasswd file (the config refuses it).
    #[error("[users] names no users file")]
    NoUsersFile,
    /// The users file is invalid; the message carries `line:col`.
    #[error("{}:{error}", path.display())]
    Users {
        /// The users file.
        path: PathBuf,
        /// What is wrong, positioned.
        error: UsersError,
    },
    /// A trusted issuer's `ca_file` cannot be used (the error names its position); boxed,
    /// as TLS errors are large.
    #[error(transparent)]
    TrustedIssuer(Box<crate::tls::TlsError>),
}

/// Random bytes in a generated HMAC secret.
const GENERATED_SECRET_BYTES: usize = 64;

fn token_settings(settings: &AuthSettings) -> TokenSettings {
    TokenSettings {
        algorithm: settings.algorithm,
        issuer: settings.issuer.clone(),
        audience: settings.audience.clone(),
        leeway: settings.leeway,
        token_ttl: settings.token_ttl,
        user_claim: settings.user_claim.clone(),
    }
}

fn read(located: &Located<PathBuf>) -> Result<Vec<u8>, AuthError> {
    std::fs::read(&located.value).map_err(|source| AuthError::ReadFile {
        at: located.at.clone(),
        path: located.value.clone(),
        source,
    })
}

/// The token keys, and the device-cookie and login-state keys derived from the same key
/// material.
pub(super) fn load_keys(
    settings: &AuthSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(TokenKeys, DeviceKey, LoginStateKey), AuthError> {
    let token_settings = token_settings(settings);
    let (secret, at) = match &settings.key {
        KeySource::SecretFile { path, generate } => {
            if *generate && !path.value.exists() {
                generate_secret(path)?;
            }
            (read(path)?, path.at.clone())
        }
        KeySource::SecretEnv(name) => {
            let value = env(&name.value).ok_or_else(|| AuthError::SecretEnvMissing {
                at: name.at.clone(),
                name: name.value.clone(),
            })?;
            (value.into_bytes(), name.at.clone())
        }
        KeySource::PrivateKey(path) => {
            let private_pem = read(path)?;
            let verify_keys = settings
                .verify_keys
                .iter()
                .map(|(kid, key)| read(key).map(|pem| (kid.clone(), pem)))
                .collect::<Result<Vec<_>, _>>()?;
            let keys = TokenKeys::from_pem(token_settings, &private_pem, &verify_keys).map_err(
                |source| AuthError::Key {
                    at: path.at.clone(),
                    source,
                },
            )?;
            let (device, login_state) = derived_keys(&private_pem);
            return Ok((keys, device, login_state));
        }
    };
    let secret = trim_ascii(&secret);
    let keys = TokenKeys::from_secret(token_settings, secret)
        .map_err(|source| AuthError::Key { at, source })?;
    let (device, login_state) = derived_keys(secret);
    Ok((keys, device, login_state))
}

fn derived_keys(material: &[u8]) -> (DeviceKey, LoginStateKey) {
    (DeviceKey::derive(material), LoginStateKey::derive(material))
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn generate_secret(path: &Located<PathBuf>) -> Result<(), AuthError> {
    let mut random = [0u8; GENERATED_SECRET_BYTES];
    let error = |source| AuthError::GenerateSecret {
        at: path.at.clone(),
        path: path.value.clone(),
        source,
    };
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| error(std::io::Error::other("random generator failed")))?;
    let text = format!("{}\n", STANDARD.encode(random));
    write_file(&path.value, text.as_bytes(), 0o600).map_err(error)?;
    tracing::warn!(path = %path.value.display(), "generated a new JWT secret; tokens survive restarts while this file is kept");
    Ok(())
}

/// The users of `[users]`: the users file's, the htpasswd file's, or both (a name may be
/// in only one of them).
pub(super) fn load_users(settings: &UsersSettings) -> Result<Users, AuthError> {
    let text =
        |file: &Located<PathBuf>| read(file).map(|b| String::from_utf8_lossy(&b).into_owned());
    let positioned = |file: &Located<PathBuf>| {
        let path = file.value.clone();
        move |error| AuthError::Users { path, error }
    };
    let from_file = match &settings.file {
        Some(file) => Some(Users::from_toml_str(&text(file)?).map_err(positioned(file))?),
        None => None,
    };
    match &settings.htpasswd {
        Some(htpasswd) => {
            Users::from_htpasswd_str(&text(&htpasswd.file)?, &htpasswd.groups, from_file)
                .map_err(positioned(&htpasswd.file))
        }
        None => from_file.ok_or(AuthError::NoUsersFile),
    }
}
