//! Several instances sharing one real Redis (`[state] store = "redis"`), behind a real L4
//! balancer (HAProxy, TCP mode; TLS ends at the gateways): revocations, "signed out
//! everywhere", login throttling, and Redis faults.
//!
//! [`Cluster`] is three in-process gateways (one CA, so one client trusts all of them) on
//! one Redis, with a client per instance and one through the balancer. Waits for another
//! instance to learn something are polls with a bound ([`eventually`]), never a sleep.

mod faults;
mod revocation;
mod second_factor;
mod throttle;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::support::auth_config::{AuthConfig, auth_config};
use crate::support::certs::TestCa;
use crate::support::client::{Protocol, TestClient, TestResponse};
use crate::support::cookies::gateway_set_cookie;
use crate::support::gateway::{TestGateway, start_with_ca};
use crate::support::haproxy::Balancer;
use crate::support::redis::RedisServer;
use crate::support::requests::{Req, login_json};
use crate::support::upstream::{self, Upstream};

/// A revocation made on one instance is refused by every other within this (issue 16).
pub const PROPAGATION_BOUND: Duration = Duration::from_secs(1);

/// Three gateways sharing `redis`, behind a balancer.
pub struct Cluster {
    pub instances: Vec<TestGateway>,
    /// One client per instance, connecting to it directly.
    pub direct: Vec<TestClient>,
    /// A client connecting through the balancer.
    pub balanced: TestClient,
    _app1: Upstream,
    _app2: Upstream,
    _balancer: Balancer,
}

/// The `[state]` section for `redis` (appended after the routes).
pub fn state_section(redis: &RedisServer) -> String {
    format!(
        "\n[state]\nstore = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"test:\"\n",
        redis.url()
    )
}

impl Cluster {
    /// Three instances with the common auth config changed by `change`, on `redis`.
    pub async fn start(
        redis: &RedisServer,
        change: impl FnOnce(AuthConfig) -> AuthConfig,
    ) -> Cluster {
        let app1 = upstream::start("app1").await;
        let app2 = upstream::start("app2").await;
        let config = change(auth_config(&app1.url(), &app2.url()));
        let text = format!("{}{}", config.text(), state_section(redis));
        let files = config.files();
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
        let ca = Arc::new(TestCa::new());
        let mut instances = Vec::new();
        for _ in 0..3 {
            instances.push(start_with_ca(&text, "", &[], &files, ca.clone()).await);
        }
        let direct: Vec<TestClient> = instances.iter().map(TestGateway::client).collect();
        let backends: Vec<_> = instances.iter().map(|g| g.addr).collect();
        let balancer = Balancer::start(&backends).await;
        let balanced = TestClient::new(balancer.addr, &ca.cert);
        let cluster = Cluster {
            instances,
            direct,
            balanced,
            _app1: app1,
            _app2: app2,
            _balancer: balancer,
        };
        for n in 0..3 {
            cluster.wait_until_ready(n).await;
        }
        cluster
    }

    /// Polls instance `n`'s `/readyz` until it is 200 (its store synced with Redis).
    pub async fn wait_until_ready(&self, n: usize) {
        let admin = self.instances[n].admin_addr;
        eventually(
            &format!("instance {n} ready"),
            crate::support::STEP_TIMEOUT,
            || async move { readyz(admin).await.0 == 200 },
        )
        .await;
    }

    /// JSON login through the balancer that must succeed; returns (access token, cookie).
    pub async fn login(&self, user: &str, password: &str) -> (String, String) {
        let response = login_json(&self.balanced, "app1.example.test", user, password).await;
        assert_eq!(response.status, 200, "login failed: {}", response.text());
        let token = response.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned();
        (token, gateway_set_cookie(&response.headers).value)
    }

    /// `GET app1/` with `token` as a bearer on instance `n`: its status.
    pub async fn status_on(&self, n: usize, token: &str) -> u16 {
        self.direct[n]
            .send(
                Req::get("app1.example.test", "/").bearer(token).build(),
                Protocol::Http1,
            )
            .await
            .status
            .as_u16()
    }

    /// Waits until every instance refuses `token` with 401, within `bound`.
    pub async fn refused_everywhere_within(&self, what: &str, token: &str, bound: Duration) {
        for n in 0..self.instances.len() {
            eventually(
                &format!("{what}: refused by instance {n}"),
                bound,
                || async move { self.status_on(n, token).await == 401 },
            )
            .await;
        }
    }
}

/// Polls `check` every 20 ms until it holds; fails the test with `what` after `bound`.
pub async fn eventually<F, Fut>(what: &str, bound: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /readyz` on an admin listener: (status, body).
pub async fn readyz(admin: std::net::SocketAddr) -> (u16, String) {
    admin_request(admin, "GET", "/readyz").await
}

/// One plain-HTTP request to an admin listener: (status, body).
pub async fn admin_request(admin: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(admin).await.ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        Some((status, body))
    };
    crate::support::within(exchange)
        .await
        .unwrap_or((0, String::new()))
}

/// The response of a logout with `cookie` through the balancer.
pub async fn logout(client: &TestClient, cookie: &str) -> TestResponse {
    client
        .send(
            Req::post("app1.example.test", "/.auth/logout")
                .cookie(cookie)
                .origin("https://app1.example.test")
                .build(),
            Protocol::Http1,
        )
        .await
}
