//! pyotp, an independent TOTP implementation (Debian's `python3-pyotp`), run through
//! `/usr/bin/python3`: it computes the codes the tests type, and reads the `otpauth://` URI
//! that enrollment prints.
//!
//! Step boundaries, without waiting: the gateway reads its clock a few milliseconds after
//! the test computes a code, so the step may have rolled by one in between. [`Clock`] says
//! which codes are right *whichever* of the two steps the gateway sees: the current step's
//! and the next's are always inside ±1; the previous step's only while the current step has
//! [`MARGIN_SECS`] left (else the current one stands in for it); a code two steps away is
//! taken from the far side of both candidates.

use std::time::{SystemTime, UNIX_EPOCH};

use super::auth_config::{AuthConfig, auth_config};
use super::env::Env;
use super::pyjwt::python3;
use super::upstream;

const APP1: &str = "app1.example.test";

/// A step with less than this left may roll before the gateway checks the code.
pub const MARGIN_SECS: u64 = 3;

/// alice's TOTP secret in [`users_with_totp`] (base32, as authenticator apps take it).
pub const ALICE_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// bob's TOTP secret.
pub const BOB_TOTP: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
/// alice's one recovery code (its hash is in the users file).
pub const ALICE_RECOVERY: &str = "abcde-fghij";

/// The code of `secret` at Unix time `at`, by pyotp.
pub fn pyotp_at(secret: &str, at: u64) -> String {
    python3(
        "import sys, pyotp; print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))",
        &[secret, &at.to_string()],
    )
}

/// The secret of an `otpauth://` URI, by pyotp's own parser.
pub fn pyotp_uri_secret(uri: &str) -> String {
    python3(
        "import sys, pyotp; print(pyotp.parse_uri(sys.argv[1]).secret)",
        &[uri],
    )
}

/// The test's view of the current TOTP step.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    now: u64,
}

impl Clock {
    /// Now.
    pub fn now() -> Clock {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        Clock { now }
    }

    fn step_start(&self, steps: i64) -> u64 {
        let step = (self.now / 30).checked_add_signed(steps).expect("step");
        step * 30
    }

    fn rolling(&self) -> bool {
        30 - self.now % 30 < MARGIN_SECS
    }

    /// A code of `secret` the gateway accepts as the current step.
    pub fn current(&self, secret: &str) -> String {
        pyotp_at(secret, self.step_start(0))
    }

    /// A code of the previous step (or, when the step may roll, the current one).
    pub fn previous(&self, secret: &str) -> String {
        let steps = if self.rolling() { 0 } else { -1 };
        pyotp_at(secret, self.step_start(steps))
    }

    /// A code of the next step (within ±1 of both candidate steps).
    pub fn next(&self, secret: &str) -> String {
        pyotp_at(secret, self.step_start(1))
    }

    /// A code two steps ahead of the step the gateway sees (three when it may roll).
    pub fn two_ahead(&self, secret: &str) -> String {
        let steps = if self.rolling() { 3 } else { 2 };
        pyotp_at(secret, self.step_start(steps))
    }

    /// A code two steps behind (always at least two behind either candidate).
    pub fn two_behind(&self, secret: &str) -> String {
        pyotp_at(secret, self.step_start(-2))
    }
}

/// The common users file with TOTP for alice (and one recovery code) and bob; carol stays
/// disabled. Comments included, as an admin's file has them.
pub fn users_with_totp() -> String {
    use super::users::{ALICE_PASSWORD, BOB_PASSWORD, CAROL_PASSWORD, hash_password};
    format!(
        "# Users of the test gateway.\n\
         [[user]]\nname = \"alice\"\npassword = \"{}\"\ngroups = [\"admins\", \"dev\"]\n\
         email = \"alice@example.test\"\ntotp = \"{ALICE_TOTP}\"\nrecovery_codes = [\"{}\"]\n\n\
         [[user]]\nname = \"bob\"\npassword = \"{}\"\ngroups = [\"admins\"]\ntotp = \"{BOB_TOTP}\"\n\n\
         [[user]]\nname = \"dave\"\npassword = \"{}\"\ngroups = [\"admins\"]\n\n\
         [[user]]\nname = \"carol\"\npassword = \"{}\"\ngroups = [\"dev\"]\ndisabled = true\n",
        hash_password(ALICE_PASSWORD),
        hash_password(&ALICE_RECOVERY.replace('-', "")),
        hash_password(BOB_PASSWORD),
        hash_password(DAVE_PASSWORD),
        hash_password(CAROL_PASSWORD),
    )
}

/// dave: an admin without a second factor.
pub const DAVE_PASSWORD: &str = "dave-no-second-factor";

/// The common config with TOTP users and one more route: `app1/secure` for admins with a
/// second factor.
pub async fn env_2fa(change: impl FnOnce(AuthConfig) -> AuthConfig) -> Env {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let (a1, a2) = (app1.url(), app2.url());
    let base = auth_config(&a1, &a2);
    let routes = format!(
        "[[route]]\nhost = \"{APP1}\"\nupstream = \"{a1}\"\naccess = \"authenticated\"\n\n\
         [[route]]\nhost = \"{APP1}\"\npath = \"/secure\"\nupstream = \"{a1}\"\n\
         access = {{ groups = [\"admins\"], second_factor = true }}\n\n\
         [[route]]\nhost = \"app2.example.test\"\nupstream = \"{a2}\"\n"
    );
    let config = change(base.users(&users_with_totp()).routes(&routes));
    Env::new(config.start().await, app1, app2)
}
