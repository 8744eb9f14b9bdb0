//! A real `redis-server` (Debian's package; `scripts/test.sh` installs it) on a free
//! loopback port, with no persistence, killed when the guard drops — also when the test
//! fails. Redis cannot bind port 0, so a free port is picked by binding and releasing one,
//! and a lost race is retried on a fresh port.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use super::process::{KillOnDrop, free_addrs, tool, wait_until_accepting};

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<KillOnDrop>,
    /// Where it listens.
    pub addr: SocketAddr,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server with `args` added (e.g. `["--requirepass", "s3cret"]`).
    pub async fn start(args: &[&str]) -> RedisServer {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut last_log = String::new();
        for _ in 0..5 {
            let [addr] = free_addrs::<1>();
            let mut server = RedisServer {
                child: None,
                addr,
                args: args.clone(),
                dir: tempfile::tempdir().expect("tempdir"),
            };
            if server.spawn().await {
                return server;
            }
            last_log = server.log();
        }
        panic!("redis-server did not start; its log:\n{last_log}");
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// Kills the server (its data is gone: nothing is persisted).
    pub fn kill(&mut self) {
        self.child = None;
    }

    /// Starts a new, empty server on the same port (as after a crash or a restart that lost
    /// its data). Retries while the old socket lingers.
    pub async fn restart(&mut self) {
        self.kill();
        let deadline = tokio::time::Instant::now() + super::STEP_TIMEOUT;
        while !self.spawn().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not restart on {}; its log:\n{}",
                self.addr,
                log_of(&self.dir)
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Runs `redis-cli` with `args` against the server; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new(tool("redis-cli"));
        command
            .arg("-h")
            .arg(self.addr.ip().to_string())
            .arg("-p")
            .arg(self.addr.port().to_string());
        if let Some(pass) = self.password() {
            command.arg("--no-auth-warning").arg("-a").arg(pass);
        }
        let output = command.args(args).output().expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn password(&self) -> Option<&str> {
        let at = self.args.iter().position(|a| a == "--requirepass")?;
        self.args.get(at + 1).map(String::as_str)
    }

    async fn spawn(&mut self) -> bool {
        let log = self.dir.path().join("redis.log");
        let mut child = KillOnDrop::new(
            Command::new(tool("redis-server"))
                .arg("--port")
                .arg(self.addr.port().to_string())
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(self.dir.path())
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).expect("log"))
                .stderr(Stdio::null())
                .spawn()
                .expect("run redis-server"),
        );
        let up = wait_until_accepting(&mut child, self.addr, "redis-server", &log).await;
        if up {
            self.child = Some(child);
        }
        up
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        log_of(&self.dir)
    }
}

fn log_of(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("redis.log")).unwrap_or_default()
}
