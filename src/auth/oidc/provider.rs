//! One configured provider at run time: its back channel, its discovery document and key
//! set (both [`RemoteDocument`]s, kept fresh in the background), and the two halves of a
//! login — [`Provider::begin`] (the authorization URL and the attempt's state) and
//! [`Provider::finish`] (code → tokens → verified ID token → claims → [`Identity`]).
//!
//! The protocol is `openidconnect`'s: the authorization request (code flow, PKCE S256,
//! `state`, `nonce`), the token request (client secret over HTTP Basic), ID token
//! verification (signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`,
//! `iat`, `nonce`) and the userinfo request. This file decides only what the crate leaves
//! to its user: the algorithm allow-list (`id_token::ALLOWED_ALGORITHMS`, asymmetric only — an
//! `HS256` token signed with the client secret is refused), that discovery's `issuer` is
//! the configured one (the crate's own discovery checks that; we fetch through
//! [`RemoteDocument`] to cache it), and that an unknown `kid` triggers one rate-limited
//! JWKS refresh before the token is refused (key rotation at the provider just works).

use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKeySet};
use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse, UserInfoClaims,
};
use serde_json::{Map, Value};

use super::OidcError;
use super::claims;
use super::id_token::{OtherClaims, ProviderIdToken, as_object, verify};
use super::login_state::{LoginState, expiry};
use crate::auth::idp::remote::error_chain;
use crate::auth::idp::{BackChannel, DocumentStatus, RemoteDocument, RemoteSchedule};
use crate::config::OidcSettings;
use crate::identity::Identity;

/// The client `openidconnect` builds from discovery metadata.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Where a provider stands, for the login page, `/readyz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderStatus {
    /// Discovery succeeded: logins can start.
    Ready,
    /// Discovery has not succeeded yet (or fails and nothing is cached): the reason.
    Unavailable(String),
}

/// A login that finished at the provider and passed every check.
#[derive(Debug)]
pub struct ProviderSignIn {
    /// Who signed in.
    pub identity: Identity,
    /// Where to land (the attempt's validated `rd`).
    pub rd: String,
}

