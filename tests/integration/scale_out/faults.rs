//! Redis faults lose nothing: Redis down at start, killed mid-run, restarted empty, or
//! refusing the password.

use std::sync::Arc;
use std::time::Duration;

use super::{Cluster, PROPAGATION_BOUND, eventually, logout, readyz, state_section};
use crate::support::STEP_TIMEOUT;
use crate::support::auth_config::auth_config;
use crate::support::certs::TestCa;
use crate::support::client::Protocol;
use crate::support::gateway::start_with_ca;
use crate::support::redis::RedisServer;
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256};
use crate::support::upstream;
use crate::support::users::ALICE_PASSWORD;

/// How long instances may take to notice a restarted Redis and re-write what it lost
/// (reconnect backoff is at most 5 s).
const RESYNC_BOUND: Duration = Duration::from_secs(15);

#[tokio::test]
async fn with_redis_down_at_start_the_gateway_serves_reports_why_and_catches_up() {
    let mut redis = RedisServer::start(&[]).await;
    redis.kill();
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let config = auth_config(&app1.url(), &app2.url());
    let text = format!("{}{}", config.text(), state_section(&redis));
    let files = config.files();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    let gateway = start_with_ca(&text, "", &[], &files, Arc::new(TestCa::new())).await;
    let (status, body) = readyz(gateway.admin_addr).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("state store") && body.contains("redis"),
        "{body}"
    );
    // It serves: a valid token is proxied.
    let token = mint_hs256(&claims("alice"));
    let response = gateway
        .client()
        .send(
            Req::get("app1.example.test", "/").bearer(&token).build(),
            Protocol::Http1,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    // Redis comes back: the gateway connects by itself.
    redis.restart().await;
    eventually("ready once redis is up", RESYNC_BOUND, || async {
        readyz(gateway.admin_addr).await.0 == 200
    })
    .await;
}

#[tokio::test]
async fn a_logout_during_an_outage_holds_locally_and_reaches_every_instance_when_redis_returns() {
    let mut redis = RedisServer::start(&[]).await;
    let cluster = Cluster::start(&redis, |c| c).await;
    let (token, cookie) = cluster.login("alice", ALICE_PASSWORD).await;
    let (kept, _) = cluster.login("alice", ALICE_PASSWORD).await;
    // An older revocation, known before the outage: the restarted Redis must get it back.
    let (old, old_cookie) = cluster.login("alice", ALICE_PASSWORD).await;
    assert_eq!(logout(&cluster.direct[2], &old_cookie).await.status, 303);
    cluster
        .refused_everywhere_within("the logout before the outage", &old, PROPAGATION_BOUND)
        .await;

    redis.kill();
    for n in 0..3 {
        let admin = cluster.instances[n].admin_addr;
        eventually(
            &format!("instance {n} reports the outage"),
            STEP_TIMEOUT,
            || async move {
                let (status, body) = readyz(admin).await;
                status == 503 && body.contains("state store")
            },
        )
        .await;
    }
    // Valid tokens are still proxied, by every instance.
    for n in 0..3 {
        assert_eq!(
            cluster.status_on(n, &token).await,
            200,
            "instance {n} during the outage"
        );
    }
    // A logout on instance 0 takes effect there at once.
    let response = logout(&cluster.direct[0], &cookie).await;
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(
        cluster.status_on(0, &token).await,
        401,
        "instance 0 right after logout"
    );
    // Throttling falls back to local counters: a login still works, and is counted.
    let response = cluster.direct[1]
        .send(
            crate::support::requests::json_login("app1.example.test", "alice", ALICE_PASSWORD)
                .build(),
            Protocol::Http1,
        )
        .await;
    assert_eq!(
        response.status,
        200,
        "login during the outage: {}",
        response.text()
    );
    let metrics = cluster.instances[1].gateway.metrics().encode();
    assert!(
        metrics.contains("gateway_state_store_up 0"),
        "state store gauge: {metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gateway_throttle_fallbacks_total ") && !l.ends_with(" 0")),
        "fallbacks counted: {metrics}"
    );

    // Redis returns empty: the instances re-write what they know, and every instance
    // refuses the logout made during the outage, and the older one.
    redis.restart().await;
    cluster
        .refused_everywhere_within("the logout made during the outage", &token, RESYNC_BOUND)
        .await;
    for n in 0..3 {
        cluster.wait_until_ready(n).await;
        assert_eq!(cluster.status_on(n, &old).await, 401, "old logout on {n}");
        assert_eq!(
            cluster.status_on(n, &kept).await,
            200,
            "the other session on {n}"
        );
    }
    let count = redis.cli(&["ZCARD", "test:revocations"]);
    assert!(
        count.trim().parse::<u32>().is_ok_and(|n| n >= 2),
        "revocations re-written to redis: {count:?}"
    );
}

#[tokio::test]
async fn a_wrong_redis_password_is_a_clear_error_in_check_and_readyz_never_a_panic() {
    let redis = RedisServer::start(&["--requirepass", "right-pass-123"]).await;
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let config = auth_config(&app1.url(), &app2.url());
    let wrong = format!(
        "{}\n[state]\nstore = \"redis\"\nredis_url = \"redis://:wrong-pass-456@{}/0\"\n",
        config.text(),
        redis.addr
    );
    let mut files = config.files();
    files.push(("redis.password", b"right-pass-123\n".to_vec()));
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    let gateway = start_with_ca(&wrong, "", &[], &files, Arc::new(TestCa::new())).await;

    let check = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .arg("check")
            .arg("--config")
            .arg(path)
            .env_remove("GATEWAY_CONFIG")
            .output()
            .expect("run gateway check")
    };
    let output = check(&gateway.config_path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check must fail: {stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("wrong-pass-456"),
        "the password is never printed: {stderr}"
    );

    eventually(
        "readyz names the refused credentials",
        STEP_TIMEOUT,
        || async {
            let (status, body) = readyz(gateway.admin_addr).await;
            status == 503
                && body.contains("refused the credentials")
                && !body.contains("wrong-pass")
        },
    )
    .await;

    // The password file wins over the URL's: check reaches Redis and says what it found.
    let right = wrong.replace(
        "redis_url",
        "redis_password_file = \"redis.password\"\nredis_url",
    );
    let path = gateway.config_path.with_file_name("right.toml");
    std::fs::write(
        &path,
        format!("{right}\n[tls]\ncert = \"default.crt\"\nkey = \"default.key\"\n"),
    )
    .expect("write config");
    let output = check(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("state: redis at redis://:***@"), "{stdout}");
    assert!(stdout.contains("revocation(s) shared"), "{stdout}");
}

/// The real binary with a wrong password: it starts, serves, and its log says why Redis is
/// not in use — an error line, no panic, no password.
#[tokio::test]
async fn a_wrong_redis_password_is_logged_by_the_running_binary() {
    let redis = RedisServer::start(&["--requirepass", "right-pass-123"]).await;
    let config = format!(
        "[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n\n\
         [state]\nstore = \"redis\"\nredis_url = \"redis://:wrong-pass-456@{}/0\"\n",
        redis.addr
    );
    let gateway = crate::support::process::GatewayProcess::start("", &config).await;
    let response = gateway.client().get("localhost", "/").await;
    assert_eq!(
        response.status,
        200,
        "serves without redis: {}",
        gateway.log()
    );
    eventually(
        "the log names the refused credentials",
        STEP_TIMEOUT,
        || async { gateway.log().contains("refused the credentials") },
    )
    .await;
    let log = gateway.log();
    assert!(log.contains("ERROR"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        !log.contains("wrong-pass-456"),
        "the password is never logged: {log}"
    );
}
