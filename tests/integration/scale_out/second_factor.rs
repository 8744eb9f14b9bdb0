//! The second factor across instances: a sign-in begun on one instance ends on another
//! (the challenge is in Redis), a challenge is handed out once across all of them, and a
//! code accepted by one is a replay on every other.

use serde_json::json;

use super::Cluster;
use crate::support::client::{Protocol, TestResponse};
use crate::support::redis::RedisServer;
use crate::support::requests::{Req, login_json};
use crate::support::totp::{ALICE_TOTP, Clock, users_with_totp};
use crate::support::users::ALICE_PASSWORD;

const APP1: &str = "app1.example.test";

impl Cluster {
    /// The password step of alice on instance `n`: its challenge.
    async fn challenge_on(&self, n: usize) -> String {
        let response = login_json(&self.direct[n], APP1, "alice", ALICE_PASSWORD).await;
        assert_eq!(response.status, 401, "{}", response.text());
        assert_eq!(response.json()["error"], "second_factor_required");
        response.json()["challenge"]
            .as_str()
            .expect("challenge")
            .to_owned()
    }

    /// The code step on instance `n`.
    async fn code_on(&self, n: usize, challenge: &str, code: &str) -> TestResponse {
        let body = json!({ "challenge": challenge, "code": code });
        self.direct[n]
            .send(
                Req::post(APP1, "/.auth/login").json(&body).build(),
                Protocol::Http1,
            )
            .await
    }
}

#[tokio::test]
async fn a_sign_in_begun_on_one_instance_ends_on_another_and_its_code_is_a_replay_everywhere() {
    let redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| c.users(&users_with_totp())).await;
    let clock = Clock::now();
    let code = clock.next(ALICE_TOTP);

    let challenge = cluster.challenge_on(0).await;
    let signed_in = cluster.code_on(1, &challenge, &code).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    let token = signed_in.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(cluster.status_on(2, &token).await, 200);

    // The challenge was taken once, by instance 1: instance 2 does not have it.
    let reused = cluster.code_on(2, &challenge, &code).await;
    assert_eq!(reused.status, 401, "{}", reused.text());

    // The same code, on a fresh sign-in at another instance: a replay.
    let again = cluster.challenge_on(2).await;
    let replayed = cluster.code_on(2, &again, &code).await;
    assert_eq!(replayed.status, 401, "{}", replayed.text());
    assert_eq!(replayed.json()["error"], "invalid_credentials");
    assert!(replayed.json()["access_token"].is_null());
}