/// One `[[auth.oidc]]` at run time.
pub struct Provider {
    settings: OidcSettings,
    secret: ClientSecret,
    channel: BackChannel,
    discovery: Arc<RemoteDocument<ProviderMetadataWithLogout>>,
    /// The key set at discovery's `jwks_uri`, created when discovery first succeeds.
    keys: ArcSwapOption<RemoteDocument<CoreJsonWebKeySet>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.settings.name)
            .field("issuer", &self.settings.issuer.value)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider with its secret read; nothing is fetched until [`Provider::start`].
    pub fn new(settings: OidcSettings, secret: String, channel: BackChannel) -> Provider {
        let url = discovery_url(&settings.issuer.value);
        let discovery = Arc::new(RemoteDocument::new(
            url,
            channel.clone(),
            RemoteSchedule::default(),
        ));
        Provider {
            settings,
            secret: ClientSecret::new(secret),
            channel,
            discovery,
            keys: ArcSwapOption::empty(),
        }
    }

    /// Starts fetching discovery in the background (retried with backoff while the
    /// provider is down, then refreshed on schedule).
    pub fn start(&self) {
        self.discovery.keep_fresh();
    }

    /// The settings.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Whether logins can start.
    pub fn status(&self) -> ProviderStatus {
        match (self.discovery.current(), self.discovery.status()) {
            (Some(_), _) => ProviderStatus::Ready,
            (None, DocumentStatus::Failing { error, .. }) => ProviderStatus::Unavailable(error),
            (None, _) => ProviderStatus::Unavailable("discovery pending".to_owned()),
        }
    }

    /// Fetches discovery once, uncached, and checks its issuer (`gateway check`).
    ///
    /// # Errors
    /// [`OidcError::Discovery`] or [`OidcError::IssuerMismatch`].
    pub async fn discover_once(&self) -> Result<ProviderMetadataWithLogout, OidcError> {
        let metadata = self.discovery.fetch().await.map_err(OidcError::Discovery)?;
        self.check_issuer(&metadata)?;
        Ok(metadata)
    }

    /// The authorization URL of a new attempt returning to `callback`, and the attempt
    /// to remember in the browser (landing at the validated `rd`).
    ///
    /// # Errors
    /// [`OidcError::Unavailable`] while discovery has not succeeded; others as
    /// [`Provider::client`].
    pub async fn begin(
        &self,
        callback: &str,
        rd: &str,
        now: SystemTime,
    ) -> Result<(String, LoginState), OidcError> {
        let metadata = self.metadata().await?;
        // Start fetching the keys now, so they are there when the user comes back.
        self.key_set(&metadata)?;
        let client = self.client(&metadata, CoreJsonWebKeySet::new(Vec::new()), callback)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let attempt = LoginState {
            provider: self.settings.name.clone(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            rd: rd.to_owned(),
            expires: expiry(now),
        };
        Ok((url.to_string(), attempt))
    }

    /// Redeems `code` for the attempt `attempt` (already matched to the callback's
    /// `state`), verifies the ID token, reads the claims (asking userinfo for what the ID
    /// token lacks) and applies the allow-lists.
    ///
    /// # Errors
    /// The [`OidcError`] that stopped the login.
    pub async fn finish(
        &self,
        callback: &str,
        code: &str,
        attempt: LoginState,
    ) -> Result<ProviderSignIn, OidcError> {
        let metadata = self.metadata().await?;
        let keys = self.key_set(&metadata)?;
        let jwks = match keys.current() {
            Some(jwks) => jwks,
            None => keys.refresh().await.map_err(OidcError::Keys)?,
        };
        let client = self.client(&metadata, (*jwks).clone(), callback)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| OidcError::NoTokenEndpoint)?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier))
            .request_async(&self.channel)
            .await
            .map_err(|e| OidcError::TokenRequest(error_chain(&e)))?;
        let raw_id_token = response.id_token().ok_or(OidcError::NoIdToken)?.to_string();
        let id_token = ProviderIdToken::from_str(&raw_id_token)
            .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
        let nonce = Nonce::new(attempt.nonce);
        let mut claims = match verify(client.id_token_verifier(), &id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key we have not seen: the provider may have rotated. One refresh, at
                // most one per interval, then the token must verify or is refused.
                let fresh = keys.refresh_if_allowed().await.map_err(OidcError::Keys)?;
                let fresh = fresh.unwrap_or(jwks);
                let client = self.client(&metadata, (*fresh).clone(), callback)?;
                verify(client.id_token_verifier(), &id_token, &nonce)
            }
            other => other,
        }
        .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
        if claims::missing(&self.settings, &claims) && metadata.userinfo_endpoint().is_some() {
            // `verify` succeeded, so `sub` is there: userinfo must name the same subject.
            let subject = match claims.get("sub") {
                Some(Value::String(sub)) => openidconnect::SubjectIdentifier::new(sub.clone()),
                _ => return Err(OidcError::IdToken("no sub".to_owned())),
            };
            let info = self
                .userinfo(&client, response.access_token().clone(), subject)
                .await?;
            claims::fill_in(&mut claims, info);
        }
        let identity = claims::identity(&self.settings, &claims).map_err(OidcError::Refused)?;
        Ok(ProviderSignIn {
            identity,
            rd: attempt.rd,
        })
    }

    /// Where to send the browser to end the provider's session too, returning to
    /// `after`: `None` when the switch is off, the provider publishes no
    /// `end_session_endpoint`, or discovery is not available.
    pub fn logout_url(&self, after: &str) -> Option<String> {
        if !self.settings.rp_initiated_logout {
            return None;
        }
        let metadata = self.discovery.current()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request = openidconnect::LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Ok(after) = PostLogoutRedirectUrl::new(after.to_owned()) {
            request = request.set_post_logout_redirect_uri(after);
        }
        Some(request.http_get_url().to_string())
    }

    /// The cached discovery document, checked.
    /// When nothing is cached yet (a fresh config generation after a reload, or a provider
    /// that was down), one on-demand fetch (rate-limited) before giving up.
    async fn metadata(&self) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let metadata = match self.discovery.current() {
            Some(metadata) => metadata,
            None => self
                .discovery
                .refresh_if_allowed()
                .await
                .ok()
                .flatten()
                .ok_or(OidcError::Unavailable)?,
        };
        self.check_issuer(&metadata)?;
        Ok(metadata)
    }

    fn check_issuer(&self, metadata: &ProviderMetadataWithLogout) -> Result<(), OidcError> {
        let found = metadata.issuer().as_str();
        if found != self.settings.issuer.value {
            return Err(OidcError::IssuerMismatch {
                configured: self.settings.issuer.value.clone(),
                found: found.to_owned(),
            });
        }
        Ok(())
    }

    /// The key set at `metadata`'s `jwks_uri`, created (and kept fresh) on first use, or
    /// again when discovery moved it.
    fn key_set(
        &self,
        metadata: &ProviderMetadataWithLogout,
    ) -> Result<Arc<RemoteDocument<CoreJsonWebKeySet>>, OidcError> {
        let url = metadata.jwks_uri().url().as_str();
        if let Some(keys) = self.keys.load_full()
            && keys.url() == url
        {
            return Ok(keys);
        }
        let keys = Arc::new(RemoteDocument::new(
            url.to_owned(),
            self.channel.clone(),
            RemoteSchedule::default(),
        ));
        keys.keep_fresh();
        self.keys.store(Some(keys.clone()));
        Ok(keys)
    }

    fn client(
        &self,
        metadata: &ProviderMetadataWithLogout,
        jwks: CoreJsonWebKeySet,
        callback: &str,
    ) -> Result<DiscoveredClient, OidcError> {
        let redirect = RedirectUrl::new(callback.to_owned())
            .map_err(|_| OidcError::BadCallback(callback.to_owned()))?;
        let metadata = metadata.clone().set_jwks(jwks);
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(self.secret.clone()),
        )
        .set_redirect_uri(redirect))
    }

    async fn userinfo(
        &self,
        client: &DiscoveredClient,
        access_token: AccessToken,
        subject: openidconnect::SubjectIdentifier,
    ) -> Result<Map<String, Value>, OidcError> {
        let request = client
            .user_info(access_token, Some(subject))
            .map_err(|e| OidcError::Userinfo(error_chain(&e)))?;
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(&self.channel)
            .await
            .map_err(|e| OidcError::Userinfo(error_chain(&e)))?;
        as_object(&info).map_err(OidcError::Userinfo)
    }
}

/// `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_joins_without_doubling_the_slash() {
        assert_eq!(
            discovery_url("https://idp.test/realms/x/"),
            "https://idp.test/realms/x/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://accounts.google.com"),
            "https://accounts.google.com/.well-known/openid-configuration"
        );
    }
}
