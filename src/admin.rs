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
//!
//! Bind it to a private address: it needs no credentials and tells which upstreams exist.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::Upstream;
use crate::gateway::Gateway;
use crate::response::{Body, full};

/// How long one upstream host name may take to resolve during `/readyz`.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers one admin request.
pub async fn handle(gateway: &Gateway, request: &Request<Incoming>) -> Response<Body> {
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

async fn readiness(gateway: &Gateway) -> Response<Body> {
    let snapshot = gateway.snapshot();
    let hosts: BTreeSet<String> = snapshot
        .config()
        .routes
        .iter()
        .flat_map(|route| &route.upstreams)
        .filter_map(|upstream| match upstream {
            Upstream::Http { authority } => Some(authority.to_string()),
            Upstream::Whoami => None,
        })
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
        text(StatusCode::OK, "ready\n".to_owned())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: cannot resolve {}\n", unresolved.join(", ")),
        )
    }
}

/// Asks the admin listener at `addr` for `/healthz` (`gateway healthcheck`).
///
/// # Errors
/// [`HealthError`] when it cannot connect, does not answer in time, or answers other than 200.
pub async fn probe(addr: SocketAddr) -> Result<(), HealthError> {
    let exchange = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(HealthError::Connect)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(HealthError::Http)?;
        tokio::spawn(connection);
        let request = Request::get("/healthz")
            .header(header::HOST, addr.to_string())
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|_| HealthError::Status(StatusCode::INTERNAL_SERVER_ERROR))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(HealthError::Http)?;
        match response.status() {
            StatusCode::OK => Ok(()),
            other => Err(HealthError::Status(other)),
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| HealthError::Timeout)?
}

/// `server.admin_listen` from config text, read without validating the rest.
///
/// # Errors
/// [`HealthError::NoAdminListener`] when the text has no usable `admin_listen`.
pub fn admin_address(config_text: &str) -> Result<SocketAddr, HealthError> {
    let table: toml::Table = config_text
        .parse()
        .map_err(|_| HealthError::NoAdminListener)?;
    table
        .get("server")
        .and_then(|server| server.get("admin_listen"))
        .and_then(|addr| addr.as_str())
        .and_then(|addr| addr.parse().ok())
        .ok_or(HealthError::NoAdminListener)
}

/// Why `gateway healthcheck` failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The config file could not be read.
    #[error("cannot read the config file")]
    ReadConfig(#[source] std::io::Error),
    /// The config has no usable `admin_listen`.
    #[error(
        "server.admin_listen is not set (or not an address); the health check needs the admin listener"
    )]
    NoAdminListener,
    /// Nothing accepted the connection.
    #[error("cannot connect to the admin listener")]
    Connect(#[source] std::io::Error),
    /// The HTTP exchange failed.
    #[error("admin listener did not answer")]
    Http(#[source] hyper::Error),
    /// No answer within the probe timeout.
    #[error("admin listener did not answer within {PROBE_TIMEOUT:?}")]
    Timeout,
    /// An answer other than 200.
    #[error("admin /healthz answered {0}")]
    Status(StatusCode),
}

/// How long `gateway healthcheck` waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to reach a listener bound to `addr` from this host: a wildcard address becomes
/// loopback.
pub fn local_target(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::{admin_address, local_target};

    #[test]
    fn admin_address_is_read_without_the_rest_of_the_config() {
        let text = "[server]\nadmin_listen = \"0.0.0.0:9090\"\n[nonsense]\nkey = 1\n";
        assert_eq!(admin_address(text).map(|a| a.port()).ok(), Some(9090));
        assert!(admin_address("[server]\nlisten = \"x\"\n").is_err());
        assert!(admin_address("[server]\nadmin_listen = \"nope\"\n").is_err());
        assert!(admin_address("not toml [").is_err());
    }

    #[test]
    fn wildcard_admin_address_is_probed_on_loopback() {
        let target = |s: &str| local_target(s.parse().expect("addr")).to_string();
        assert_eq!(target("0.0.0.0:9090"), "127.0.0.1:9090");
        assert_eq!(target("[::]:9090"), "[::1]:9090");
        assert_eq!(target("10.1.2.3:9090"), "10.1.2.3:9090");
    }
}
