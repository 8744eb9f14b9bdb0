//! A real HAProxy (Debian's package; `scripts/test.sh` installs it) as an L4 balancer: TCP
//! mode, round robin, TLS passing through to the backends (it ends at the gateways). It
//! listens on a free loopback port and is killed when the guard drops.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use super::process::{KillOnDrop, free_addrs, tool, wait_until_accepting};

/// A running HAProxy in front of some backends.
pub struct Balancer {
    _child: KillOnDrop,
    /// Its frontend.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Round robin over `backends`, one new TCP connection to the next backend.
    pub async fn start(backends: &[SocketAddr]) -> Balancer {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("haproxy.log");
        for _ in 0..5 {
            let [addr] = free_addrs::<1>();
            let servers: String = backends
                .iter()
                .enumerate()
                .map(|(n, b)| format!("  server g{n} {b}\n"))
                .collect();
            let config = format!(
                "global\n  maxconn 256\n\
                 defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
                 frontend gateways\n  bind {addr}\n  default_backend instances\n\
                 backend instances\n  balance roundrobin\n{servers}"
            );
            let path = dir.path().join("haproxy.cfg");
            std::fs::write(&path, config).expect("write haproxy.cfg");
            let mut child = KillOnDrop::new(
                Command::new(tool("haproxy"))
                    .arg("-db")
                    .arg("-f")
                    .arg(&path)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).expect("log"))
                    .spawn()
                    .expect("run haproxy"),
            );
            if wait_until_accepting(&mut child, addr, "haproxy", &log).await {
                return Balancer {
                    _child: child,
                    addr,
                    _dir: dir,
                };
            }
        }
        panic!(
            "haproxy did not start; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}
