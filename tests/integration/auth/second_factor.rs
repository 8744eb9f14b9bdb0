//! The second factor, black-box: the two-step login over JSON and the form, with codes
//! from pyotp (an independent TOTP implementation); skew, replay, throttling, recovery
//! codes, the challenge's rules; `amr` in tokens, `/.auth/me` and `/.auth/verify`; and the
//! `second_factor = true` route rule with its step-up answers.

use serde_json::{Value, json};

use crate::support::cookies::{gateway_set_cookie, sets_gateway_cookie};
use crate::support::env::Env;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256, token_part, with_claim};
use crate::support::totp::{ALICE_RECOVERY, ALICE_TOTP, BOB_TOTP, Clock, DAVE_PASSWORD, env_2fa};
use crate::support::users::{ALICE_PASSWORD, BOB_PASSWORD};

const APP1: &str = "app1.example.test";
const STEP_UP_CHALLENGE: &str =
    "Bearer realm=\"gateway\", error=\"insufficient_user_authentication\"";

impl Env {
    /// The password step over JSON; returns the challenge of its 401.
    async fn challenge(&self, user: &str, password: &str) -> String {
        let response = self.login_json(APP1, user, password).await;
        assert_eq!(response.status, 401, "{}", response.text());
        let body = response.json();
        assert_eq!(body["error"], "second_factor_required", "{body}");
        assert!(!sets_gateway_cookie(&response.headers), "no token yet");
        body["challenge"].as_str().expect("challenge").to_owned()
    }

    async fn code_step(&self, body: Value) -> crate::support::client::TestResponse {
        self.send(Req::post(APP1, "/.auth/login").json(&body)).await
    }

    /// The code step over JSON with a TOTP code.
    async fn send_code(&self, challenge: &str, code: &str) -> crate::support::client::TestResponse {
        self.code_step(json!({ "challenge": challenge, "code": code }))
            .await
    }

    /// Both steps; returns the access token.
    async fn login_2fa(&self, user: &str, password: &str, secret: &str) -> String {
        let challenge = self.challenge(user, password).await;
        let response = self
            .send_code(&challenge, &Clock::now().current(secret))
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }
}

#[tokio::test]
async fn json_login_asks_for_the_code_and_signs_in_with_pwd_and_otp() {
    let env = env_2fa(|c| c).await;
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    let response = env
        .send_code(&challenge, &Clock::now().current(ALICE_TOTP))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let token = response.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(token_part(&token, 1)["amr"], json!(["pwd", "otp"]));
    assert_eq!(
        token_part(&gateway_set_cookie(&response.headers).value, 1)["amr"],
        json!(["pwd", "otp"])
    );
    let me = env.send(Req::get(APP1, "/.auth/me").bearer(&token)).await;
    assert_eq!(me.json()["amr"], json!(["pwd", "otp"]), "{}", me.text());
    // The challenge is not a credential anywhere.
    let as_token = env
        .send(Req::get(APP1, "/.auth/me").bearer(&challenge))
        .await;
    assert_eq!(as_token.status, 401);
    assert_eq!(env.upstream_count(), 0);
}

