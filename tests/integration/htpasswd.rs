//! `[users] htpasswd` through the real binary, with files made by the real `htpasswd`
//! tool: bcrypt users sign in with their groups, a reload (SIGHUP) picks up a new user,
//! and an MD5 (`$apr1$`) line is refused by `check` at its position.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::binary::BIN;
use crate::support::certs::TestCa;
use crate::support::client::{Protocol, TestClient};
use crate::support::process::{GatewayProcess, tool};
use crate::support::requests::{Req, login_json};
use crate::support::within;

/// Runs `htpasswd` with `args` on `file` (created with `-c` when `create`).
fn htpasswd(file: &Path, args: &[&str], user: &str, password: &str) {
    let status = Command::new(tool("htpasswd"))
        .args(args)
        .arg(file)
        .args([user, password])
        .status()
        .expect("run htpasswd");
    assert!(status.success(), "htpasswd {args:?} failed");
}

fn config(htpasswd: &Path) -> String {
    format!(
        "[auth]\nissuer = \"gw\"\nsecret_file = \"jwt.secret\"\ngenerate_secret = true\n\
         [users]\nhtpasswd = \"{}\"\nhtpasswd_groups = [\"users\", \"staff\"]\n\
         [[route]]\nupstream = \"builtin:whoami\"\n",
        htpasswd.display()
    )
}

/// Signs `user` in on `client`; `None` when refused.
async fn sign_in(client: &TestClient, user: &str, password: &str) -> Option<String> {
    let response = login_json(client, "localhost", user, password).await;
    (response.status == 200).then(|| {
        response.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    })
}

#[tokio::test]
async fn bcrypt_users_of_an_htpasswd_file_sign_in_with_its_groups_and_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.htpasswd");
    htpasswd(&file, &["-cbB"], "alice", "alice-password");
    let gateway = GatewayProcess::start("", &config(&file)).await;
    let client = gateway.client();

    let token = sign_in(&client, "alice", "alice-password")
        .await
        .unwrap_or_else(|| panic!("alice signs in: {}", gateway.log()));
    let echoed = client
        .send(
            Req::get("localhost", "/who").bearer(&token).build(),
            Protocol::Http1,
        )
        .await;
    assert_eq!(echoed.status, 200);
    let seen = echoed.text();
    assert!(seen.contains("x-forwarded-user: alice\n"), "{seen}");
    assert!(seen.contains("x-forwarded-groups: users,staff\n"), "{seen}");
    assert!(sign_in(&client, "alice", "wrong").await.is_none());
    assert!(sign_in(&client, "bob", "bob-password").await.is_none());

    // A user added to the file signs in after a reload.
    htpasswd(&file, &["-bB"], "bob", "bob-password");
    let sent = Command::new("kill")
        .args(["-HUP", &gateway.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    within(async {
        while sign_in(&client, "bob", "bob-password").await.is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[test]
fn check_refuses_an_md5_line_at_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.htpasswd");
    htpasswd(&file, &["-cbB"], "alice", "alice-password");
    htpasswd(&file, &["-bm"], "bob", "bob-password");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        text.contains("bob:$apr1$"),
        "htpasswd -m writes MD5: {text}"
    );
    TestCa::new().leaf(dir.path(), "server", &["localhost"]);
    let config_path = dir.path().join("gateway.toml");
    std::fs::write(
        &config_path,
        format!(
            "{}[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n",
            config(&file)
        ),
    )
    .expect("write config");
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config_path)
        .output()
        .expect("run gateway check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:5: password of user \"bob\" is not a bcrypt or argon2 hash",
            file.display()
        )),
        "{stderr}"
    );
    let hash = text
        .lines()
        .find_map(|line| line.strip_prefix("bob:"))
        .expect("bob's line");
    assert!(
        !stderr.contains(hash),
        "the hash is never printed: {stderr}"
    );
}
