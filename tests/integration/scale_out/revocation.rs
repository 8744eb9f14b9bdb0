//! Revocations shared through Redis: a logout on any instance, and "signed out everywhere"
//! (`gateway revoke --user`, admin `POST /revoke?user=`), are refused by every instance.

use serde_json::json;

use super::{Cluster, PROPAGATION_BOUND, admin_request, logout};
use crate::support::client::Protocol;
use crate::support::cookies::{gateway_set_cookie, sets_gateway_cookie};
use crate::support::redis::RedisServer;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256, now, token_part, with_claim};
use crate::support::users::ALICE_PASSWORD;

#[tokio::test]
async fn a_logout_through_the_balancer_is_refused_by_every_instance_within_a_second() {
    let redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| c).await;
    let (token, cookie) = cluster.login("alice", ALICE_PASSWORD).await;
    for n in 0..3 {
        assert_eq!(
            cluster.status_on(n, &token).await,
            200,
            "instance {n} before logout"
        );
    }
    let response = logout(&cluster.balanced, &cookie).await;
    assert_eq!(response.status, 303, "{}", response.text());
    cluster
        .refused_everywhere_within("the logged-out cookie", &cookie, PROPAGATION_BOUND)
        .await;
    cluster
        .refused_everywhere_within("its access token", &token, PROPAGATION_BOUND)
        .await;
    // Another session of alice is untouched.
    let (other, _) = cluster.login("alice", ALICE_PASSWORD).await;
    for n in 0..3 {
        assert_eq!(
            cluster.status_on(n, &other).await,
            200,
            "instance {n}, other session"
        );
    }
}

#[tokio::test]
async fn the_renewed_and_the_original_token_of_a_session_both_die_at_logout_on_every_instance() {
    let redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| c).await;
    // A session token close to its expiry, renewed by instance 0.
    let original = mint_hs256(&with_claim(claims("alice"), "exp", json!(now() + 60)));
    let response = cluster.direct[0]
        .send(
            Req::get("app1.example.test", "/").cookie(&original).build(),
            Protocol::Http1,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(sets_gateway_cookie(&response.headers), "renewed");
    let renewed = gateway_set_cookie(&response.headers).value;
    assert_eq!(
        token_part(&renewed, 1)["sid"],
        token_part(&original, 1)["sid"]
    );
    // Logout with the renewed one on instance 1.
    let response = logout(&cluster.direct[1], &renewed).await;
    assert_eq!(response.status, 303, "{}", response.text());
    cluster
        .refused_everywhere_within("the renewed token", &renewed, PROPAGATION_BOUND)
        .await;
    cluster
        .refused_everywhere_within("the original token", &original, PROPAGATION_BOUND)
        .await;
}

#[tokio::test]
async fn revoke_user_signs_the_user_out_on_every_instance() {
    let redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| c).await;
    let (first, _) = cluster.login("alice", ALICE_PASSWORD).await;
    let (second, _) = cluster.login("alice", ALICE_PASSWORD).await;
    let (bob, _) = cluster
        .login("bob", crate::support::users::BOB_PASSWORD)
        .await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("revoke")
        .arg("--config")
        .arg(&cluster.instances[2].config_path)
        .args(["--user", "alice"])
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway revoke");
    assert!(
        output.status.success(),
        "gateway revoke: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("signed out everywhere"));
    for (what, token) in [("first session", &first), ("second session", &second)] {
        cluster
            .refused_everywhere_within(what, token, PROPAGATION_BOUND)
            .await;
    }
    for n in 0..3 {
        assert_eq!(cluster.status_on(n, &bob).await, 200, "bob on instance {n}");
    }
    // Alice can sign in again, and that new session works everywhere.
    let (fresh, _) = cluster.login("alice", ALICE_PASSWORD).await;
    for n in 0..3 {
        assert_eq!(
            cluster.status_on(n, &fresh).await,
            200,
            "new session on {n}"
        );
    }

    // The admin listener does the same for bob, on every instance.
    let (status, body) =
        admin_request(cluster.instances[0].admin_addr, "POST", "/revoke?user=bob").await;
    assert_eq!(status, 200, "{body}");
    cluster
        .refused_everywhere_within("bob after POST /revoke", &bob, PROPAGATION_BOUND)
        .await;
    let (status, _) =
        admin_request(cluster.instances[0].admin_addr, "GET", "/revoke?user=bob").await;
    assert_eq!(status, 405);
    let (status, _) = admin_request(cluster.instances[0].admin_addr, "POST", "/revoke").await;
    assert_eq!(status, 400);
}

