//! Configuration from the environment, through the real binary: `GATEWAY_<SECTION>__<KEY>`
//! variables win over the file, `check` lists them without their values, a bad value is
//! reported at its variable, and a reload (SIGHUP) lays the same variables over the re-read
//! file.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::binary::BIN;
use crate::support::certs::TestCa;
use crate::support::client::TestClient;
use crate::support::process::{KillOnDrop, free_addrs, wait_until_accepting};
use crate::support::upstream::closed_port;
use crate::support::within;

const TLS: &str = "[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n";
const AUTH: &str = "[auth]\nissuer = \"gw\"\nsecret_env = \"GATEWAY_JWT_SECRET\"\n\
                    require_known_user = false\n";
const ROUTE: &str = "[[route]]\npath = \"/\"\nupstream = \"builtin:whoami\"\n";

/// Writes `text` as `gateway.toml` beside a certificate of `localhost` (`server.crt`,
/// `server.key`); returns the config's path and the CA clients trust.
fn write_config(dir: &Path, text: &str) -> (std::path::PathBuf, TestCa) {
    let ca = TestCa::new();
    ca.leaf(dir, "server", &["localhost"]);
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).expect("write config");
    (path, ca)
}

fn check(config: &Path, vars: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .env_remove("GATEWAY_CONFIG")
        .env("GATEWAY_JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .envs(vars.iter().copied())
        .output()
        .expect("run gateway check")
}

#[tokio::test]
async fn check_lists_the_keys_from_the_environment_and_never_their_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _) = write_config(dir.path(), &format!("{TLS}{AUTH}{ROUTE}"));
    let redis = format!("redis://:hunter2@{}/0", closed_port().await);
    let output = check(
        &config,
        &[
            ("GATEWAY_AUTH__TOKEN_TTL", "1h"),
            ("GATEWAY_STATE__STORE", "redis"),
            ("GATEWAY_STATE__REDIS_URL", &redis),
            ("GATEWAY_LOG_FORMAT", "text"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "from the environment: auth.token_ttl (GATEWAY_AUTH__TOKEN_TTL)",
        "from the environment: state.redis_url (GATEWAY_STATE__REDIS_URL)",
        "from the environment: state.store (GATEWAY_STATE__STORE)",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn a_bad_value_is_reported_at_its_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _) = write_config(dir.path(), &format!("{TLS}{AUTH}{ROUTE}"));
    for (variable, value, message) in [
        (
            "GATEWAY_AUTH__TOKEN_TTL",
            "forever",
            "GATEWAY_AUTH__TOKEN_TTL: invalid duration \"forever\"",
        ),
        (
            "GATEWAY_SERVER__LISTEN_TYPO",
            "1",
            "GATEWAY_SERVER__LISTEN_TYPO: unknown field `listen_typo`",
        ),
        (
            "GATEWAY_ROUTE__UPSTREAM",
            "http://127.0.0.1:1",
            "GATEWAY_ROUTE__UPSTREAM: [[route]] is an array of tables, which the environment \
             cannot address",
        ),
    ] {
        let output = check(&config, &[(variable, value)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{variable}: {stderr}");
        assert!(stderr.contains(message), "{variable}: {stderr}");
    }
}

#[tokio::test]
async fn the_environment_wins_at_run_time_and_again_after_a_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let [file_addr, env_addr, admin_addr] = free_addrs::<3>();
    let base = format!(
        "[server]\nlisten = \"{file_addr}\"\n{TLS}hsts = \"max-age=5\"\n\
         [[route]]\npath = \"/old\"\naccess = \"public\"\nupstream = \"builtin:whoami\"\n"
    );
    let (config, ca) = write_config(dir.path(), &base);
    let log = dir.path().join("gateway.log");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env_remove("GATEWAY_CONFIG")
        .env("GATEWAY_SERVER__LISTEN", env_addr.to_string())
        .env("GATEWAY_TLS__HSTS", "max-age=60")
        .env("GATEWAY_SERVER__ADMIN_LISTEN", admin_addr.to_string())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::fs::File::create(dir.path().join("gateway.err")).expect("log"))
        .spawn()
        .expect("run gateway");
    let mut child = KillOnDrop::new(child);
    assert!(
        wait_until_accepting(&mut child, env_addr, "gateway", &log).await,
        "the gateway did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let client = TestClient::new(env_addr, &ca.cert);
    let response = client.get("localhost", "/old").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["strict-transport-security"], "max-age=60");
    // `gateway healthcheck` finds the admin listener where the environment put it.
    let healthcheck = |admin: Option<String>| {
        let mut command = Command::new(BIN);
        command
            .args(["healthcheck", "--config"])
            .arg(&config)
            .env_remove("GATEWAY_CONFIG")
            .env_remove("GATEWAY_SERVER__ADMIN_LISTEN");
        if let Some(admin) = admin {
            command.env("GATEWAY_SERVER__ADMIN_LISTEN", admin);
        }
        command.status().expect("run healthcheck").code()
    };
    assert_eq!(healthcheck(Some(admin_addr.to_string())), Some(0));
    assert_eq!(
        healthcheck(None),
        Some(1),
        "the file names no admin listener"
    );

    std::fs::write(&config, base.replace("/old", "/new")).expect("rewrite config");
    let sent = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    within(async {
        while client.get("localhost", "/new").await.status != 200 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    let response = client.get("localhost", "/new").await;
    assert_eq!(response.headers["strict-transport-security"], "max-age=60");
}
