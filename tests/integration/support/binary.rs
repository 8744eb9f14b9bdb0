//! The gateway binary as a child process, for what only a process shows: its log lines
//! (stdout, JSON) and its resident memory (`/proc/PID/status`).
//!
//! It listens on `127.0.0.1:0` and the test learns the address from the startup log line
//! `listening for https`, so no port is ever guessed. Killed on drop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::STEP_TIMEOUT;
use super::certs::TestCa;
use super::client::TestClient;
use super::process::KillOnDrop;

/// The `gateway` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_gateway");

/// A running `gateway` process.
pub struct GatewayBinary {
    /// The HTTPS listener.
    pub addr: SocketAddr,
    ca: TestCa,
    log: PathBuf,
    child: KillOnDrop,
    /// Holds the config, certificate and log until the process is gone.
    _dir: tempfile::TempDir,
}

impl GatewayBinary {
    /// Starts `gateway --config gateway.toml --log-format json` in a temp folder holding
    /// `files`, with `[server] listen = "127.0.0.1:0"` plus `server_lines`, then `config`,
    /// then a `[tls]` section for a test certificate of `localhost`. `RUST_LOG` is `info`.
    /// Waits (up to [`STEP_TIMEOUT`]) until it logs its HTTPS address.
    pub async fn start(server_lines: &str, config: &str, files: &[(&str, &[u8])]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).expect("write test file");
        }
        let ca = TestCa::new();
        ca.leaf(dir.path(), "server", &["localhost"]);
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{server_lines}\n{config}\n\
             [tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n"
        );
        std::fs::write(dir.path().join("gateway.toml"), text).expect("write config");
        let log = dir.path().join("gateway.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(BIN)
            .arg("--config")
            .arg(dir.path().join("gateway.toml"))
            .args(["--log-format", "json"])
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn gateway");
        let mut gateway = GatewayBinary {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ca,
            log,
            child: KillOnDrop::new(child),
            _dir: dir,
        };
        gateway.addr = gateway.wait_for_address().await;
        gateway
    }

    async fn wait_for_address(&mut self) -> SocketAddr {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let listening = self
                .log_lines()
                .into_iter()
                .find(|line| line["message"] == "listening for https");
            if let Some(addr) = listening.and_then(|line| line["addr"].as_str()?.parse().ok()) {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "gateway exited ({status}) before listening:\n{}",
                    self.log()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gateway did not listen within {STEP_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A client that trusts the test certificate (SNI and `Host`: `localhost`).
    pub fn client(&self) -> TestClient {
        TestClient::new(self.addr, &self.ca.cert)
    }

    /// Everything the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log lines that are JSON objects.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The log lines for which `wanted` holds, once at least one has been written (log lines
    /// reach stdout in batches, a little late); fails the test after [`STEP_TIMEOUT`].
    pub async fn wait_for_log(
        &self,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let found: Vec<_> = self
                .log_lines()
                .into_iter()
                .filter(|line| wanted(line))
                .collect();
            if !found.is_empty() {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no such log line within {STEP_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("procfs status of the gateway");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status:\n{status}"))
    }
}

/// Runs `gateway <args>` (without `GATEWAY_CONFIG`) with `stdin` as its standard input, to
/// the end.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("GATEWAY_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("output")
}

/// `gateway check --config PATH`: its exit code and everything it printed.
pub fn check(config: &std::path::Path) -> (Option<i32>, String) {
    let output = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(config)
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}
