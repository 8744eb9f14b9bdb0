//! The adversarial suite: an attacker's checklist thrown at the real gateway in front of
//! recording upstreams, black-box, over real TLS.
//!
//! Every hostile case asserts two things: the secure outcome (a refusal with the right
//! status, a closed connection, or a request whose hostile part was removed or normalized)
//! and that nothing unauthorized reached an upstream (its recorded requests). Each test has
//! a control where it matters — the same request without the defect succeeds — so a case
//! passes because of the check it aims at, not because the request was broken some other way.
//!
//! | module | what is attacked |
//! |---|---|
//! | [`tokens`] | JWT validation: `none`, algorithm confusion, null/truncated/psychic signatures, `kid`/`jku`/`x5u`/`jwk` tricks, huge and nested tokens, duplicate claims, wrong claim types |
//! | [`identity`] | identity headers in every spelling, duplicates, obs-fold, CR/LF/NUL, hop-by-hop abuse |
//! | [`paths`] | dot segments raw and encoded, double encoding, `//`, `\`, `;`, case, Host games, absolute-form, SNI fronting |
//! | [`redirects`] | open-redirect bypass shapes for `rd=`, reflected markup |
//! | [`csrf`] | cookie tossing, duplicate credentials, missing or foreign `Origin` on unsafe methods, login CSRF |
//! | [`login`] | timing-based user enumeration, throttling evasion, huge passwords, parser tricks |
//! | [`oidc`] | provider mix-up, `redirect_uri` swap, code swap between attempts, hostile `state`, `rd` through the provider |
//! | [`second_factor`] | code brute force, challenge tampering, forged `amr`, step-up bypass via forward-auth |
//! | [`smuggling`] | CL/TE combinations, chunk tricks, pipelining, pool poisoning |
//! | [`floods`] | slowloris on heads and bodies, 10k headers, long URIs and header values |
//! | [`http2`] | rapid reset, CONTINUATION floods, `:authority` vs `Host` |
//! | [`tls`] | TLS 1.0/1.1, SSLv3 and weak cipher suites offered by `openssl s_client` and by hand |
//!
//! # The count
//!
//! Each test keeps a [`Tally`] of its hostile cases and, when it passes, adds it to the run's
//! totals. When the last test of [`SUITE`] has passed, the totals are printed (to the real
//! stdout, past the test harness's capture), e.g. `adversarial: 240 hostile cases, 240
//! defeated (205 refused, 35 neutralized)`. A tally for a test that is not in [`SUITE`]
//! fails at once, so the list cannot silently drift.
//!
//! No test here is `#[ignore]`d: a weakness the suite finds is fixed in the code and its test
//! stays as a regression test (docs/security.md lists them). Nothing is weakened to pass.

mod csrf;
mod floods;
mod http2;
mod identity;
mod login;
mod oidc;
mod paths;
mod redirects;
mod second_factor;
mod smuggling;
mod tls;
mod tokens;

use crate::support::client::TestResponse;
use crate::support::env::Env;
use crate::support::requests::Req;
use crate::support::within;
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every test that reports a tally; the totals are printed when all of them have passed.
const SUITE: &[&str] = &[
    "csrf::cookie_tossing_and_duplicate_credentials_are_refused",
    "csrf::unsafe_cookie_requests_without_a_trusted_origin_are_refused",
    "csrf::cross_site_login_and_logout_are_refused",
    "floods::slowloris_heads_and_bodies_are_cut_off",
    "floods::oversized_heads_are_refused",
    "http2::authority_and_host_disagreement_is_refused",
    "http2::rapid_reset_is_contained",
    "http2::continuation_floods_are_cut_off",
    "http2::frame_floods_are_contained",
    "identity::spoofed_identity_headers_never_reach_the_upstream",
    "identity::malformed_header_syntax_is_refused",
    "identity::hop_by_hop_abuse_cannot_remove_gateway_headers",
    "login::timing_does_not_reveal_whether_a_user_exists",
    "login::timing_does_not_reveal_users_of_an_htpasswd_file",
    "login::throttling_cannot_be_evaded",
    "login::a_login_flood_from_one_address_cannot_outrun_the_throttle",
    "login::hostile_login_bodies_are_refused",
    "oidc::attempts_cannot_cross_providers_hosts_or_codes",
    "oidc::an_off_site_rd_through_the_provider_lands_locally",
    "paths::dot_segments_and_encodings_cannot_escape_a_route",
    "paths::raw_ambiguous_targets_are_refused",
    "paths::host_games_cannot_change_the_route",
    "paths::path_parameters_cannot_reach_a_stricter_route",
    "paths::case_variants_cannot_reach_a_stricter_route",
    "redirects::open_redirect_shapes_fall_back_to_a_local_path",
    "redirects::login_page_reflects_nothing_executable",
    "second_factor::code_brute_force_is_throttled",
    "second_factor::tampered_challenges_are_refused",
    "second_factor::amr_forged_in_a_token_of_another_key_is_refused",
    "second_factor::step_up_cannot_be_bypassed_through_forward_auth",
    "smuggling::conflicting_framing_is_refused_or_normalized",
    "smuggling::pipelined_requests_are_each_authorized",
    "tls::old_protocols_and_weak_ciphers_are_refused_by_openssl",
    "tls::hand_made_hellos_for_broken_suites_are_refused",
    "tokens::algorithm_confusion_and_none_are_refused",
    "tokens::null_truncated_and_mangled_signatures_are_refused",
    "tokens::psychic_ecdsa_signatures_are_refused",
    "tokens::key_header_tricks_are_ignored",
    "tokens::oversized_and_nested_tokens_are_refused",
    "tokens::duplicate_claims_are_refused",
    "tokens::wrong_claim_types_are_refused",
    "tokens::identity_claims_cannot_inject_headers",
];

