//! One config generation: a [`Snapshot`] of everything built from one validated config —
//! certificates, the HTTP settings of connections, and the request [`Pipeline`] (routes,
//! upstream client, keys and users) — built whole before it serves anything.

use std::sync::Arc;

use crate::auth::state::{RedisStartError, StateStore};
use crate::auth::{Auth, AuthError};
use crate::config::{Config, ConfigError, IdentityHeaders};
use crate::metrics::Metrics;
use crate::request::{Pipeline, RouteTarget};
use crate::router::Router;
use crate::tls::{TlsAcceptor, TlsError};
use crate::upstream::Proxy;

use super::protocol::HttpBuilders;

/// Why a snapshot could not be built; the current one, if any, keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The config file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Keys, secrets or the users file could not be loaded.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The shared state store could not be set up (`[state]`).
    #[error(transparent)]
    State(#[from] RedisStartError),
}

/// Everything built from one config: certificates, connection settings, the pipeline.
pub struct Snapshot {
    pub(crate) config: Config,
    pub(crate) tls: TlsAcceptor,
    pub(crate) http: HttpBuilders,
    pub(crate) pipeline: Pipeline,
}

impl Snapshot {
    /// Builds every part from `config`; `metrics` and `store` outlive the snapshot.
    pub(super) fn build(
        config: Config,
        env: &dyn Fn(&str) -> Option<String>,
        metrics: &Arc<Metrics>,
        store: &Arc<dyn StateStore>,
    ) -> Result<Snapshot, LoadError> {
        let tls = TlsAcceptor::load(&config.tls)?;
        let auth = match &config.auth {
            Some(settings) => Some(Auth::load(
                settings,
                config.users.as_ref(),
                env,
                store.clone(),
                metrics.clone(),
            )?),
            None => None,
        };
        let identity_headers = config
            .auth
            .as_ref()
            .map_or_else(IdentityHeaders::default, |a| a.headers.clone());
        let cookie_name = config.auth.as_ref().map(|a| a.cookie.name.clone());
        let upstream = Proxy::new(
            &config.server,
            &config.routes,
            identity_headers,
            cookie_name,
            metrics.clone(),
        )?;
        if let Some(auth) = &auth {
            // Discovery runs in the background: a provider that is down does not stop the
            // gateway from starting (its button says so until discovery succeeds).
            auth.oidc().start();
        }
        let router = Router::new(
            config
                .routes
                .iter()
                .map(|route| {
                    let name = format!("{} {}", route.host, route.path);
                    let target = RouteTarget {
                        metrics: metrics.route(&name),
                        name,
                        balancer: upstream.balancer(route),
                        access: route.access.clone(),
                        networks: route.networks.clone(),
                    };
                    let methods = route.methods.clone();
                    (route.host.clone(), route.path.clone(), methods, target)
                })
                .collect(),
        );
        let pipeline = Pipeline {
            router,
            upstream,
            auth,
            forward_auth: config.forward_auth.clone(),
            hsts: config.tls.hsts.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            metrics: metrics.clone(),
            endpoint_metrics: metrics.route("gateway endpoints"),
            unrouted_metrics: metrics.route("no route"),
        };
        Ok(Snapshot {
            http: HttpBuilders::new(&config.server),
            config,
            tls,
            pipeline,
        })
    }

    /// The configuration this snapshot was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