#[tokio::test]
async fn the_previous_and_next_steps_are_accepted_and_two_steps_away_refused() {
    let env = env_2fa(|c| c).await;
    for (what, code) in [
        ("two behind", Clock::now().two_behind(ALICE_TOTP)),
        ("two ahead", Clock::now().two_ahead(ALICE_TOTP)),
    ] {
        let challenge = env.challenge("alice", ALICE_PASSWORD).await;
        let refused = env.send_code(&challenge, &code).await;
        assert_eq!(refused.status, 401, "{what}: {}", refused.text());
        assert_eq!(refused.json()["error"], "invalid_credentials", "{what}");
        assert!(!sets_gateway_cookie(&refused.headers), "{what}");
    }
    // Each accepted code must be for a later step than the last (replay), so the previous
    // step goes first, on bob, and the next on alice.
    let challenge = env.challenge("bob", BOB_PASSWORD).await;
    let previous = env
        .send_code(&challenge, &Clock::now().previous(BOB_TOTP))
        .await;
    assert_eq!(previous.status, 200, "previous: {}", previous.text());
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    let next = env
        .send_code(&challenge, &Clock::now().next(ALICE_TOTP))
        .await;
    assert_eq!(next.status, 200, "next: {}", next.text());
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let env = env_2fa(|c| c).await;
    let code = Clock::now().next(ALICE_TOTP);
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    assert_eq!(env.send_code(&challenge, &code).await.status, 200);
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    let replay = env.send_code(&challenge, &code).await;
    assert_eq!(replay.status, 401, "{}", replay.text());
    assert!(!sets_gateway_cookie(&replay.headers));
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_wrong_passwords() {
    let env = env_2fa(|c| c.max_failures(3)).await;
    for _ in 0..3 {
        let challenge = env.challenge("alice", ALICE_PASSWORD).await;
        let wrong = env.send_code(&challenge, "000000").await;
        assert_eq!(wrong.status, 401, "{}", wrong.text());
    }
    // Locked out: even the right password is refused now, without a check.
    let locked = env.login_json(APP1, "alice", ALICE_PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.text());
    assert!(locked.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let env = env_2fa(|c| c).await;
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    let used = env
        .code_step(json!({ "challenge": challenge, "recovery_code": ALICE_RECOVERY }))
        .await;
    assert_eq!(used.status, 200, "{}", used.text());
    let token = used.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(token_part(&token, 1)["amr"], json!(["pwd", "otp"]));
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    let again = env
        .code_step(json!({ "challenge": challenge, "recovery_code": ALICE_RECOVERY }))
        .await;
    assert_eq!(again.status, 401, "{}", again.text());
    assert!(!sets_gateway_cookie(&again.headers));
}

#[tokio::test]
async fn a_challenge_is_single_use_and_bound_to_its_user() {
    let env = env_2fa(|c| c).await;
    let clock = Clock::now();
    let challenge = env.challenge("alice", ALICE_PASSWORD).await;
    assert_eq!(
        env.send_code(&challenge, &clock.current(ALICE_TOTP))
            .await
            .status,
        200
    );
    let reused = env.send_code(&challenge, &clock.next(ALICE_TOTP)).await;
    assert_eq!(reused.status, 401, "{}", reused.text());
    assert!(
        reused.json().get("challenge").is_none(),
        "no retry on a spent challenge"
    );

    // bob's challenge with alice's (right) code is a wrong code for bob.
    let bobs = env.challenge("bob", BOB_PASSWORD).await;
    let crossed = env.send_code(&bobs, &clock.next(ALICE_TOTP)).await;
    assert_eq!(crossed.status, 401, "{}", crossed.text());
    assert!(!sets_gateway_cookie(&crossed.headers));
    // Control: bob's own code on the retry challenge works.
    let retry = crossed.json()["challenge"]
        .as_str()
        .expect("retry")
        .to_owned();
    assert_eq!(
        env.send_code(&retry, &clock.current(BOB_TOTP)).await.status,
        200
    );

    // A made-up challenge, and a challenge without a code, are refused.
    let made_up = env
        .send_code("AAAAAAAAAAAAAAAAAAAAAA", &clock.next(ALICE_TOTP))
        .await;
    assert_eq!(made_up.status, 401);
    let no_code = env.code_step(json!({ "challenge": challenge })).await;
    assert_eq!(no_code.status, 400);
}

#[tokio::test]
async fn users_without_totp_sign_in_with_a_password_unless_it_is_required() {
    let optional = env_2fa(|c| c).await;
    let response = optional.login_json(APP1, "dave", DAVE_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let token = response.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(token_part(&token, 1)["amr"], json!(["pwd"]));

    let required = env_2fa(|c| c.auth("second_factor = \"required\"")).await;
    let refused = required.login_json(APP1, "dave", DAVE_PASSWORD).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.json()["error"], "enrollment_required");
    assert!(!sets_gateway_cookie(&refused.headers));
    let form = required
        .login_form(APP1, "dave", DAVE_PASSWORD, Some("/x"))
        .await;
    assert_eq!(form.status, 403);
    assert!(
        form.text().contains("Ask an administrator to enroll you"),
        "{}",
        form.text()
    );
    // Control: an enrolled user still signs in.
    required
        .login_2fa("alice", ALICE_PASSWORD, ALICE_TOTP)
        .await;
}

#[tokio::test]
async fn a_password_only_token_is_refused_on_a_second_factor_route_and_accepted_elsewhere() {
    let env = env_2fa(|c| c).await;
    // alice is enrolled; a token of a sign-in with her password alone.
    let password_only = mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd"])));
    let api = env
        .send(Req::get(APP1, "/secure/x").bearer(&password_only))
        .await;
    assert_eq!(api.status, 401, "{}", api.text());
    assert_eq!(api.json()["error"], "insufficient_user_authentication");
    let challenge = api.headers["www-authenticate"].to_str().expect("ascii");
    assert!(challenge.starts_with(STEP_UP_CHALLENGE), "{challenge}");
    // A browser is sent to the login page to add the factor, returning here.
    let browser = env
        .send(
            Req::get(APP1, "/secure/x")
                .cookie(&password_only)
                .accept("text/html"),
        )
        .await;
    assert_eq!(browser.status, 302, "{}", browser.text());
    assert_eq!(browser.headers["location"], "/.auth/login?rd=%2Fsecure%2Fx");
    // Accepted on a route without the rule.
    let elsewhere = env
        .send(Req::get(APP1, "/other").bearer(&password_only))
        .await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text());
    assert_eq!(
        env.app1.received().len(),
        1,
        "only the control reached the upstream"
    );
    // Control: the same user with the second factor passes.
    let full = env.login_2fa("alice", ALICE_PASSWORD, ALICE_TOTP).await;
    let passed = env.send(Req::get(APP1, "/secure/x").bearer(&full)).await;
    assert_eq!(passed.status, 200, "{}", passed.text());
    // A user with no second factor enrolled cannot step up: 403, not a login loop.
    let dave = mint_hs256(&with_claim(claims("dave"), "groups", json!(["admins"])));
    let dave = env.send(Req::get(APP1, "/secure/x").bearer(&dave)).await;
    assert_eq!(dave.status, 403, "{}", dave.text());
}

#[tokio::test]
async fn forward_auth_applies_the_second_factor_rule_and_reports_amr() {
    let env = env_2fa(|c| c).await;
    let verify = |token: &str| {
        Req::get(APP1, "/.auth/verify")
            .bearer(token)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", APP1)
            .header("x-forwarded-uri", "/secure/panel")
            .header("x-forwarded-method", "GET")
    };
    let password_only = mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd"])));
    let refused = env.send(verify(&password_only)).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(refused.json()["error"], "insufficient_user_authentication");
    assert!(
        refused.headers["location"]
            .to_str()
            .expect("ascii")
            .ends_with("/.auth/login?rd=%2Fsecure%2Fpanel")
    );
    let full = env.login_2fa("alice", ALICE_PASSWORD, ALICE_TOTP).await;
    let granted = env.send(verify(&full)).await;
    assert_eq!(granted.status, 200, "{}", granted.text());
    assert_eq!(granted.json()["amr"], json!(["pwd", "otp"]));
    assert_eq!(granted.headers["x-forwarded-user"], "alice");
}

#[tokio::test]
async fn the_form_shows_the_code_step_and_returns_to_rd_after_it() {
    let env = env_2fa(|c| c).await;
    let page = env
        .login_form(APP1, "alice", ALICE_PASSWORD, Some("/deep/link?x=1"))
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        !sets_gateway_cookie(&page.headers),
        "no token after the password alone"
    );
    let html = page.text();
    assert!(
        html.contains("Enter the 6-digit code from your authenticator"),
        "{html}"
    );
    assert!(html.contains("autocomplete=\"one-time-code\""), "{html}");
    assert!(html.contains("inputmode=\"numeric\""), "{html}");
    assert!(html.contains("Use a recovery code"), "{html}");
    assert!(
        html.contains("name=\"rd\" value=\"/deep/link?x=1\""),
        "{html}"
    );
    let challenge = hidden(&html, "challenge");
    let wrong = env
        .send(
            Req::post(APP1, "/.auth/login")
                .origin(&format!("https://{APP1}"))
                .accept("text/html")
                .form(&[
                    ("challenge", &challenge),
                    ("code", "000000"),
                    ("rd", "/deep/link?x=1"),
                ]),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("role=\"alert\""), "{}", wrong.text());
    let retry = hidden(&wrong.text(), "challenge");
    let code = Clock::now().current(ALICE_TOTP);
    let done = env
        .send(
            Req::post(APP1, "/.auth/login")
                .origin(&format!("https://{APP1}"))
                .accept("text/html")
                .form(&[
                    ("challenge", &retry),
                    ("code", &code),
                    ("rd", "/deep/link?x=1"),
                ]),
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.headers["location"], "/deep/link?x=1");
    let cookie = gateway_set_cookie(&done.headers).value;
    assert_eq!(token_part(&cookie, 1)["amr"], json!(["pwd", "otp"]));
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..].split('"').next().expect("value").to_owned()
}