static CASES: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);
static NEUTRALIZED: AtomicUsize = AtomicUsize::new(0);
static FINISHED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// The hostile cases of one test. Call [`Tally::refused`] or [`Tally::neutralized`] after a
/// case's assertions held, and [`Tally::finish`] at the end of the test.
#[derive(Debug)]
pub struct Tally {
    test: &'static str,
    refused: usize,
    neutralized: usize,
}

impl Tally {
    /// Starts the tally of `test` (`module::function`), which must be listed in [`SUITE`].
    pub fn new(test: &'static str) -> Tally {
        assert!(
            SUITE.contains(&test),
            "{test} is not in adversarial::SUITE: add it there so the totals count it"
        );
        Tally {
            test,
            refused: 0,
            neutralized: 0,
        }
    }

    /// A case the gateway refused (an error status or a closed connection) with nothing
    /// forwarded.
    pub fn refused(&mut self) {
        self.refused += 1;
    }

    /// A case the gateway served after removing or normalizing its hostile part.
    pub fn neutralized(&mut self) {
        self.neutralized += 1;
    }

    /// Adds this test's cases to the run's totals; the last test of [`SUITE`] prints them.
    pub fn finish(self) {
        let cases = self.refused + self.neutralized;
        assert!(cases > 0, "{}: a test without hostile cases", self.test);
        CASES.fetch_add(cases, Ordering::SeqCst);
        REFUSED.fetch_add(self.refused, Ordering::SeqCst);
        NEUTRALIZED.fetch_add(self.neutralized, Ordering::SeqCst);
        println!(
            "adversarial {}: {cases} hostile cases ({} refused, {} neutralized)",
            self.test, self.refused, self.neutralized
        );
        let mut finished = FINISHED.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            !finished.contains(&self.test),
            "{} finished twice",
            self.test
        );
        finished.push(self.test);
        if finished.len() == SUITE.len() {
            let (cases, refused, neutralized) = (
                CASES.load(Ordering::SeqCst),
                REFUSED.load(Ordering::SeqCst),
                NEUTRALIZED.load(Ordering::SeqCst),
            );
            // Straight to the process's stdout: libtest captures `println!` of passing tests.
            let line = format!(
                "\nadversarial: {cases} hostile cases, {} defeated ({refused} refused, \
                 {neutralized} neutralized) in {} tests\n",
                refused + neutralized,
                SUITE.len()
            );
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

/// Sends `request` over HTTP/1.1 and asserts the refusal `status` and that no upstream
/// received anything; counts the case.
pub async fn refused(
    env: &Env,
    tally: &mut Tally,
    what: &str,
    request: Req,
    status: u16,
) -> TestResponse {
    let before = env.upstream_count();
    let response = env.send(request).await;
    assert_eq!(response.status, status, "{what}: {}", response.text());
    assert_eq!(
        env.upstream_count(),
        before,
        "{what}: an upstream received the request"
    );
    tally.refused();
    response
}

/// Asserts that the gateway still serves a normal request after an attack.
pub async fn assert_still_serving(env: &Env, what: &str) {
    let response = within(env.send(Req::get("app1.example.test", "/public/alive"))).await;
    assert_eq!(
        response.status,
        200,
        "{what}: the gateway stopped serving: {}",
        response.text()
    );
}
