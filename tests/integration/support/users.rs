//! The common users file: alice (admins, dev; email), bob (no groups, no email), carol
//! (disabled), their passwords, and password hashes: argon2id cheap enough for tests, with
//! the parameters `gateway hash-password` uses, and bcrypt from `htpasswd`.

use std::process::Command;

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, PasswordHasher, Version};

use super::process::tool;

pub const ALICE_PASSWORD: &str = "alice-correct-horse";
pub const BOB_PASSWORD: &str = "bob-battery-staple";
pub const CAROL_PASSWORD: &str = "carol-disabled-pass";

/// An argon2id PHC string for `password`, with parameters cheap enough for tests.
pub fn hash_password(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("argon2 params");
    let argon2 = Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params);
    // A fixed salt per password keeps the helper independent of an RNG feature; the salt
    // only has to be valid, not secret, for a test.
    let salt = format!("salt-{:0>16}", password.len());
    argon2
        .hash_password_with_salt(password.as_bytes(), salt.as_bytes())
        .expect("hash password")
        .to_string()
}

/// The users file: alice (admins, dev; email), bob (no groups, no email), carol (disabled).
pub fn users_toml() -> String {
    format!(
        "[[user]]\nname = \"alice\"\npassword = \"{}\"\ngroups = [\"admins\", \"dev\"]\n\
         email = \"alice@example.test\"\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{}\"\ngroups = []\n\n\
         [[user]]\nname = \"carol\"\npassword = \"{}\"\ngroups = [\"dev\"]\n\
         email = \"carol@example.test\"\ndisabled = true\n",
        hash_password(ALICE_PASSWORD),
        hash_password(BOB_PASSWORD),
        hash_password(CAROL_PASSWORD),
    )
}

/// An argon2id hash with the default parameters (m=19456 KiB, t=2, p=1), as
/// `gateway hash-password` makes it and the dummy hash for unknown users is made.
pub fn default_argon2id(password: &str) -> String {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), b"default-argon2id")
        .expect("hash")
        .to_string()
}

/// The bcrypt hash (cost 5) of `htpasswd -nbB -C 5 user password`'s line.
pub fn htpasswd_bcrypt(user: &str, password: &str) -> String {
    let htpasswd = tool("htpasswd");
    let output = Command::new(&htpasswd)
        .args(["-nbB", "-C", "5", user, password])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", htpasswd.display()));
    assert!(output.status.success(), "{output:?}");
    let line = String::from_utf8(output.stdout).expect("utf-8");
    let (name, hash) = line.trim().split_once(':').expect("user:hash");
    assert_eq!(name, user);
    assert!(hash.starts_with("$2y$"), "{hash}");
    hash.to_owned()
}
