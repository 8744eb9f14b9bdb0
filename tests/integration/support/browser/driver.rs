//! chromedriver as a child process: started on an ephemeral port in its own process group,
//! and killed with that whole group (Chromium included) when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{CHROMEDRIVER, CHROMIUM};

/// chromedriver, in its own process group, and the profile folder Chromium uses.
pub(super) struct Driver {
    child: Child,
    pub addr: SocketAddr,
    /// Chromium's `--user-data-dir`, removed after the processes are gone (fields drop
    /// after `Drop::drop`).
    pub profile: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on an ephemeral loopback port and waits (bounded) for the line
    /// that names the port. With `--port=0` chromedriver takes a free IPv4 port and then
    /// wants the same number on IPv6 too; on a busy machine that number can be taken on
    /// IPv6, and chromedriver exits before naming a port. That race is retried, with a new
    /// port each time; any other failure is reported with chromedriver's own output.
    pub fn start() -> Driver {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is required for the browser tests: apt-get install chromium chromium-driver \
                 (scripts/test.sh installs them)"
            );
        }
        const ATTEMPTS: usize = 5;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Self::try_start() {
                Ok(driver) => return driver,
                Err(output) => failures.push(output),
            }
        }
        panic!("chromedriver did not report its port in {ATTEMPTS} attempts: {failures:#?}");
    }

    /// One start: the driver, or what chromedriver printed before it exited or went quiet.
    fn try_start() -> Result<Driver, String> {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own group, so that Drop can kill chromedriver and every Chromium process
            // it started at once, whatever state the test left them in.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (port_tx, port_rx) = mpsc::channel();
        // Owns chromedriver's stdout until EOF (the process exits), so that it never blocks
        // on a full pipe; sends the port once, or everything it printed if it exits first.
        std::thread::spawn(move || {
            let mut printed = Vec::new();
            let mut reported = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let port = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
                match port {
                    Some(port) if !reported => {
                        reported = true;
                        let _ = port_tx.send(Ok(port));
                    }
                    _ if !reported => printed.push(line),
                    _ => {}
                }
            }
            if !reported {
                let _ = port_tx.send(Err(printed.join("\n")));
            }
        });
        match port_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(port)) => Ok(Driver {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                profile,
            }),
            outcome => {
                let _ = child.kill();
                let status = child.wait();
                Err(format!("{outcome:?} ({status:?})"))
            }
        }
    }

    /// `DELETE /session/{id}` with a blocking client: Drop cannot await.
    pub fn delete_session_blocking(&self, session: &str) {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group that
        // `process_group(0)` created for this chromedriver (its pgid is its pid); it touches
        // no memory. The group is still ours: `child` has not been waited for yet, so the
        // pid cannot have been reused.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
