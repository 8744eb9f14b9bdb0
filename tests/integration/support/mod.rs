//! Test harness: real certificates, real upstream servers, the real gateway on ephemeral
//! loopback ports, and a real TLS client. Every wait is bounded by [`within`].

pub mod auth_config;
pub mod binary;
pub mod browser;
pub mod certs;
pub mod client;
pub mod compose;
pub mod cookies;
pub mod dockerfile;
pub mod env;
pub mod gateway;
pub mod haproxy;
pub mod oidc_provider;
pub mod process;
pub mod pyjwt;
pub mod raw;
pub mod redis;
pub mod rejections;
pub mod requests;
pub mod tls_upstream;
pub mod tokens;
pub mod totp;
pub mod traefik;
pub mod upstream;
pub mod users;
pub mod yaml;

use std::future::Future;
use std::time::Duration;

/// The longest any single step of a test may take before the test fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `future`, failing the test if it takes longer than [`STEP_TIMEOUT`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .expect("test step timed out")
}