/// With `store = "memory"` there is no shared store: `gateway revoke --user` asks the
/// running instance through its admin listener.
#[tokio::test]
async fn revoke_user_with_the_memory_store_goes_through_the_admin_listener() {
    let app1 = crate::support::upstream::start("app1").await;
    let app2 = crate::support::upstream::start("app2").await;
    let config = crate::support::auth_config::auth_config(&app1.url(), &app2.url());
    let files_dir = tempfile::tempdir().expect("tempdir");
    for (name, contents) in config.files() {
        std::fs::write(files_dir.path().join(name), contents).expect("write file");
    }
    let text = config
        .text()
        .replace(
            "secret_file = \"jwt.secret\"",
            &format!(
                "secret_file = \"{}\"",
                files_dir.path().join("jwt.secret").display()
            ),
        )
        .replace(
            "file = \"users.toml\"",
            &format!(
                "file = \"{}\"",
                files_dir.path().join("users.toml").display()
            ),
        );
    let [admin] = crate::support::process::free_addrs::<1>();
    let gateway = crate::support::process::GatewayProcess::start(
        &format!("admin_listen = \"{admin}\"\n"),
        &text,
    )
    .await;
    let token = mint_hs256(&claims("alice"));
    let status = |token: String| {
        let client = gateway.client();
        async move {
            client
                .send(
                    Req::get("app1.example.test", "/").bearer(&token).build(),
                    Protocol::Http1,
                )
                .await
                .status
                .as_u16()
        }
    };
    assert_eq!(status(token.clone()).await, 200, "{}", gateway.log());
    let config_path = gateway.config_path();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("revoke")
        .arg("--config")
        .arg(&config_path)
        .args(["--user", "alice"])
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway revoke");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("signed out on the instance at {admin}")),
        "{stdout}"
    );
    assert_eq!(status(token).await, 401, "refused after revoke");
}

/// Whatever else is on the channel or in the set — garbage, a foreign shape, a huge
/// number — is ignored with a warning: the instances keep serving and keep learning.
#[tokio::test]
async fn malformed_messages_and_members_from_redis_are_ignored() {
    let redis = RedisServer::start(&[]).await;
    for junk in [
        "not json",
        "{\"k\":\"s\",\"u\":\"a\",\"x\":1}",
        "{\"k\":\"u\",\"u\":\"a\",\"x\":1e400}",
    ] {
        redis.cli(&["ZADD", "test:revocations", "99999999999999", junk]);
    }
    let cluster = Cluster::start(&redis, |c| c).await;
    for junk in [
        "\u{1}\u{2}\u{ff}",
        "[]",
        "{\"k\":\"t\",\"u\":\"alice\",\"x\":\"soon\"}",
    ] {
        redis.cli(&["PUBLISH", "test:revocations", junk]);
    }
    let (token, cookie) = cluster.login("alice", ALICE_PASSWORD).await;
    for n in 0..3 {
        assert_eq!(
            cluster.status_on(n, &token).await,
            200,
            "instance {n} still serves"
        );
    }
    assert_eq!(logout(&cluster.balanced, &cookie).await.status, 303);
    cluster
        .refused_everywhere_within("a logout after the junk", &cookie, PROPAGATION_BOUND)
        .await;
}
