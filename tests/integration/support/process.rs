//! Child processes: finding an installed program, killing a child when the test ends, free
//! loopback ports to give it, and waiting until it listens.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use super::STEP_TIMEOUT;

/// The program `name`: found on `PATH`, else in the sbin folders a non-root `PATH` lacks
/// (Debian installs nginx in /usr/sbin). Panics, failing the test, when it is not installed.
pub fn tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let sbin = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    on_path
        .iter()
        .chain(sbin.iter())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is required by this test and is not installed; scripts/test.sh installs it")
        })
}

/// A child process, killed and reaped on drop (also when the test panics). Derefs to the
/// [`Child`].
pub struct KillOnDrop(Child);

impl KillOnDrop {
    pub fn new(child: Child) -> KillOnDrop {
        KillOnDrop(child)
    }
}

impl Deref for KillOnDrop {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Loopback addresses with nothing listening (bound, then released). Another process could
/// take one before the child binds it: callers retry on fresh ones when the bind fails.
pub fn free_addrs<const N: usize>() -> [SocketAddr; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe"))
        .collect();
    std::array::from_fn(|n| listeners[n].local_addr().expect("probe addr"))
}

/// Polls until `addr` accepts connections (true) or `child` exits (false). Fails the test,
/// showing the log file `log` of the program `what`, after [`STEP_TIMEOUT`].
pub async fn wait_until_accepting(
    child: &mut Child,
    addr: SocketAddr,
    what: &str,
    log: &Path,
) -> bool {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not accept connections within {STEP_TIMEOUT:?}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The real `gateway` binary, run as a child process on free loopback ports, with a test
/// CA's certificate; for what only a separate process shows (its CPU time, its sockets).
pub struct GatewayProcess {
    pub child: KillOnDrop,
    /// The HTTPS listener.
    pub addr: SocketAddr,
    /// Clients trust it.
    pub ca: super::certs::TestCa,
    dir: tempfile::TempDir,
}

impl GatewayProcess {
    /// Runs `gateway run` with `server` (`[server]` keys other than `listen`) and `config`
    /// (the rest, without `[tls]`), listening on a free port, with the test CA's certificate. The ports are
    /// released before the gateway binds them: a lost race is retried on fresh ones.
    pub async fn start(server: &str, config: &str) -> GatewayProcess {
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let ca = super::certs::TestCa::new();
            ca.leaf(dir.path(), "default", &super::gateway::DEFAULT_NAMES);
            let [addr] = free_addrs::<1>();
            let text = format!(
                "[server]\nlisten = \"{addr}\"\n{server}\n{config}\n\
                 [tls]\ncert = \"default.crt\"\nkey = \"default.key\"\n"
            );
            let config_path = dir.path().join("gateway.toml");
            std::fs::write(&config_path, text).expect("write config");
            let log = dir.path().join("gateway.log");
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
                .arg("run")
                .arg("--config")
                .arg(&config_path)
                .env_remove("GATEWAY_CONFIG")
                .env("RUST_LOG", "warn")
                .stdin(std::process::Stdio::null())
                .stdout(std::fs::File::create(&log).expect("log"))
                .stderr(std::fs::File::create(dir.path().join("gateway.err")).expect("log"))
                .spawn()
                .expect("run gateway");
            let mut gateway = GatewayProcess {
                child: KillOnDrop::new(child),
                addr,
                ca,
                dir,
            };
            let log_path = gateway.dir.path().join("gateway.err");
            if wait_until_accepting(&mut gateway.child, addr, "gateway", &log_path).await {
                return gateway;
            }
            last_log = gateway.log();
            if !last_log.contains("in use") {
                break;
            }
        }
        panic!("the gateway did not start; its output:\n{last_log}");
    }

    /// A client that trusts the test CA and connects to the HTTPS listener.
    pub fn client(&self) -> super::client::TestClient {
        super::client::TestClient::new(self.addr, &self.ca.cert)
    }

    /// The config file it runs with (for commands that read it too).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("gateway.toml")
    }

    /// Everything the gateway wrote so far (for failure messages).
    pub fn log(&self) -> String {
        ["gateway.log", "gateway.err"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .collect()
    }

    /// CPU time the process has used so far, user plus system (`/proc/<pid>/stat`).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc/<pid>/stat");
        // The command name (field 2) is parenthesized and may hold spaces: count from ')'.
        let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        // Fields 14 and 15 of the whole line, utime and stime, in clock ticks.
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
    }
}

/// `sysconf(_SC_CLK_TCK)`, as `getconf CLK_TCK` prints it.
fn clock_ticks_per_second() -> u64 {
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("run getconf CLK_TCK");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK is a number")
}
