//! `gateway totp enroll|disable`: the binary edits a commented users file in place, the
//! printed `otpauth://` URI carries the stored secret (read back by pyotp), and a reload
//! of the running gateway picks the change up.

use std::process::Command;

use serde_json::json;

use crate::support::binary::BIN;
use crate::support::env::Env;
use crate::support::requests::Req;
use crate::support::tokens::token_part;
use crate::support::totp::{Clock, DAVE_PASSWORD, env_2fa, pyotp_uri_secret};

const APP1: &str = "app1.example.test";

fn totp(env: &Env, action: &str, user: &str) -> String {
    let output = Command::new(BIN)
        .args(["totp", action, "--user", user, "--config"])
        .arg(&env.gateway.config_path)
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway totp");
    assert!(
        output.status.success(),
        "gateway totp {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn reload(env: &Env) {
    env.gateway
        .gateway
        .reload_from(&env.gateway.config_path, &|_| None)
        .expect("reload");
}

#[tokio::test]
async fn enroll_edits_the_commented_file_prints_the_secret_and_reload_applies_it() {
    let env = env_2fa(|c| c).await;
    let users_path = env.gateway.config_path.with_file_name("users.toml");
    let original = std::fs::read_to_string(&users_path).expect("users");
    let commented = original.replace(
        "name = \"dave\"\n",
        "name = \"dave\" # the on-call admin\n# dave's groups:\n",
    );
    assert_ne!(commented, original);
    std::fs::write(&users_path, &commented).expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&users_path, mode).expect("chmod");
    }

    let printed = totp(&env, "enroll", "dave");
    let edited = std::fs::read_to_string(&users_path).expect("users");
    for comment in [
        "# Users of the test gateway.",
        "# the on-call admin",
        "# dave's groups:",
    ] {
        assert!(edited.contains(comment), "{comment} lost:\n{edited}");
    }
    let uri = printed
        .lines()
        .find(|line| line.starts_with("otpauth://totp/"))
        .expect("uri printed");
    let secret = pyotp_uri_secret(uri);
    assert!(edited.contains(&format!("totp = \"{secret}\"")), "{edited}");
    assert!(uri.contains("issuer=auth.example.test"), "{uri}");
    let codes: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| l.len() == 11 && l.as_bytes()[5] == b'-')
        .collect();
    assert_eq!(codes.len(), 10, "{printed}");
    assert!(!edited.contains(codes[0]), "only hashes are stored");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&users_path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "permissions kept");
    }
    // Everything else is untouched: dave's entry gained two lines, nothing else changed.
    let added: Vec<&str> = edited
        .lines()
        .filter(|line| !commented.lines().any(|old| old == *line))
        .collect();
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(added[0].starts_with("totp = ") && added[1].starts_with("recovery_codes = ["));
    let kept: Vec<&str> = edited
        .lines()
        .filter(|line| !added.contains(line))
        .collect();
    assert_eq!(kept, commented.lines().collect::<Vec<_>>());

    // `gateway check` now warns when the file that holds the secrets is group-readable.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(&users_path, mode).expect("chmod");
        let (_, output) = crate::support::binary::check(&env.gateway.config_path);
        assert!(
            output.contains("users.toml is readable by group or others"),
            "{output}"
        );
        let mode = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&users_path, mode).expect("chmod");
        let (_, output) = crate::support::binary::check(&env.gateway.config_path);
        assert!(!output.contains("users.toml is readable"), "{output}");
    }

    // Before the reload, dave still signs in with the password alone.
    let before_reload = env.login_json(APP1, "dave", DAVE_PASSWORD).await;
    assert_eq!(before_reload.status, 200, "{}", before_reload.text());
    reload(&env);
    let password_step = env.login_json(APP1, "dave", DAVE_PASSWORD).await;
    assert_eq!(password_step.status, 401, "{}", password_step.text());
    let challenge = password_step.json()["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let code = Clock::now().current(&secret);
    let done = env
        .send(
            Req::post(APP1, "/.auth/login").json(&json!({ "challenge": challenge, "code": code })),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let token = done.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(token_part(&token, 1)["amr"], json!(["pwd", "otp"]));
    // A printed recovery code works too.
    let password_step = env.login_json(APP1, "dave", DAVE_PASSWORD).await;
    let challenge = password_step.json()["challenge"]
        .as_str()
        .expect("c")
        .to_owned();
    let recovered = env
        .send(
            Req::post(APP1, "/.auth/login")
                .json(&json!({ "challenge": challenge, "recovery_code": codes[3] })),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.text());
    // The spent code is struck from the file: after a reload (or a restart) it stays spent.
    let struck = std::fs::read_to_string(&users_path).expect("users");
    let hashes = |text: &str| text.matches("$argon2id$").count();
    assert_eq!(hashes(&struck), hashes(&edited) - 1, "{struck}");
    assert!(
        struck.contains("# the on-call admin"),
        "comments kept: {struck}"
    );
    reload(&env);
    let password_step = env.login_json(APP1, "dave", DAVE_PASSWORD).await;
    let challenge = password_step.json()["challenge"]
        .as_str()
        .expect("c")
        .to_owned();
    let reused = env
        .send(
            Req::post(APP1, "/.auth/login")
                .json(&json!({ "challenge": challenge, "recovery_code": codes[3] })),
        )
        .await;
    assert_eq!(reused.status, 401, "{}", reused.text());

    // Disable: the keys go, the comments stay, and after a reload the password suffices.
    totp(&env, "disable", "dave");
    let disabled = std::fs::read_to_string(&users_path).expect("users");
    assert_eq!(disabled, commented, "disable restores the file as it was");
    reload(&env);
    let password_only = env.login_json(APP1, "dave", DAVE_PASSWORD).await;
    assert_eq!(password_only.status, 200, "{}", password_only.text());
}

#[test]
fn enroll_refuses_an_unknown_user_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = "# keep me\n[[user]]\nname = \"alice\"\npassword = \"$2y$05$abcdefghijklmnopqrstuu5h2Qh0b/8s0k7W6l6v5fQ2n1e3y5bW2\"\n";
    std::fs::write(dir.path().join("users.toml"), users).expect("users");
    std::fs::write(
        dir.path().join("gateway.toml"),
        "[tls]\ncert = \"c.crt\"\nkey = \"c.key\"\n[auth]\nissuer = \"https://a.example\"\n\
         secret_file = \"jwt.secret\"\n[users]\nfile = \"users.toml\"\n",
    )
    .expect("config");
    let output = Command::new(BIN)
        .args(["totp", "enroll", "--user", "mallory", "--config"])
        .arg(dir.path().join("gateway.toml"))
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("\"mallory\" is not in the users file"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("users.toml")).expect("users"),
        users
    );
}