#[tokio::test]
async fn a_cookie_copy_with_the_second_factor_outranks_a_password_only_copy() {
    use crate::support::cookies::COOKIE;
    let env = env_2fa(|c| c).await;
    let password_only = mint_hs256(&with_claim(claims("alice"), "amr", json!(["pwd"])));
    let full = env.login_2fa("alice", ALICE_PASSWORD, ALICE_TOTP).await;
    for (what, cookies) in [
        (
            "stale copy first",
            format!("{COOKIE}={password_only}; {COOKIE}={full}"),
        ),
        (
            "stale copy last",
            format!("{COOKIE}={full}; {COOKIE}={password_only}"),
        ),
    ] {
        let response = env
            .send(Req::get(APP1, "/secure/x").header("cookie", &cookies))
            .await;
        assert_eq!(response.status, 200, "{what}: {}", response.text());
    }
    // Control: the stale copy alone must step up.
    let alone = env
        .send(Req::get(APP1, "/secure/x").header("cookie", &format!("{COOKIE}={password_only}")))
        .await;
    assert_eq!(alone.status, 401, "{}", alone.text());
}

#[tokio::test]
async fn the_access_log_records_amr_and_no_log_line_holds_a_secret() {
    use crate::support::auth_config::auth_config;
    use crate::support::binary::GatewayBinary;
    use crate::support::client::Protocol;
    use crate::support::totp::{ALICE_RECOVERY, users_with_totp};
    let config = auth_config("builtin:whoami", "builtin:whoami")
        .users(&users_with_totp())
        .routes("[[route]]\nupstream = \"builtin:whoami\"\n");
    let files = config.files();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    let gateway = GatewayBinary::start("", &config.text(), &files).await;
    let client = gateway.client();
    let send = |request: Req| client.send(request.build(), Protocol::Http1);
    let password = send(
        Req::post("localhost", "/.auth/login")
            .json(&json!({ "username": "alice", "password": ALICE_PASSWORD })),
    )
    .await;
    assert_eq!(password.status, 401, "{}", password.text());
    let challenge = password.json()["challenge"].as_str().expect("c").to_owned();
    let wrong = send(
        Req::post("localhost", "/.auth/login")
            .json(&json!({ "challenge": challenge, "code": "000000" })),
    )
    .await;
    let retry = wrong.json()["challenge"]
        .as_str()
        .expect("retry")
        .to_owned();
    let code = Clock::now().current(ALICE_TOTP);
    let done = send(
        Req::post("localhost", "/.auth/login").json(&json!({ "challenge": retry, "code": code })),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let token = done.json()["access_token"].as_str().expect("t").to_owned();
    let served = send(Req::get("localhost", "/after-otp").bearer(&token)).await;
    assert_eq!(served.status, 200);
    let access = gateway
        .wait_for_log(|line| line["message"] == "access" && line["path"] == "/after-otp")
        .await;
    assert_eq!(access[0]["amr"], "pwd otp", "{}", access[0]);
    assert_eq!(access[0]["user"], "alice");
    // (The 6-digit code is left out: six digits occur in any timestamp.)
    let log = gateway.log();
    for secret in [
        ALICE_TOTP,
        challenge.as_str(),
        retry.as_str(),
        ALICE_RECOVERY,
        token.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    assert!(log.contains("second factor failed"), "{log}");
    assert!(log.contains("second factor accepted"), "{log}");
}
