//! The `gateway` binary: `check` diagnostics and exit codes, `run` with JSON logs and
//! graceful exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::support::binary::{BIN, run_with_stdin};
use crate::support::certs::TestCa;
use crate::support::client::{Protocol, TestClient};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn check(config: &Path) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway check");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_reports_config_errors_with_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "[server]\nlisten = \"127.0.0.1:1\"\nlisten_typo = 1\n",
            "3:1: unknown field `listen_typo`",
        ),
        (
            "[server]\nidle_timeout = \"forever\"\n",
            "2:16: invalid duration",
        ),
        (
            "[tls]\ncert = \"x.crt\"\nkey = \"x.key\"\n[[route]]\npath = \"/\"\n",
            "4:1: route has neither upstream nor upstreams",
        ),
        (
            "[tls]\ncert = \"x.crt\"\nkey = \"x.key\"\n[[route]]\nupstream = \"builtin:whoami\"\n[[route]]\npath = \"/\"\nupstream = \"builtin:whoami\"\n",
            "7:8: duplicate route",
        ),
        (
            "[tls]\ncert = \"x.crt\"\nkey = \"x.key\"\n[[route]]\nupstream = \"http//nope\"\n",
            "5:12: invalid upstream URL",
        ),
        (
            "[tls]\ncert = \"missing.crt\"\nkey = \"missing.key\"\n",
            "2:8: cannot load certificate",
        ),
        (
            "[tls]\ncert = \"x.crt\"\nkey = \"x.key\"\nhsts = \"max-age=1y\"\n",
            "4:8: hsts: max-age needs a number of seconds",
        ),
        (
            "[auth]\nissuer = \"https://a.test\"\nsecret_env = \"X\"\n[auth.cookie]\n\
             name = \"__Host-gateway\"\ndomains = [\"example.test\"]\n",
            "5:8: cookie name \"__Host-gateway\": a __Host- cookie may not have a Domain",
        ),
    ];
    for (text, expected) in cases {
        let path = write(dir.path(), "bad.toml", text);
        let (code, _, stderr) = check(&path);
        assert_eq!(code, 1, "{text}\n{stderr}");
        let expected = format!("{}:{expected}", path.display());
        assert!(
            stderr.contains(&expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_accepts_a_valid_config_and_prints_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "gateway.toml",
        "[tls]\ncert = \"dev.crt\"\nkey = \"dev.key\"\ngenerate_self_signed = true\n[[route]]\nhost = \"*.example.test\"\naccess = \"public\"\nupstream = \"builtin:whoami\"\n",
    );
    let (code, stdout, stderr) = check(&path);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("route *.example.test / -> builtin:whoami"),
        "{stdout}"
    );
    assert!(
        !dir.path().join("dev.key").exists(),
        "check must not write files"
    );
}

#[test]
fn shipped_config_is_valid() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let (code, _, stderr) = check(&shipped);
    assert_eq!(code, 0, "{stderr}");
}

/// A port that was free a moment ago, for configs that must name a fixed port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

fn healthcheck(config: &Path) -> i32 {
    Command::new(BIN)
        .arg("healthcheck")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run healthcheck")
        .status
        .code()
        .expect("exit code")
}

#[tokio::test]
async fn run_logs_json_reloads_on_sighup_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    ca.leaf(dir.path(), "server", &["localhost"]);
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:{}\"\n[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n",
        free_port()
    );
    let only_app = format!(
        "{base}[[route]]\nhost = \"app.example.test\"\naccess = \"public\"\nupstream = \"builtin:whoami\"\n"
    );
    let config = write(dir.path(), "gateway.toml", &only_app);
    assert_eq!(healthcheck(&config), 1, "nothing runs yet");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn gateway");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_json = |wanted: &str| -> serde_json::Value {
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .expect("log line");
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if value["message"] == wanted {
                return value;
            }
        }
    };
    let signal = |name: &str| {
        let sent = Command::new("kill")
            .args([name, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    };
    let listening = next_json("listening for https");
    let addr = listening["addr"]
        .as_str()
        .expect("addr")
        .parse()
        .expect("socket addr");
    next_json("listening for admin requests");
    assert_eq!(
        healthcheck(&config),
        0,
        "admin /healthz answers while running"
    );
    let client = TestClient::new(addr, &ca.cert);
    assert_eq!(
        client.get("localhost", "/json-log").await.status,
        404,
        "no route for localhost yet"
    );
    // One event with every field; its span names the request.
    let access = next_json("access");
    assert_eq!(access["path"], "/json-log");
    assert_eq!(access["host"], "localhost");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 404);
    assert!(access["duration_ms"].as_f64().is_some(), "{access}");
    assert!(access["span"]["id"].as_u64().is_some(), "{access}");
    // Over either protocol the request sits inside its connection's span (an HTTP/2
    // stream runs in a task of its own, spawned inside that span).
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let request = Request::get(format!("https://localhost:{}/json-log", addr.port()))
            .header("host", "localhost")
            .body(Full::<Bytes>::default())
            .expect("request");
        assert_eq!(client.send(request, protocol).await.status, 404);
        let access = next_json("access");
        let conn = &access["spans"][0];
        assert_eq!(conn["name"], "conn", "{protocol:?}: {access}");
        assert!(
            conn["peer"]
                .as_str()
                .is_some_and(|peer| peer.starts_with("127.0.0.1:")),
            "{protocol:?}: {access}"
        );
    }

    // SIGHUP with a broken file: refused, the old config keeps serving.
    write(dir.path(), "gateway.toml", "[server\n");
    signal("-HUP");
    next_json("reload refused; the previous configuration keeps serving");
    // SIGHUP with a new route for every host.
    write(
        dir.path(),
        "gateway.toml",
        &format!("{base}[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n"),
    );
    signal("-HUP");
    next_json("configuration reloaded");
    assert_eq!(
        client.get("localhost", "/json-log").await.status,
        200,
        "the new route serves"
    );

    signal("-TERM");
    next_json("stopped");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(healthcheck(&config), 1, "nothing answers after the stop");
}

