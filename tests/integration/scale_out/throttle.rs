//! Login throttling shared through Redis: a guesser spreading attempts over the three
//! instances gets the same budget as on one (`max_failures = 3`), per username and per
//! client address.

use super::Cluster;
use crate::support::client::Protocol;
use crate::support::redis::RedisServer;
use crate::support::rejections::{assert_error, assert_throttled};
use crate::support::requests::login_via;
use crate::support::users::ALICE_PASSWORD;

#[tokio::test]
async fn failures_spread_over_three_instances_lock_the_username_as_on_one() {
    let redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| {
        c.max_failures(3)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    // One failure per instance, each from another client address.
    for n in 0..3 {
        let ip = format!("198.51.100.{}", n + 1);
        let response = cluster.direct[n]
            .send(
                login_via(&ip, "alice", "wrong-password").build(),
                Protocol::Http1,
            )
            .await;
        assert_error(
            &response,
            401,
            "invalid_credentials",
            &format!("failure on {n}"),
        );
    }
    // The username is now locked on every instance, even for the right password from a
    // fresh address.
    for n in 0..3 {
        let ip = format!("203.0.113.{}", n + 1);
        let response = cluster.direct[n]
            .send(
                login_via(&ip, "alice", ALICE_PASSWORD).build(),
                Protocol::Http1,
            )
            .await;
        assert_throttled(&response, &format!("locked username on instance {n}"));
    }
}

#[tokio::test]
async fn failures_spread_over_three_instances_lock_the_client_address_as_on_one() {
    let redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| {
        c.max_failures(3)
            .server("trusted_proxies = [\"127.0.0.0/8\"]")
    })
    .await;
    for (n, user) in ["nobody-1", "nobody-2", "nobody-3"].into_iter().enumerate() {
        let response = cluster.direct[n]
            .send(
                login_via("198.51.100.77", user, "wrong").build(),
                Protocol::Http1,
            )
            .await;
        assert_error(
            &response,
            401,
            "invalid_credentials",
            &format!("failure on {n}"),
        );
    }
    for n in 0..3 {
        let response = cluster.direct[n]
            .send(
                login_via("198.51.100.77", "alice", ALICE_PASSWORD).build(),
                Protocol::Http1,
            )
            .await;
        assert_throttled(&response, &format!("locked address on instance {n}"));
    }
}
