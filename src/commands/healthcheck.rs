//! `gateway healthcheck`: probes the running gateway's admin `/healthz`, for a container's
//! `HEALTHCHECK`. Only `server.admin_listen` is read from the config file, so an edit that
//! is not yet reloaded (and may not even be valid) cannot turn a healthy gateway unhealthy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use http::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The variable that sets `[server] admin_listen` from the environment.
const ADMIN_LISTEN_VARIABLE: &str = "GATEWAY_SERVER__ADMIN_LISTEN";

/// Probes the admin listener named by `GATEWAY_SERVER__ADMIN_LISTEN` in `environment`,
/// else by the config file at `config_path` (the environment wins, as for the gateway).
///
/// # Errors
/// [`HealthError`] when the address cannot be read or the listener does not answer 200.
pub async fn healthcheck(
    config_path: &Path,
    environment: &crate::config::Environment,
) -> Result<(), HealthError> {
    let addr = match environment.variable(ADMIN_LISTEN_VARIABLE) {
        Some(text) => text.parse().map_err(|_| HealthError::NoAdminListener)?,
        None => {
            let text = std::fs::read_to_string(config_path).map_err(HealthError::ReadConfig)?;
            admin_address(&text)?
        }
    };
    probe(local_target(addr)).await
}

/// Asks the admin listener at `addr` for `/healthz` (`gateway healthcheck`).
///
/// # Errors
/// [`HealthError`] when it cannot connect, does not answer in time, or answers other than 200.
async fn probe(addr: SocketAddr) -> Result<(), HealthError> {
    match admin_request(addr, http::Method::GET, "/healthz").await? {
        StatusCode::OK => Ok(()),
        other => Err(HealthError::Status(other)),
    }
}

/// Sends one bodiless request to the admin listener at `addr`; its status.
///
/// # Errors
/// [`HealthError`] when it cannot connect or does not answer in time.
pub(super) async fn admin_request(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
) -> Result<StatusCode, HealthError> {
    let exchange = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(HealthError::Connect)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(HealthError::Http)?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string())
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|_| HealthError::Status(StatusCode::INTERNAL_SERVER_ERROR))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(HealthError::Http)?;
        Ok(response.status())
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| HealthError::Timeout)?
}

/// `server.admin_listen` from config text, read without validating the rest.
///
/// # Errors
/// [`HealthError::NoAdminListener`] when the text has no usable `admin_listen`.
pub(super) fn admin_address(config_text: &str) -> Result<SocketAddr, HealthError> {
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
    #[error("admin listener answered {0}")]
    Status(StatusCode),
}

/// How long `gateway healthcheck` waits.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to reach a listener bound to `addr` from this host: a wildcard address becomes
/// loopback.
pub(super) fn local_target(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
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
