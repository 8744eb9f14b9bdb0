//! Tests of the two-step sign-in, on a real `Auth` (users file and secret in a temporary
//! folder) with the clock passed in: expiry and skew without waiting.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use http::HeaderMap;

use super::{PasswordStep, SecondFactorCode};
use crate::auth::Auth;
use crate::auth::second_factor::{CHALLENGE_LIFETIME, ChallengeId, TotpSecret};
use crate::auth::sign_in::SignInError;
use crate::auth::state::MemoryStore;
use crate::config::Config;
use crate::metrics::Metrics;

const ALICE_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const BOB_SECRET: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
const RECOVERY: &str = "abcde-fghij";
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const T0: u64 = 1_700_000_010; // 10 s into a step

fn cheap(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hash")
        .to_string()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

struct Fixture {
    auth: Auth,
    dir: tempfile::TempDir,
}

fn fixture(policy: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = format!(
        "[[user]]\nname = \"alice\"\npassword = '{}'\ntotp = \"{ALICE_SECRET}\"\nrecovery_codes = ['{}']\n\
[[user]]\nname = \"bob\"\npassword = '{}'\ntotp = \"{BOB_SECRET}\"\n\
[[user]]\nname = \"carol\"\npassword = '{}'\n",
        cheap("pw"),
        cheap(&RECOVERY.replace('-', "")),
        cheap("pw"),
        cheap("pw"),
    );
    std::fs::write(dir.path().join("users.toml"), users).expect("users");
    let config = Config::from_toml_str(
        &format!(
            "[tls]\ncert = \"c.crt\"\nkey = \"c.key\"\n\
[auth]\nissuer = \"https://auth.example.com\"\nsecret_file = \"jwt.secret\"\ngenerate_secret = true\n\
second_factor = \"{policy}\"\n[users]\nfile = \"users.toml\"\nmax_failures = 3\n"
        ),
        dir.path(),
    )
    .expect("config");
    let settings = config.auth.as_ref().expect("auth");
    let users = config.users.as_ref().expect("users");
    let store = Arc::new(MemoryStore::new(users.throttle));
    let auth = Auth::load(
        settings,
        Some(users),
        &|_| None,
        store,
        Arc::new(Metrics::new()),
    )
    .expect("auth");
    Fixture { auth, dir }
}

fn code(secret: &str, now: SystemTime, steps: i64) -> String {
    let secret = TotpSecret::from_base32(secret).expect("secret");
    let step = now
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / 30;
    secret.code_at_step(step.checked_add_signed(steps).expect("step"))
}

impl Fixture {
    async fn challenge(&self, user: &str, now: SystemTime) -> ChallengeId {
        let signed_in = self
            .auth
            .sign_in(&HeaderMap::new(), CLIENT, user, "pw".to_owned())
            .await
            .expect("right password");
        match self.auth.after_password(&signed_in, now).await {
            Ok(PasswordStep::CodeDue(challenge)) => challenge,
            other => panic!("expected a code step, got {other:?}"),
        }
    }

    async fn totp(
        &self,
        challenge: &ChallengeId,
        code: String,
        now: SystemTime,
    ) -> Result<(String, Vec<String>), SignInError> {
        self.auth
            .sign_in_second_factor(
                CLIENT,
                challenge.as_str(),
                SecondFactorCode::Totp(code),
                now,
            )
            .await
            .map(|(user, amr)| (user.name, amr))
    }
}

#[tokio::test]
async fn the_right_code_signs_in_with_otp_in_amr_and_the_challenge_is_spent() {
    let f = fixture("optional");
    let now = at(T0);
    let challenge = f.challenge("alice", now).await;
    let (user, amr) = f
        .totp(&challenge, code(ALICE_SECRET, now, 0), now)
        .await
        .expect("signed in");
    assert_eq!(user, "alice");
    assert_eq!(amr, ["pwd", "otp"]);
    let again = f.totp(&challenge, code(ALICE_SECRET, now, 1), now).await;
    assert!(
        matches!(again, Err(SignInError::ChallengeInvalid)),
        "{again:?}"
    );
}

#[tokio::test]
async fn the_previous_and_next_steps_are_accepted_two_away_are_not() {
    let f = fixture("optional");
    let now = at(T0);
    for steps in [-2i64, 2] {
        let challenge = f.challenge("alice", now).await;
        let refused = f
            .totp(&challenge, code(ALICE_SECRET, now, steps), now)
            .await;
        assert!(
            matches!(refused, Err(SignInError::WrongCode { .. })),
            "{steps}"
        );
    }
    for steps in [-1i64, 1] {
        let f = fixture("optional");
        let challenge = f.challenge("alice", now).await;
        let ok = f
            .totp(&challenge, code(ALICE_SECRET, now, steps), now)
            .await;
        assert!(ok.is_ok(), "{steps}: {ok:?}");
    }
}

#[tokio::test]
async fn a_code_is_accepted_once_and_an_earlier_steps_code_is_refused_after_it() {
    let f = fixture("optional");
    let now = at(T0);
    let first = f.challenge("alice", now).await;
    f.totp(&first, code(ALICE_SECRET, now, 0), now)
        .await
        .expect("first use");
    let replay = f.challenge("alice", now).await;
    let refused = f.totp(&replay, code(ALICE_SECRET, now, 0), now).await;
    assert!(
        matches!(refused, Err(SignInError::WrongCode { .. })),
        "{refused:?}"
    );
    let earlier = f.challenge("alice", now).await;
    let refused = f.totp(&earlier, code(ALICE_SECRET, now, -1), now).await;
    assert!(
        matches!(refused, Err(SignInError::WrongCode { .. })),
        "{refused:?}"
    );
    let later = f.challenge("alice", now).await;
    assert!(
        f.totp(&later, code(ALICE_SECRET, now, 1), now)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_challenge_expires_after_five_minutes() {
    let f = fixture("optional");
    let now = at(T0);
    let challenge = f.challenge("alice", now).await;
    let late = now + CHALLENGE_LIFETIME;
    let refused = f.totp(&challenge, code(ALICE_SECRET, late, 0), late).await;
    assert!(
        matches!(refused, Err(SignInError::ChallengeInvalid)),
        "{refused:?}"
    );
    let challenge = f.challenge("alice", now).await;
    let just_in_time = now + CHALLENGE_LIFETIME - Duration::from_secs(1);
    let ok = f
        .totp(
            &challenge,
            code(ALICE_SECRET, just_in_time, 0),
            just_in_time,
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn a_challenge_is_bound_to_its_user() {
    let f = fixture("optional");
    let now = at(T0);
    let alices = f.challenge("alice", now).await;
    // Bob's right code on Alice's challenge is a wrong code for Alice.
    let refused = f.totp(&alices, code(BOB_SECRET, now, 0), now).await;
    assert!(
        matches!(refused, Err(SignInError::WrongCode { .. })),
        "{refused:?}"
    );
    let forged = f
        .totp(
            &ChallengeId::generate().expect("id"),
            code(ALICE_SECRET, now, 0),
            now,
        )
        .await;
    assert!(
        matches!(forged, Err(SignInError::ChallengeInvalid)),
        "{forged:?}"
    );
    let garbage = f
        .auth
        .sign_in_second_factor(
            CLIENT,
            "alice",
            SecondFactorCode::Totp("123456".into()),
            now,
        )
        .await;
    assert!(
        matches!(garbage, Err(SignInError::ChallengeInvalid)),
        "{garbage:?}"
    );
}

#[tokio::test]
async fn wrong_codes_retry_on_a_fresh_challenge_with_the_same_expiry_then_stop() {
    let f = fixture("optional");
    let now = at(T0);
    let mut challenge = f.challenge("alice", now).await;
    for _ in 0..2 {
        match f.totp(&challenge, "000000".into(), now).await {
            Err(SignInError::WrongCode { retry: Some(next) }) => {
                assert_ne!(next, challenge);
                challenge = next;
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }
    // The last try of the sign-in: no retry after it.
    let last = f.totp(&challenge, "000000".into(), now).await;
    assert!(
        matches!(last, Err(SignInError::WrongCode { retry: None })),
        "{last:?}"
    );
    // Retries do not extend the challenge's life.
    let f = fixture("optional");
    let challenge = f.challenge("alice", now).await;
    let Err(SignInError::WrongCode { retry: Some(next) }) =
        f.totp(&challenge, "000000".into(), now).await
    else {
        panic!("expected a retry");
    };
    let late = now + CHALLENGE_LIFETIME;
    let refused = f.totp(&next, code(ALICE_SECRET, late, 0), late).await;
    assert!(
        matches!(refused, Err(SignInError::ChallengeInvalid)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn wrong_codes_count_against_the_password_throttle() {
    let f = fixture("optional");
    let now = at(T0);
    // max_failures = 3: three wrong codes lock the user (and the address) out.
    for _ in 0..3 {
        let challenge = f.challenge("bob", now).await;
        let refused = f.totp(&challenge, "000000".into(), now).await;
        assert!(
            matches!(refused, Err(SignInError::WrongCode { .. })),
            "{refused:?}"
        );
    }
    let locked = f
        .auth
        .sign_in(&HeaderMap::new(), CLIENT, "bob", "pw".to_owned())
        .await;
    assert!(
        matches!(locked, Err(SignInError::Throttled { .. })),
        "{locked:?}"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let f = fixture("optional");
    let now = at(T0);
    let challenge = f.challenge("alice", now).await;
    let recovery = |c: &ChallengeId, code: &str| {
        let (c, code) = (c.clone(), code.to_owned());
        let auth = &f.auth;
        async move {
            auth.sign_in_second_factor(CLIENT, c.as_str(), SecondFactorCode::Recovery(code), now)
                .await
                .map(|(u, amr)| (u.name, amr))
        }
    };
    let (user, amr) = recovery(&challenge, " ABCDE fghij ")
        .await
        .expect("recovery");
    assert_eq!(
        (user.as_str(), amr),
        ("alice", vec!["pwd".to_owned(), "otp".to_owned()])
    );
    // Struck from the users file too, so a restart does not bring it back.
    let file = std::fs::read_to_string(f.dir.path().join("users.toml")).expect("users");
    assert!(file.contains("recovery_codes = []"), "{file}");
    let again = f.challenge("alice", now).await;
    let refused = recovery(&again, RECOVERY).await;
    assert!(
        matches!(refused, Err(SignInError::WrongCode { .. })),
        "{refused:?}"
    );
    let wrong = f.challenge("alice", now).await;
    let refused = recovery(&wrong, "zzzzz-zzzzz").await;
    assert!(
        matches!(refused, Err(SignInError::WrongCode { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn without_a_second_factor_the_password_signs_in_unless_it_is_required() {
    let optional = fixture("optional");
    let carol = optional
        .auth
        .sign_in(&HeaderMap::new(), CLIENT, "carol", "pw".to_owned())
        .await
        .expect("password");
    match optional.auth.after_password(&carol, at(T0)).await {
        Ok(PasswordStep::SignedIn { amr }) => assert_eq!(amr, ["pwd"]),
        other => panic!("expected signed in, got {other:?}"),
    }
    let required = fixture("required");
    let refused = required.auth.after_password(&carol, at(T0)).await;
    assert!(
        matches!(refused, Err(SignInError::EnrollmentRequired)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn amr_is_kept_when_the_session_is_renewed() {
    let f = fixture("optional");
    let now = SystemTime::now();
    let amr = vec!["pwd".to_owned(), "otp".to_owned()];
    let token = f
        .auth
        .issue_signed_in("alice", amr.clone(), Duration::from_secs(600), now)
        .expect("issue");
    let verified = f.auth.authenticate(&token, now).expect("valid");
    assert!(verified.has_second_factor());
    let renewed = f
        .auth
        .issue_for("alice", Some(&verified), Duration::from_secs(600), now)
        .expect("renew");
    let renewed = f.auth.authenticate(&renewed, now).expect("valid");
    assert_eq!(renewed.amr, amr);
    // A token minted for a script (`gateway token`) claims no method at all.
    let minted = f
        .auth
        .issue_for("alice", None, Duration::from_secs(600), now)
        .expect("mint");
    let minted = f.auth.authenticate(&minted, now).expect("valid");
    assert!(minted.amr.is_empty() && !minted.has_second_factor());
}
