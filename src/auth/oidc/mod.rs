//! Signing in with an OpenID Connect provider (`[[auth.oidc]]`): the authorization code
//! flow with PKCE, ending in the gateway's *own* token and cookie, exactly as a local
//! login does (so SSO across subdomains, revocation, renewal, forward-auth and identity
//! headers are unchanged); the token carries the provider in its `idp` claim.
//!
//! | module | concept |
//! |---|---|
//! | [`provider`] | one provider at run time: discovery and keys kept fresh, begin and finish a login |
//! | [`id_token`] | the algorithm allow-list, the claims type, ID token verification |
//! | [`login_state`] | the per-attempt signed cookie (`state`, `nonce`, PKCE verifier, `rd`) |
//! | [`claims`] | the provider's claims → [`Identity`](crate::identity::Identity), and the allow-lists |
//!
//! [`OidcProviders`] (this file) holds every provider of one config generation. The
//! protocol itself is `openidconnect`'s; the back channel is `auth::idp`. Nothing here
//! builds a response: the portal's `oidc` endpoint turns [`OidcError`] into a page.

pub mod claims;
pub mod id_token;
pub mod login_state;
pub mod provider;

use crate::auth::idp::{BackChannel, RemoteError};
use crate::config::{ClientSecretSource, OidcSettings};
use crate::tls::TlsError;
use crate::tls::client::TrustRoots;
use claims::ClaimsError;
use login_state::LoginStateError;
pub use provider::{Provider, ProviderStatus};

/// Why a login with a provider did not produce a token. Only logged in detail; the user
/// sees a page saying which kind of thing went wrong, never a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No `[[auth.oidc]]` of this name.
    #[error("no such identity provider")]
    UnknownProvider,
    /// Discovery has not succeeded yet.
    #[error("identity provider unavailable (discovery has not succeeded)")]
    Unavailable,
    /// Discovery's `issuer` is not the configured one.
    #[error("discovery names issuer {found:?}, configured {configured:?}")]
    IssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The issuer in the discovery document.
        found: String,
    },
    /// Fetching discovery failed (`gateway check`).
    #[error("discovery failed")]
    Discovery(#[source] RemoteError),
    /// Fetching the provider's keys failed.
    #[error("cannot fetch the provider's keys")]
    Keys(#[source] RemoteError),
    /// The provider publishes no token endpoint.
    #[error("the provider has no token endpoint")]
    NoTokenEndpoint,
    /// The callback URL is not a valid URL (a malformed `Host`).
    #[error("invalid callback URL {0:?}")]
    BadCallback(String),
    /// The provider answered the callback with an error (`error=access_denied`, …).
    #[error("the provider returned error {0:?}")]
    ProviderError(String),
    /// The callback has no `code` (or no `state`).
    #[error("callback without code or state")]
    MalformedCallback,
    /// The attempt's cookie is missing, forged, expired or for another callback.
    #[error(transparent)]
    State(#[from] LoginStateError),
    /// The code exchange failed (expired or replayed code, wrong client, network).
    #[error("token request failed: {0}")]
    TokenRequest(String),
    /// The token response has no ID token.
    #[error("the token response has no id_token")]
    NoIdToken,
    /// The ID token failed verification (signature, `iss`, `aud`, `azp`, `exp`, `iat`,
    /// `nonce`, algorithm).
    #[error("id token rejected: {0}")]
    IdToken(String),
    /// The userinfo request failed.
    #[error("userinfo failed: {0}")]
    Userinfo(String),
    /// The user is not let in (claims, allow-lists).
    #[error(transparent)]
    Refused(ClaimsError),
}

/// Why the providers could not be set up (at startup or reload; `gateway check`).
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    /// The client secret file cannot be read.
    #[error("{at}: cannot read client_secret_file {path}")]
    SecretFile {
        /// Where it is configured.
        at: crate::config::Location,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty or the variable unset or empty.
    #[error("{at}: the client secret is empty or not set")]
    SecretMissing {
        /// Where it is configured.
        at: crate::config::Location,
    },
    /// The CA file cannot be loaded (boxed: a `TlsError` is large).
    #[error(transparent)]
    Tls(Box<TlsError>),
}

/// Every provider of one config generation.
#[derive(Debug, Default)]
pub struct OidcProviders {
    providers: Vec<Provider>,
}

impl OidcProviders {
    /// Reads the secrets and builds the back channels; fetches nothing
    /// (see [`OidcProviders::start`]).
    ///
    /// # Errors
    /// An [`OidcSetupError`] naming the configured file or variable.
    pub fn load(
        settings: &[OidcSettings],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<OidcProviders, OidcSetupError> {
        let providers = settings
            .iter()
            .map(|provider| {
                let secret = read_secret(&provider.client_secret, env)?;
                let roots = match &provider.ca_file {
                    Some(file) => TrustRoots::File(file),
                    None => TrustRoots::System,
                };
                let channel =
                    BackChannel::new(roots).map_err(|e| OidcSetupError::Tls(Box::new(e)))?;
                Ok(Provider::new(provider.clone(), secret, channel))
            })
            .collect::<Result<_, OidcSetupError>>()?;
        Ok(OidcProviders { providers })
    }

    /// Starts every provider's background discovery.
    pub fn start(&self) {
        for provider in &self.providers {
            provider.start();
        }
    }

    /// The provider named `name`.
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.settings().name == name)
    }

    /// Every provider, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.providers.iter()
    }

    /// Whether no provider is configured.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

fn read_secret(
    source: &ClientSecretSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, OidcSetupError> {
    let (value, at) = match source {
        ClientSecretSource::File(file) => {
            let text = std::fs::read_to_string(&file.value).map_err(|source| {
                OidcSetupError::SecretFile {
                    at: file.at.clone(),
                    path: file.value.clone(),
                    source,
                }
            })?;
            (Some(text), &file.at)
        }
        ClientSecretSource::Env(name) => (env(&name.value), &name.at),
    };
    match value.map(|v| v.trim().to_owned()) {
        Some(secret) if !secret.is_empty() => Ok(secret),
        _ => Err(OidcSetupError::SecretMissing { at: at.clone() }),
    }
}
