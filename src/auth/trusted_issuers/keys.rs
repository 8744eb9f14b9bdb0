//! [`IssuerKeys`]: where a trusted issuer's key set comes from, and when it is fetched.
//!
//! The key set is a [`RemoteDocument`] (`auth::idp`): refreshed in the background once the
//! first token of the issuer arrives, and on demand when a token names a `kid` the cached
//! set lacks — at most once per `key_refresh_min_interval`, so forged `kid`s cannot make
//! the gateway flood the issuer. Without `jwks_url`, the issuer's discovery document
//! (`<issuer>/.well-known/openid-configuration`) is fetched first; its `issuer` must be
//! the configured one, and its `jwks_uri` is then used for good (until a reload).
//!
//! Before any copy exists, one caller at a time fetches, at most once per
//! [`FIRST_FETCH_RETRY`]: an issuer that is down costs it one request per second, not one
//! per token.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use crate::auth::idp::{BackChannel, RemoteDocument, RemoteError, RemoteSchedule};
use crate::config::{IssuerKeysAt, TrustedIssuerSettings};

/// Least time between two fetches while no copy of the key set exists yet.
pub const FIRST_FETCH_RETRY: Duration = Duration::from_secs(1);

/// Why no key set is available.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Fetching the key set or the discovery document failed.
    #[error(transparent)]
    Fetch(#[from] RemoteError),
    /// The discovery document names another issuer.
    #[error("discovery document names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    /// A fetch failed less than [`FIRST_FETCH_RETRY`] ago and no copy exists.
    #[error("the issuer's keys are not available yet")]
    NotYet,
}

/// The part of a discovery document we use.
#[derive(Debug, Deserialize)]
pub(super) struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// One issuer's key set and how it is kept.
pub(super) struct IssuerKeys {
    issuer: String,
    channel: BackChannel,
    schedule: RemoteSchedule,
    /// Set at once from `jwks_url`, or after discovery.
    jwks: OnceLock<Arc<RemoteDocument<JwkSet>>>,
    discovery: Option<Arc<RemoteDocument<Discovery>>>,
    /// Whether the background refresh runs (started by the first token, in a runtime).
    started: OnceLock<()>,
    /// When a fetch without any copy last started (single flight).
    first_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl IssuerKeys {
    pub(super) fn new(settings: &TrustedIssuerSettings, channel: BackChannel) -> IssuerKeys {
        let schedule = RemoteSchedule {
            on_demand_every: settings.key_refresh_min_interval,
            ..RemoteSchedule::default()
        };
        let jwks = OnceLock::new();
        let discovery = match &settings.keys_at {
            IssuerKeysAt::Jwks(url) => {
                let document = RemoteDocument::new(url.clone(), channel.clone(), schedule);
                let _ = jwks.set(Arc::new(document));
                None
            }
            IssuerKeysAt::Discovery => Some(Arc::new(RemoteDocument::new(
                format!(
                    "{}/.well-known/openid-configuration",
                    settings.issuer.trim_end_matches('/')
                ),
                channel.clone(),
                schedule,
            ))),
        };
        IssuerKeys {
            issuer: settings.issuer.clone(),
            channel,
            schedule,
            jwks,
            discovery,
            started: OnceLock::new(),
            first_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached key set, fetching it first when there is none yet.
    ///
    /// # Errors
    /// A [`KeysError`] when no copy exists and none could be fetched.
    pub(super) async fn current(&self) -> Result<Arc<JwkSet>, KeysError> {
        if let Some(set) = self.jwks.get().and_then(|d| d.current()) {
            return Ok(set);
        }
        let mut last = self.first_fetch.lock().await;
        if let Some(set) = self.jwks.get().and_then(|d| d.current()) {
            return Ok(set);
        }
        if last.is_some_and(|at| at.elapsed() < FIRST_FETCH_RETRY) {
            return Err(KeysError::NotYet);
        }
        *last = Some(Instant::now());
        self.first_fetch_now().await
    }

    async fn first_fetch_now(&self) -> Result<Arc<JwkSet>, KeysError> {
        let document = self.jwks_document().await?;
        let set = document.refresh().await?;
        self.start_background(&document);
        Ok(set)
    }

    /// The key-set document: at once with `jwks_url`, else after discovery.
    async fn jwks_document(&self) -> Result<Arc<RemoteDocument<JwkSet>>, KeysError> {
        if let Some(document) = self.jwks.get() {
            return Ok(document.clone());
        }
        let discovery = self
            .discovery
            .as_ref()
            .expect("without jwks_url the keys are found by discovery");
        let found = discovery.refresh().await?;
        if found.issuer != self.issuer {
            return Err(KeysError::IssuerMismatch {
                expected: self.issuer.clone(),
                found: found.issuer.clone(),
            });
        }
        let document = Arc::new(RemoteDocument::new(
            found.jwks_uri.clone(),
            self.channel.clone(),
            self.schedule,
        ));
        Ok(self.jwks.get_or_init(|| document).clone())
    }

    /// After a token named a `kid` the cached set lacks: a fresh set when the rate limit
    /// allows a fetch (`None` when it does not).
    ///
    /// # Errors
    /// A [`KeysError`] when the allowed fetch failed.
    pub(super) async fn refresh_for_unknown_kid(&self) -> Result<Option<Arc<JwkSet>>, KeysError> {
        let document = self.jwks_document().await?;
        Ok(document.refresh_if_allowed().await?)
    }

    /// Starts the background refresh of the key set, once.
    fn start_background(&self, document: &Arc<RemoteDocument<JwkSet>>) {
        self.started.get_or_init(|| document.keep_fresh());
    }
}
