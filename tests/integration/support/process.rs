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
