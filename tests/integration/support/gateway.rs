//! The real gateway, in process: a real config file in a temp folder, `Config::load`,
//! `Gateway::new`, listeners bound on `127.0.0.1:0` before `run` is spawned, and a oneshot
//! to shut it down.

use std::net::SocketAddr;
use std::sync::{Arc, Once};

use gateway::{Config, Gateway, Listeners};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::certs::{LeafFiles, TestCa};
use super::client::TestClient;
use super::within;

/// Names on the default certificate.
pub const DEFAULT_NAMES: [&str; 5] = [
    "localhost",
    "127.0.0.1",
    "example.test",
    "*.example.test",
    "*.app2.example.test",
];

/// A running gateway.
pub struct TestGateway {
    /// The HTTPS listener.
    pub addr: SocketAddr,
    /// The plain-HTTP redirect listener.
    pub redirect_addr: SocketAddr,
    /// The plain-HTTP admin listener.
    pub admin_addr: SocketAddr,
    /// The running gateway, for reloads.
    pub gateway: Arc<Gateway>,
    /// The config file written for this gateway.
    pub config_path: std::path::PathBuf,
    /// The default certificate's files.
    pub default_cert: LeafFiles,
    /// Certificates of `[[tls.sni]]` hosts, by host.
    pub sni_certs: Vec<(String, LeafFiles)>,
    /// The CA that signed the certificates; clients trust it.
    pub ca: Arc<TestCa>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Holds the config and certificates until the gateway is dropped.
    _dir: tempfile::TempDir,
}

/// Starts a gateway whose config is `config` plus a `[tls]` section for the test CA's
/// certificates (and a `[[tls.sni]]` entry with its own certificate for each `sni_hosts`).
/// `files` are written into the config's folder first (relative config paths resolve there).
pub async fn start_with(config: &str, sni_hosts: &[&str], files: &[(&str, &[u8])]) -> TestGateway {
    start_with_tls(config, "", sni_hosts, files).await
}

/// [`start_with`], with `tls` (e.g. `hsts = "max-age=60"`) added to the `[tls]` section.
pub async fn start_with_tls(
    config: &str,
    tls: &str,
    sni_hosts: &[&str],
    files: &[(&str, &[u8])],
) -> TestGateway {
    start_with_ca(config, tls, sni_hosts, files, Arc::new(TestCa::new())).await
}

/// [`start_with_tls`] with certificates of the CA `ca`, so that one client trusts several
/// gateways (instances behind one balancer).
pub async fn start_with_ca(
    config: &str,
    tls: &str,
    sni_hosts: &[&str],
    files: &[(&str, &[u8])],
    ca: Arc<TestCa>,
) -> TestGateway {
    init_logging();
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).expect("write test file");
    }
    let default_cert = ca.leaf(dir.path(), "default", &DEFAULT_NAMES);
    let mut text =
        format!("{config}\n[tls]\ncert = \"default.crt\"\nkey = \"default.key\"\n{tls}\n");
    let mut sni_certs = Vec::new();
    for host in sni_hosts {
        let files = ca.leaf(dir.path(), host, &[host]);
        text.push_str(&format!(
            "[[tls.sni]]\nhost = \"{host}\"\ncert = \"{host}.crt\"\nkey = \"{host}.key\"\n"
        ));
        sni_certs.push((host.to_string(), files));
    }
    let config_path = dir.path().join("gateway.toml");
    std::fs::write(&config_path, text).expect("write config");
    let config = Config::load(&config_path, &Default::default()).expect("test config is valid");
    let backlog = config.server.listen_backlog;
    let gateway = Gateway::new(config, &|_| None).expect("gateway builds");
    let bind = |what: &str| {
        gateway::bind(([127, 0, 0, 1], 0).into(), backlog)
            .unwrap_or_else(|e| panic!("bind {what}: {e}"))
    };
    let (https, redirect, admin) = (bind("https"), bind("http"), bind("admin"));
    let admin_addr = admin.local_addr().expect("addr");
    let addr = https.local_addr().expect("addr");
    let redirect_addr = redirect.local_addr().expect("addr");
    let (shutdown, signal) = oneshot::channel::<()>();
    let listeners = Listeners {
        https,
        redirect_http: Some(redirect),
        admin: Some(admin),
    };
    let gateway = Arc::new(gateway);
    let task = tokio::spawn(gateway::run(listeners, gateway.clone(), async {
        let _ = signal.await;
    }));
    TestGateway {
        addr,
        redirect_addr,
        admin_addr,
        gateway,
        config_path,
        default_cert,
        sni_certs,
        ca,
        shutdown: Some(shutdown),
        task: Some(task),
        _dir: dir,
    }
}

/// [`start_with`] without SNI certificates or extra files.
pub async fn start(config: &str) -> TestGateway {
    start_with(config, &[], &[]).await
}

/// The config of one public route (any host, path `/`) to `upstream`.
pub fn public_route(upstream: &str) -> String {
    format!("[[route]]\naccess = \"public\"\nupstream = \"{upstream}\"\n")
}

impl TestGateway {
    /// A client that trusts the test CA and connects to the HTTPS listener.
    pub fn client(&self) -> TestClient {
        TestClient::new(self.addr, &self.ca.cert)
    }

    /// Starts graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Waits for `run` to return; re-raises a panic from the server task.
    pub async fn join(&mut self) {
        if let Some(task) = self.task.take()
            && let Err(e) = within(task).await
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
    });
}
