//! The docker-compose example and the image's contract as the deploy tests use them: the
//! example's files, a copy of its folder with the files its README has users create, and
//! the real binary run the way the image runs it (`GATEWAY_CONFIG`, `WORKDIR`, its
//! `HEALTHCHECK`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::binary::{BIN, run_with_stdin};
use super::certs::TestCa;
use super::process::KillOnDrop;
use super::{STEP_TIMEOUT, within};

pub const CARGO_TOML: &str = include_str!("../../../Cargo.toml");
pub const COMPOSE_YAML: &str = include_str!("../../../examples/docker-compose/compose.yaml");
pub const COMPOSE_GATEWAY_TOML: &str =
    include_str!("../../../examples/docker-compose/gateway.toml");
pub const COMPOSE_USERS_EXAMPLE: &str =
    include_str!("../../../examples/docker-compose/users.toml.example");

/// The compose example's folder, as users copy it.
pub fn compose_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/docker-compose")
}

/// `[[bin]] name` from Cargo.toml.
pub fn cargo_bin_name() -> String {
    let manifest: toml::Table = toml::from_str(CARGO_TOML).expect("Cargo.toml parses");
    let bins = manifest["bin"].as_array().expect("[[bin]] in Cargo.toml");
    assert_eq!(bins.len(), 1, "one [[bin]] expected: {bins:?}");
    bins[0]["name"].as_str().expect("bin name").to_owned()
}

pub fn compose_gateway_config() -> toml::Table {
    toml::from_str(COMPOSE_GATEWAY_TOML).expect("examples/docker-compose/gateway.toml parses")
}

/// The listeners of the compose example's gateway.toml: https, redirect, admin.
pub fn compose_listeners() -> [SocketAddr; 3] {
    let config = compose_gateway_config();
    let server = config["server"].as_table().expect("[server]");
    ["listen", "redirect_http", "admin_listen"].map(|key| {
        server
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("compose gateway.toml: [server] {key} is required"))
            .parse()
            .unwrap_or_else(|e| panic!("[server] {key}: {e}"))
    })
}

/// A copy of the compose example folder with the files its README has users create:
/// `certs/example.test.{crt,key}`, `secrets/jwt.secret` (0600), and `users.toml` from
/// `users.toml.example` with hashes made by the real `gateway hash-password`. Returns the
/// folder and the CA that signed the certificate.
pub fn compose_folder_with_user_files() -> (tempfile::TempDir, TestCa) {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["gateway.toml", "users.toml.example", "compose.yaml"] {
        std::fs::copy(compose_dir().join(name), dir.path().join(name)).expect("copy example");
    }
    let config = compose_gateway_config();
    let path_of = |value: &toml::Value| dir.path().join(value.as_str().expect("path"));

    // Step 2: one certificate for both hosts.
    let cert = path_of(&config["tls"]["cert"]);
    let key = path_of(&config["tls"]["key"]);
    std::fs::create_dir_all(cert.parent().expect("certs folder")).expect("mkdir certs");
    let ca = TestCa::new();
    let leaf = ca.leaf(
        cert.parent().expect("certs folder"),
        "leaf",
        &["app1.example.test", "app2.example.test"],
    );
    std::fs::rename(&leaf.cert, &cert).expect("place cert");
    std::fs::rename(&leaf.key, &key).expect("place key");
    set_mode(&key, 0o600);

    // Step 3: the JWT secret, like `openssl rand -base64 48`.
    let secret = path_of(&config["auth"]["secret_file"]);
    std::fs::create_dir_all(secret.parent().expect("secrets folder")).expect("mkdir secrets");
    std::fs::write(
        &secret,
        "q3V9bW0k3JmHqYw0u4c1rVxN2sT8pLzA6eGf5hDjKiOnRtUyXwZ7aBcE9dF2gH4j\n",
    )
    .expect("write secret");
    set_mode(&secret, 0o600);

    // Step 4: users.toml from the example, with real hashes.
    let output = run_with_stdin(&["hash-password"], "a long example password\n");
    assert!(output.status.success(), "{output:?}");
    let hash = String::from_utf8(output.stdout).expect("utf-8");
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let mut replaced = 0;
    let users: String = COMPOSE_USERS_EXAMPLE
        .lines()
        .map(|line| {
            if line.starts_with("password = ") && line.contains("REPLACE") {
                replaced += 1;
                format!("password = \"{hash}\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!(
        replaced, 2,
        "users.toml.example: two users with placeholder hashes"
    );
    let users_file = path_of(&config["users"]["file"]);
    std::fs::write(&users_file, users).expect("write users.toml");
    (dir, ca)
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn output_text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A `gateway` child process; killed on drop.
pub struct ImageProcess {
    pub child: KillOnDrop,
    pub log: PathBuf,
}

impl ImageProcess {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

/// Runs `gateway <args>` as the image does: config from `GATEWAY_CONFIG`, in the config's
/// folder.
pub fn image_command(folder: &Path, args: &[String]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(folder)
        .env("GATEWAY_CONFIG", folder.join("gateway.toml"))
        .env("RUST_LOG", "info");
    command
}

/// Runs `command` to completion on the blocking pool.
pub async fn output_of(mut command: Command) -> std::io::Result<Output> {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("command task")
}

/// Runs the image's HEALTHCHECK command until it exits `0` (true), or until `gateway`
/// exits or `STEP_TIMEOUT` passes (false).
pub async fn healthcheck_passes(
    folder: &Path,
    healthcheck: &[String],
    gateway: &mut ImageProcess,
) -> bool {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let output = within(output_of(image_command(folder, healthcheck)))
            .await
            .expect("run healthcheck");
        if output.status.success() {
            return true;
        }
        let exited = gateway.child.try_wait().expect("try_wait").is_some();
        if exited || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
