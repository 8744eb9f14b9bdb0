//! The admin listener (`server.admin_listen`, plain HTTP, off by default): liveness,
//! readiness and metrics for orchestrators and Prometheus.
//!
//! - `GET /healthz`: 200 `ok` while the process serves requests at all.
//! - `GET /readyz`: 200 when a config is loaded, the listeners are bound (the admin listener
//!   only runs inside [`crate::run`], after binding) and every upstream host name resolves;
//!   503 listing the hosts that do not. Whether upstreams *answer* is for the metrics
//!   (`gateway_upstream_errors_total`), not readiness: one dead app must not pull the
//!   gateway out of a load balancer.
//! - `GET /metrics`: Prometheus text format.
//! - `POST /revoke?user=NAME`: signs the user out everywhere (every token signed in before
//!   now is refused; with `[state] store = "redis"` on every instance sharing the Redis).
//!   `/readyz` also answers 503 with the reason while a shared state store is unreachable.
//!   An `[[auth.oidc]]` provider whose discovery has not succeeded is *named* in the body
//!   (`identity provider corp unavailable: …`) but does not make it 503: local logins,
//!   existing sessions and the other providers still work, and pulling every instance out
//!   of the load balancer because one identity provider is down would stop all of them.
//!   `gateway_oidc_provider_up{provider}` in `/metrics` is the series to alert on.
//!
//! Bind it to a private address: it needs no credentials and tells which upstreams exist.
//! The client side, `gateway healthcheck`, is `commands::healthcheck`.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::auth::oidc::ProviderStatus;
use crate::auth::state::StoreHealth;
use crate::gateway::Gateway;
use crate::http::{Body, text};

/// How long one upstream host name may take to resolve during `/readyz`.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers one admin request.
pub async fn handle(gateway: &Gateway, request: &Request<Incoming>) -> Response<Body> {
    if request.uri().path() == "/revoke" {
        return revoke(gateway, request).await;
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".to_owned(),
        );
    }
    match request.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n".to_owned()),
        "/readyz" => readiness(gateway).await,
        "/metrics" => {
            let snapshot = gateway.snapshot();
            for provider in snapshot.pipeline.auth.iter().flat_map(|a| a.oidc().iter()) {
                let up = provider.status() == ProviderStatus::Ready;
                gateway
                    .metrics()
                    .oidc_provider_up(&provider.settings().name, up);
            }
            let mut response = text(StatusCode::OK, gateway.metrics().encode());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".to_owned()),
    }
}

/// `POST /revoke?user=NAME`.
async fn revoke(gateway: &Gateway, request: &Request<Incoming>) -> Response<Body> {
    if request.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n".to_owned());
    }
    let user = form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "user")
        .map(|(_, value)| value.into_owned())
        .filter(|user| !user.is_empty());
    let Some(user) = user else {
        return text(StatusCode::BAD_REQUEST, "missing ?user=NAME\n".to_owned());
    };
    let snapshot = gateway.snapshot();
    let Some(auth) = snapshot.pipeline.auth.as_ref() else {
        return text(StatusCode::NOT_FOUND, "no [auth] configured\n".to_owned());
    };
    match auth.sign_out_everywhere(&user, SystemTime::now()).await {
        Ok(()) => {
            tracing::info!(user = %user, "user signed out everywhere");
            text(StatusCode::OK, "revoked\n".to_owned())
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot sign the user out everywhere");
            text(StatusCode::INTERNAL_SERVER_ERROR, "failed\n".to_owned())
        }
    }
}

async fn readiness(gateway: &Gateway) -> Response<Body> {
    if let StoreHealth::Degraded(reason) = gateway.store_health() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: state store: {reason}\n"),
        );
    }
    let snapshot = gateway.snapshot();
    let hosts: BTreeSet<String> = snapshot
        .config()
        .routes
        .iter()
        .flat_map(|route| &route.upstreams)
        .filter_map(|upstream| upstream.authority().map(ToString::to_string))
        .collect();
    let mut unresolved = Vec::new();
    for host in hosts {
        let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(host.as_str()));
        let resolves = match lookup.await {
            Ok(Ok(mut addrs)) => addrs.next().is_some(),
            _ => false,
        };
        if !resolves {
            unresolved.push(host);
        }
    }
    if unresolved.is_empty() {
        let mut body = "ready\n".to_owned();
        for provider in snapshot.pipeline.auth.iter().flat_map(|a| a.oidc().iter()) {
            if let ProviderStatus::Unavailable(reason) = provider.status() {
                let name = &provider.settings().name;
                body.push_str(&format!("identity provider {name} unavailable: {reason}\n"));
            }
        }
        text(StatusCode::OK, body)
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: cannot resolve {}\n", unresolved.join(", ")),
        )
    }
}