#[test]
fn check_warns_about_settings_that_work_but_need_attention() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let (code, stdout, _) = check(&shipped);
    assert_eq!(code, 0);
    for expected in [
        "generate_self_signed is on",
        "generate_secret is on",
        "the demo user \"demo\"",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new();
    ca.leaf(dir.path(), "server", &["localhost"]);
    write(
        dir.path(),
        "jwt.secret",
        "0123456789abcdef0123456789abcdef-test-secret",
    );
    for file in ["server.key", "jwt.secret"] {
        std::fs::set_permissions(
            dir.path().join(file),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .expect("chmod");
    }
    let config = write(
        dir.path(),
        "gateway.toml",
        "[auth]\nissuer = \"i\"\nsecret_file = \"jwt.secret\"\nrequire_known_user = false\n\
         [auth.cookie]\nsecure = false\n\
         [tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n\
         [[route]]\npath = \"/api\"\nupstream = \"builtin:whoami\"\n\
         [[route]]\npath = \"/api/status\"\naccess = \"public\"\nupstream = \"builtin:whoami\"\n",
    );
    let (code, stdout, stderr) = check(&config);
    assert_eq!(code, 0, "{stderr}");
    let at = |line_col: &str| format!("warning: {}:{line_col}:", config.display());
    assert!(stdout.contains("secure = false"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{} {}",
            at("3:15"),
            dir.path().join("jwt.secret").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{} {}",
            at("9:7"),
            dir.path().join("server.key").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{} public route * /api/status lies inside protected route * /api",
            at("13:1")
        )),
        "{stdout}"
    );
}

#[test]
fn hash_password_prints_an_argon2id_hash_of_the_line_without_its_newline() {
    use argon2::{PasswordHash, PasswordVerifier};
    let output = run_with_stdin(&["hash-password"], "correct horse\n");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hash = String::from_utf8(output.stdout).expect("utf-8");
    let hash = hash.trim_end();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let parsed = PasswordHash::new(hash).expect("PHC string");
    assert!(
        argon2::Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok()
    );
    assert!(
        argon2::Argon2::default()
            .verify_password(b"correct horse\n", &parsed)
            .is_err()
    );
}

#[test]
fn token_command_mints_a_token_for_a_known_user_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = String::from_utf8(run_with_stdin(&["hash-password"], "pw\n").stdout).expect("utf-8");
    write(
        dir.path(),
        "users.toml",
        &format!(
            "[[user]]\nname = \"svc\"\npassword = \"{}\"\n[[user]]\nname = \"off\"\npassword = \"{}\"\ndisabled = true\n",
            hash.trim(),
            hash.trim()
        ),
    );
    write(
        dir.path(),
        "jwt.secret",
        "0123456789abcdef0123456789abcdef-test-secret",
    );
    let config = write(
        dir.path(),
        "gateway.toml",
        "[auth]\nissuer = \"https://auth.example.test\"\nsecret_file = \"jwt.secret\"\n[users]\nfile = \"users.toml\"\n\
         [tls]\ncert = \"x.crt\"\nkey = \"x.key\"\n",
    );
    let config = config.to_str().expect("utf-8 path");
    let ok = Command::new(BIN)
        .args(["token", "--config", config, "--user", "svc", "--ttl", "1h"])
        .output()
        .expect("run");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let token = String::from_utf8(ok.stdout).expect("utf-8");
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    for refused in ["nobody", "off"] {
        let output = Command::new(BIN)
            .args(["token", "--config", config, "--user", refused])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{refused}");
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("not in the users file or is disabled")
        );
    }
    let bad_ttl = Command::new(BIN)
        .args([
            "token", "--config", config, "--user", "svc", "--ttl", "soon",
        ])
        .output()
        .expect("run");
    assert_eq!(bad_ttl.status.code(), Some(2));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let output = Command::new(BIN).arg("frobnicate").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
}
