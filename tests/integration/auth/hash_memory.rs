//! argon2's memory through a login flood, measured on the real binary's `/proc/PID/status`:
//! the peak stays within one argon2 area per hash worker (plus a margin for everything
//! else), and the memory goes back to the kernel once the flood is over.
//!
//! Each argon2id hash with the default parameters works in 19 MiB. Before the hash workers
//! kept and released that memory themselves, glibc's malloc kept it in per-thread arenas:
//! 200 concurrent wrong-password logins left the gateway hundreds of MiB larger for good.

use std::time::Duration;

use argon2::Params;

use crate::support::binary::GatewayBinary;
use crate::support::client::TestClient;
use crate::support::raw::raw;
use crate::support::users::{default_argon2id, hash_password};

/// Concurrent wrong-password logins in the flood.
const FLOOD: usize = 200;
/// The margin the issue allows above the hash workers' argon2 memory, in KiB.
const MARGIN_KIB: u64 = 64 * 1024;
/// How close to its pre-flood size the gateway must come back, in KiB.
const BACK_WITHIN_KIB: u64 = 20 * 1024;
/// Generous bounds for a loaded machine: hashing runs under `SCHED_IDLE`, so it gets only
/// the CPU nothing else wants.
const FLOOD_TIMEOUT: Duration = Duration::from_secs(600);
const RELEASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A JSON login for `user` from `client_ip` (the gateway trusts the loopback proxy's
/// `X-Forwarded-For`, so that per-address limits see many clients), answered on its own TLS
/// connection; the status code.
async fn login(client: &TestClient, user: &str, password: &str, client_ip: &str) -> u16 {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let request = format!(
        "POST /.auth/login HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nX-Forwarded-For: {client_ip}\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Bounded by the flood's own bound: queued logins wait their turn.
    let text = raw(client, request.as_bytes(), FLOOD_TIMEOUT).await.text();
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_holds_one_argon2_area_per_hash_worker_and_gives_the_memory_back() {
    let users = format!(
        "[[user]]\nname = \"alice\"\npassword = \"{}\"\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{}\"\n\n\
         [[user]]\nname = \"warm\"\npassword = \"{}\"\n",
        default_argon2id("alice-pw"),
        default_argon2id("bob-pw"),
        // A cheap hash, to warm the login path up without an argon2 area.
        hash_password("warm-pw"),
    );
    let gateway = GatewayBinary::start(
        "trusted_proxies = [\"127.0.0.1\"]",
        "[auth]\nissuer = \"https://localhost\"\nsecret_file = \"jwt.secret\"\n\
         [users]\nfile = \"users.toml\"\nmax_failures = 1000000\n\
         [[route]]\npath = \"/\"\nupstream = \"builtin:whoami\"\n",
        &[
            ("users.toml", users.as_bytes()),
            (
                "jwt.secret",
                b"hash-memory-test-secret-0123456789-abcdefghijklmnop\n",
            ),
        ],
    )
    .await;
    let client = gateway.client();
    assert_eq!(login(&client, "warm", "warm-pw", "10.255.0.1").await, 200);
    assert_eq!(login(&client, "warm", "wrong", "10.255.0.1").await, 401);
    let before = gateway.status_kib("VmRSS");

    // The flood: wrong passwords for known users and unknown ones (whose dummy hash has the
    // same cost), each from its own address.
    let logins: Vec<_> = (0..FLOOD)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                let user = match n % 3 {
                    0 => "alice".to_owned(),
                    1 => "bob".to_owned(),
                    _ => format!("nobody-{n}"),
                };
                let ip = format!("10.0.{}.{}", n / 250, n % 250 + 1);
                login(&client, &user, &format!("wrong-{n}"), &ip).await
            })
        })
        .collect();
    let statuses = tokio::time::timeout(FLOOD_TIMEOUT, async {
        let mut statuses = Vec::with_capacity(FLOOD);
        for login in logins {
            statuses.push(login.await.expect("login task"));
        }
        statuses
    })
    .await
    .expect("the flood is answered");
    let hashed = statuses.iter().filter(|&&status| status == 401).count();
    assert!(
        statuses
            .iter()
            .all(|status| [401, 429, 503].contains(status)),
        "wrong passwords are refused (or shed by a queue bound): {statuses:?}"
    );
    assert!(
        hashed >= FLOOD / 2,
        "most of the flood was hashed: {statuses:?}"
    );

    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u64;
    let argon2_kib = u64::from(Params::DEFAULT_M_COST);
    let peak = gateway.status_kib("VmHWM");
    let bound = workers * argon2_kib + MARGIN_KIB;
    assert!(
        peak <= bound,
        "peak RSS {peak} KiB > {workers} workers × {argon2_kib} KiB + {MARGIN_KIB} KiB"
    );

    // Back to (about) the size before the flood once the workers are idle.
    let released = tokio::time::timeout(RELEASE_TIMEOUT, async {
        loop {
            let now = gateway.status_kib("VmRSS");
            if now <= before + BACK_WITHIN_KIB {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let now = gateway.status_kib("VmRSS");
    assert!(
        released.is_ok(),
        "RSS {now} KiB after the flood, {before} KiB before it (peak {peak} KiB)"
    );
}
