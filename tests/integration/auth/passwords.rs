//! Password and user-name rules, through the real binary: bcrypt's 72-byte limit for an
//! `htpasswd -B` users file (refused, and logged without the password), user names in any
//! Unicode normalization form, and `gateway check`'s warning about look-alike names.

use crate::support::binary::{GatewayBinary, check};
use crate::support::client::Protocol;
use crate::support::requests::{Req, login_json};
use crate::support::users::{hash_password, htpasswd_bcrypt};

/// The config around a users file (`users.toml`), with one route behind a login.
const CONFIG: &str = "[auth]\nissuer = \"https://localhost\"\nsecret_file = \"jwt.secret\"\n\
     [auth.cookie]\nsecure = true\n\
     [users]\nfile = \"users.toml\"\nmax_failures = 100\n\
     [[route]]\npath = \"/\"\nupstream = \"builtin:whoami\"\naccess = \"authenticated\"\n";

const SECRET: &[u8] = b"passwords-test-secret-0123456789-abcdefghijklmnopqrstuv\n";

async fn start(users: &str) -> GatewayBinary {
    GatewayBinary::start(
        "",
        CONFIG,
        &[("users.toml", users.as_bytes()), ("jwt.secret", SECRET)],
    )
    .await
}

#[tokio::test]
async fn a_password_past_bcrypts_72_bytes_is_refused_and_the_log_says_why() {
    let password: String = "correct-horse-battery-staple-".repeat(3)[..72].to_owned();
    let users = format!(
        "[[user]]\nname = \"bob\"\npassword = \"{}\"\n",
        htpasswd_bcrypt("bob", &password)
    );
    let gateway = start(&users).await;
    // Control: the 72 bytes bcrypt hashed sign in.
    let ok = login_json(&gateway.client(), "localhost", "bob", &password).await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    // bcrypt alone compares only those 72 bytes: anything after them used to sign in too.
    let longer = format!("{password}-and-anything-at-all");
    let refused = login_json(&gateway.client(), "localhost", "bob", &longer).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(
        refused.json()["error"],
        "invalid_credentials",
        "like a wrong password"
    );

    let warnings = gateway
        .wait_for_log(|line| line["level"] == "WARN" && line["user"] == "bob")
        .await;
    let failed = gateway
        .wait_for_log(|line| line["message"] == "login failed" && line["user"] == "bob")
        .await;
    let log = gateway.log();
    assert_eq!(warnings.len(), 1, "one warning for the one refusal:\n{log}");
    assert!(
        failed[0]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("72 bytes")),
        "{log}"
    );
    let message = warnings[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("72 bytes"), "{message}");
    assert!(
        !log.contains(&password[..20]),
        "the password is never logged:\n{log}"
    );
}

/// "josé" written with a precomposed é (NFC) and with e + a combining accent (NFD).
const JOSE_NFC: &str = "jos\u{e9}";
const JOSE_NFD: &str = "jose\u{301}";
const RENE_NFC: &str = "ren\u{e9}";
const RENE_NFD: &str = "rene\u{301}";

/// The user a token was issued to, as `/.auth/me` names it.
async fn me(gateway: &GatewayBinary, token: &str) -> String {
    let request = Req::get("localhost", "/.auth/me").bearer(token).build();
    let response = gateway.client().send(request, Protocol::Http1).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["user"].as_str().expect("user").to_owned()
}

#[tokio::test]
async fn a_user_name_signs_in_whichever_unicode_form_file_and_keyboard_use() {
    // José's name is written decomposed in the file, René's composed.
    let users = format!(
        "[[user]]\nname = \"{JOSE_NFD}\"\npassword = \"{}\"\n\n\
         [[user]]\nname = \"{RENE_NFC}\"\npassword = \"{}\"\n",
        hash_password("jose-pw"),
        hash_password("rene-pw"),
    );
    let gateway = start(&users).await;
    for (typed, password, canonical) in [
        (JOSE_NFC, "jose-pw", JOSE_NFC),
        (JOSE_NFD, "jose-pw", JOSE_NFC),
        (RENE_NFD, "rene-pw", RENE_NFC),
        (RENE_NFC, "rene-pw", RENE_NFC),
    ] {
        let response = login_json(&gateway.client(), "localhost", typed, password).await;
        assert_eq!(response.status, 200, "{typed:?}: {}", response.text());
        let token = response.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_eq!(me(&gateway, &token).await, canonical, "tokens carry NFC");
    }
    // Control: the name still has to be the name.
    assert_eq!(
        login_json(&gateway.client(), "localhost", "jose", "jose-pw")
            .await
            .status,
        401
    );
    assert_eq!(
        login_json(&gateway.client(), "localhost", JOSE_NFC, "rene-pw")
            .await
            .status,
        401
    );
}

#[test]
fn gateway_check_warns_about_user_names_that_differ_only_in_case_or_compatibility_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = hash_password("pw");
    let users = format!(
        "[[user]]\nname = \"admin\"\npassword = \"{hash}\"\n\n\
         [[user]]\nname = \"Admin\"\npassword = \"{hash}\"\n\n\
         [[user]]\nname = \"\u{ff41}dmin\"\npassword = \"{hash}\"\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{hash}\"\n"
    );
    std::fs::write(dir.path().join("users.toml"), users).expect("users");
    std::fs::write(dir.path().join("jwt.secret"), SECRET).expect("secret");
    let ca = crate::support::certs::TestCa::new();
    ca.leaf(dir.path(), "server", &["localhost"]);
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!("{CONFIG}[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n"),
    )
    .expect("config");
    let (code, output) = check(&config);
    assert_eq!(code, Some(0), "a warning, not an error:\n{output}");
    let users_file = dir.path().join("users.toml");
    let users_file = users_file.display();
    for expected in [
        format!("warning: {users_file}:6:8: user \"Admin\" looks like user \"admin\" (line 2)"),
        format!(
            "warning: {users_file}:10:8: user \"\u{ff41}dmin\" looks like user \"admin\" (line 2)"
        ),
    ] {
        assert!(output.contains(&expected), "{expected}\nin:\n{output}");
    }
    assert!(!output.contains("\"bob\" looks like"), "{output}");
}
