//! The gateway's state: one long-lived [`Gateway`] holding the current [`Snapshot`] — a
//! complete, consistent generation of everything built from one config — plus what must
//! outlive reloads.
//!
//! Reload (SIGHUP) builds a whole new snapshot from the files — config, certificates, keys,
//! users — and swaps it in atomically; if anything fails, the old snapshot keeps serving and
//! the error is returned. Each request loads the current snapshot once and uses it to the
//! end, so an in-flight request finishes on the config it started with; each connection's
//! TLS handshake and HTTP settings come from the snapshot current when it was accepted.
//!
//! Survives reloads: metrics (counters never reset), the revocation list and the login
//! throttling counters (a reload must not un-revoke a logged-out token), request ids.
//! Fixed at startup: listener addresses, `max_connections`, `[state]`, and the throttling parameters;
//! a reload that changes them logs a warning saying a restart is needed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::auth::state::{MemoryStore, RedisStore, StateStore, StoreHealth};
use crate::config::{Config, StateSettings, default_throttle};
use crate::metrics::Metrics;

mod protocol;
mod snapshot;

pub(crate) use protocol::StreamExecutor;
pub use snapshot::{LoadError, Snapshot};

/// The running gateway: the current snapshot and the state that survives reloads.
pub struct Gateway {
    current: ArcSwap<Snapshot>,
    metrics: Arc<Metrics>,
    store: Arc<dyn StateStore>,
    request_ids: AtomicU64,
}

impl Gateway {
    /// Loads certificates, keys and users, and builds the first snapshot. `env` looks up
    /// environment variables (`secret_env`); only `main.rs` passes the process environment.
    ///
    /// # Errors
    /// A [`LoadError`] naming the configured file that failed.
    pub fn new(config: Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Gateway, LoadError> {
        let metrics = Arc::new(Metrics::new());
        let throttle = config
            .users
            .as_ref()
            .map_or_else(default_throttle, |u| u.throttle);
        let store: Arc<dyn StateStore> = match &config.state {
            StateSettings::Memory => Arc::new(MemoryStore::new(throttle)),
            StateSettings::Redis(redis) => {
                Arc::new(RedisStore::start(redis, throttle, metrics.clone())?)
            }
        };
        let snapshot = Snapshot::build(config, env, &metrics, &store)?;
        Ok(Gateway {
            current: ArcSwap::from_pointee(snapshot),
            metrics,
            store,
            request_ids: AtomicU64::new(1),
        })
    }

    /// Builds a snapshot from `config` and swaps it in; on error the current one stays.
    ///
    /// # Errors
    /// The error that stopped the new snapshot from being built.
    pub fn reload(
        &self,
        config: Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), LoadError> {
        let built = Snapshot::build(config, env, &self.metrics, &self.store);
        self.metrics.reload(built.is_ok());
        let snapshot = built?;
        warn_about_fixed_settings(&self.current.load().config, &snapshot.config);
        self.current.store(Arc::new(snapshot));
        tracing::info!("configuration reloaded");
        Ok(())
    }

    /// Reads the config file at `path`, lays the environment the running config was loaded
    /// with over it, and [reloads](Gateway::reload) from it.
    ///
    /// # Errors
    /// Config, certificate, key or users file problems; the current snapshot stays.
    pub fn reload_from(
        &self,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), LoadError> {
        match self.current.load().config.reload(path) {
            Ok(config) => self.reload(config, env),
            Err(e) => {
                self.metrics.reload(false);
                Err(LoadError::Config(e))
            }
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The process's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether the state store's backend is in use (`/readyz`).
    pub(crate) fn store_health(&self) -> StoreHealth {
        self.store.health()
    }

    pub(crate) fn next_request_id(&self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::Relaxed)
    }
}

fn warn_about_fixed_settings(old: &Config, new: &Config) {
    let (a, b) = (&old.server, &new.server);
    if a.listen != b.listen
        || a.redirect_http != b.redirect_http
        || a.admin_listen != b.admin_listen
    {
        tracing::warn!("listener addresses changed; they take effect after a restart");
    }
    if a.max_connections != b.max_connections {
        tracing::warn!("max_connections changed; it takes effect after a restart");
    }
    if a.workers != b.workers {
        tracing::warn!("workers changed; it takes effect after a restart");
    }
    if state_key(&old.state) != state_key(&new.state) {
        tracing::warn!("[state] changed; it takes effect after a restart");
    }
    let throttle = |c: &Config| c.users.as_ref().map(|u| u.throttle);
    if throttle(old) != throttle(new) {
        tracing::warn!("login throttling settings changed; they take effect after a restart");
    }
}

/// What identifies a `[state]` setting, to tell whether a reload changed it.
fn state_key(state: &StateSettings) -> Option<(String, String, Option<std::path::PathBuf>)> {
    match state {
        StateSettings::Memory => None,
        StateSettings::Redis(redis) => Some((
            redis.url.expose().to_owned(),
            redis.key_prefix.clone(),
            redis.password_file.as_ref().map(|f| f.value.clone()),
        )),
    }
}
