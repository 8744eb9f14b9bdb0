//! `gateway explain`: the real binary on a real config and users file; what it prints and
//! its exit codes (0 allowed, 3 denied, 1 error).

use std::path::Path;
use std::process::Command;

use crate::support::binary::BIN;
use crate::support::users::{ALICE_PASSWORD, hash_password};

/// Routes: `/admin` on app1 for GET/HEAD to ops or example.test emails from 10.0.0.0/8;
/// everything else on the wildcard for any signed-in user; `/status` public on any host.
const CONFIG: &str = r#"[tls]
cert = "c.pem"
key = "k.pem"
generate_self_signed = true

[auth]
issuer = "https://auth.example.test"
secret_file = "jwt.secret"
generate_secret = true

[users]
file = "users.toml"

[[route]]
host = "app1.example.test"
path = "/admin"
methods = ["GET", "HEAD"]
networks = ["10.0.0.0/8"]
access = { groups = ["ops"], email_domains = ["example.test"] }
upstream = "builtin:whoami"

[[route]]
host = "*.example.test"
upstream = "builtin:whoami"

[[route]]
path = "/status"
access = "public"
upstream = "builtin:whoami"
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("gateway.toml"), CONFIG).expect("config");
    let users = format!(
        "[[user]]\nname = \"alice\"\npassword = '{}'\ngroups = [\"admins\"]\nemail = \"alice@example.test\"\n\n\
         [[user]]\nname = \"bob\"\npassword = '{}'\ngroups = [\"dev\"]\n",
        hash_password(ALICE_PASSWORD),
        hash_password(ALICE_PASSWORD)
    );
    std::fs::write(dir.path().join("users.toml"), users).expect("users");
    dir
}

/// `gateway explain --config DIR/gateway.toml ARGS`: exit code and stdout (stderr on
/// failure).
fn explain(dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(BIN)
        .arg("explain")
        .arg("--config")
        .arg(dir.join("gateway.toml"))
        .args(args)
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway explain");
    let code = output.status.code().expect("exit code");
    let out = if code == 1 {
        String::from_utf8_lossy(&output.stderr).into_owned()
    } else {
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    (code, out)
}

fn assert_lines(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(out.contains(line), "expected {line:?} in:\n{out}");
    }
}

#[test]
fn explain_shows_the_normalized_target_the_route_and_the_rule_that_allows() {
    let dir = setup();
    let config = dir.path().join("gateway.toml").display().to_string();
    let (code, out) = explain(
        dir.path(),
        &[
            "https://APP1.example.test:8443/x/../admin/%7Eops",
            "--user",
            "alice",
            "--from",
            "10.1.2.3",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_lines(
        &out,
        &[
            "host:     app1.example.test\n",
            "path:     /admin/~ops\n",
            "client:   10.1.2.3\n",
            "user:     alice (groups admins; email alice@example.test; second factor none)\n",
            &format!(
                "  {config}:14:1: exact host app1.example.test, prefix /admin, GET, HEAD — chosen\n"
            ),
            &format!(
                "  {config}:22:1: wildcard host *.example.test, prefix /, all methods — not reached\n"
            ),
            "access:   groups ops; email domains example.test\n",
            "networks: 10.0.0.0/8\n",
            "decision: allowed: email domain \"example.test\" is listed\n",
        ],
    );
}

#[test]
fn explain_says_which_check_denies_and_exits_3() {
    let dir = setup();
    let config = dir.path().join("gateway.toml").display().to_string();
    let cases: [(&[&str], &[&str]); 6] = [
        // Outside the route's networks, whoever it is.
        (
            &[
                "https://app1.example.test/admin",
                "--user",
                "alice",
                "--from",
                "192.0.2.1",
            ],
            &[
                "decision: denied: 403 network_not_allowed: 192.0.2.1 is outside the route's networks\n",
            ],
        ),
        // Inside, but bob is neither in ops nor at example.test.
        (
            &[
                "https://app1.example.test/admin",
                "--user",
                "bob",
                "--from",
                "10.0.0.1",
            ],
            &[
                "user:     bob (groups dev; email none; second factor none)\n",
                "decision: denied: 403 forbidden: no listed user, group or email domain matches\n",
            ],
        ),
        // POST is not the /admin route's: the wildcard route takes it, and needs a login.
        (
            &["https://app1.example.test/admin", "--method", "POST"],
            &[
                "user:     none (not signed in)\n",
                &format!(
                    "  {config}:14:1: exact host app1.example.test, prefix /admin, GET, HEAD — skipped: not for this method\n"
                ),
                &format!(
                    "route:    {config}:22:1 (wildcard host *.example.test, prefix /, all methods)\n"
                ),
                "decision: denied: 401 unauthorized (a browser is sent to the login page): the route needs a signed-in user\n",
            ],
        ),
        // An unknown user is refused like a missing one.
        (
            &["https://app2.example.test/", "--user", "mallory"],
            &[
                "user:     mallory is unknown: not in the users file, so their tokens are refused (require_known_user)\n",
                "decision: denied: 401 unauthorized",
            ],
        ),
        // No route at all.
        (
            &["https://other.test/x", "--user", "alice"],
            &[
                "  none\n",
                "decision: denied: 404 not_found: no route matches\n",
            ],
        ),
        // A path whose two readings reach different routes.
        (
            &["https://app1.example.test/ADMIN", "--user", "alice"],
            &["decision: denied: 400 bad_request"],
        ),
    ];
    for (args, lines) in cases {
        let (code, out) = explain(dir.path(), args);
        assert_eq!(code, 3, "{args:?}\n{out}");
        assert_lines(&out, lines);
    }
    // Public needs nobody; the gateway's own endpoints are its own.
    let (code, out) = explain(dir.path(), &["https://any.host.test/status"]);
    assert_eq!(code, 0, "{out}");
    assert_lines(&out, &["decision: allowed: the route is public\n"]);
    let (code, out) = explain(dir.path(), &["https://app1.example.test/.auth/login"]);
    assert_eq!(code, 0, "{out}");
    assert_lines(&out, &["decision: allowed: served by the gateway itself\n"]);
}

#[test]
fn explain_exits_1_on_a_bad_url_or_config() {
    let dir = setup();
    for (args, message) in [
        (&["app1.example.test/admin"][..], "not a URL"),
        (
            &["ftp://app1.example.test/"][..],
            "expected an https:// (or http://) URL",
        ),
        (&["https://app1.example.test/a%2Fb"][..], "cannot explain"),
        (&["https:///x"][..], "cannot explain"),
        (
            &["https://app1.example.test/", "--method", "GE T"][..],
            "not an HTTP method",
        ),
    ] {
        let (code, out) = explain(dir.path(), args);
        assert!(code == 1 || code == 2, "{args:?}: {code}\n{out}");
        let output = Command::new(BIN)
            .arg("explain")
            .arg("--config")
            .arg(dir.path().join("gateway.toml"))
            .args(args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    std::fs::write(
        dir.path().join("gateway.toml"),
        CONFIG.replace("methods = [\"GET\", \"HEAD\"]", "methods = [\"get\"]"),
    )
    .expect("config");
    let (code, out) = explain(dir.path(), &["https://app1.example.test/"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("gateway.toml:17:12: route methods has \"get\""),
        "{out}"
    );
}
