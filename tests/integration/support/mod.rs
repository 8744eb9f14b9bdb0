//! Test harness: real certificates, real upstream servers, the real gateway on ephemeral
//! loopback ports, and a real TLS client. Every wait is bounded by [`within`].

pub mod auth;
pub mod binary;
pub mod browser;
pub mod certs;
pub mod client;
pub mod dockerfile;
pub mod gateway;
pub mod process;
pub mod raw;
pub mod traefik;
pub mod upstream;
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
