//! [`Env`]: a gateway with the common auth config in front of two recording upstreams, and
//! what tests do with it: send requests over HTTP/1.1 or HTTP/2, log in, count what the
//! upstreams received, read the gateway's metrics.

use super::auth_config::{AuthConfig, auth_config};
use super::client::{Protocol, TestClient, TestResponse, http2};
use super::cookies::gateway_set_cookie;
use super::gateway::TestGateway;
use super::requests::{Req, login_json};
use super::tokens::token_part;
use super::upstream::{self, Upstream};
use super::users::ALICE_PASSWORD;

/// A gateway with the common config in front of two upstreams.
pub struct Env {
    pub gateway: TestGateway,
    pub client: TestClient,
    pub app1: Upstream,
    pub app2: Upstream,
}

/// [`Env`] with the common config.
pub async fn env() -> Env {
    env_with(|config| config).await
}

/// [`Env`] with the common config changed by `change`.
pub async fn env_with(change: impl FnOnce(AuthConfig) -> AuthConfig) -> Env {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let config = change(auth_config(&app1.url(), &app2.url()));
    Env::new(config.start().await, app1, app2)
}

impl Env {
    /// The [`Env`] of a gateway started in front of `app1` and `app2`.
    pub fn new(gateway: TestGateway, app1: Upstream, app2: Upstream) -> Env {
        let client = gateway.client();
        Env {
            gateway,
            client,
            app1,
            app2,
        }
    }

    /// Sends `request` over HTTP/1.1.
    pub async fn send(&self, request: Req) -> TestResponse {
        self.client.send(request.build(), Protocol::Http1).await
    }

    /// Sends `request` over HTTP/2 (`:authority` = its host and the gateway's port).
    pub async fn send_h2(&self, request: Req) -> TestResponse {
        self.client
            .send(request.build_h2(self.gateway.addr.port()), Protocol::Http2)
            .await
    }

    /// How many requests both upstreams have received.
    pub fn upstream_count(&self) -> usize {
        self.app1.received().len() + self.app2.received().len()
    }

    /// JSON login on `host`, without Origin (a non-browser client).
    pub async fn login_json(&self, host: &str, user: &str, password: &str) -> TestResponse {
        login_json(&self.client, host, user, password).await
    }

    /// JSON login on app1 that must succeed; returns (access_token, cookie token).
    pub async fn login(&self, user: &str, password: &str) -> (String, String) {
        let response = self.login_json("app1.example.test", user, password).await;
        assert_eq!(response.status, 200, "login failed: {}", response.text());
        let token = response.json()["access_token"]
            .as_str()
            .expect("access_token is a string")
            .to_owned();
        let cookie = gateway_set_cookie(&response.headers).value;
        (token, cookie)
    }

    /// The `kid` the gateway puts in the asymmetric tokens it issues (from a login of alice).
    pub async fn issued_kid(&self) -> String {
        let (issued, _) = self.login("alice", ALICE_PASSWORD).await;
        token_part(&issued, 0)["kid"]
            .as_str()
            .expect("asymmetric tokens carry a kid")
            .to_owned()
    }

    /// Form login on `host` with `Origin: https://{host}`.
    pub async fn login_form(
        &self,
        host: &str,
        user: &str,
        password: &str,
        rd: Option<&str>,
    ) -> TestResponse {
        let mut fields = vec![("username", user), ("password", password)];
        if let Some(rd) = rd {
            fields.push(("rd", rd));
        }
        self.send(
            Req::post(host, "/.auth/login")
                .origin(&format!("https://{host}"))
                .accept("text/html")
                .form(&fields),
        )
        .await
    }
}

/// Concurrent requests and metrics, for the throttling tests.
impl Env {
    /// The value of one series of the gateway's metrics (`name{labels}`), 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        self.gateway
            .gateway
            .metrics()
            .encode()
            .lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0.0)
    }

    /// Sends every request at once, multiplexed over `connections` HTTP/2 connections;
    /// returns the responses in the order of `requests`.
    pub async fn send_all_h2(&self, requests: Vec<Req>, connections: usize) -> Vec<TestResponse> {
        let mut senders = Vec::new();
        for _ in 0..connections.max(1) {
            let tls = self
                .client
                .connect("app1.example.test", Protocol::Http2)
                .await;
            let (sender, _connection) = http2(tls).await;
            senders.push(sender);
        }
        let port = self.gateway.addr.port();
        let tasks: Vec<_> = requests
            .into_iter()
            .enumerate()
            .map(|(i, request)| {
                let mut sender = senders[i % senders.len()].clone();
                let request = request.build_h2(port);
                tokio::spawn(async move {
                    let response = sender.send_request(request).await.expect("response");
                    super::client::read(response).await
                })
            })
            .collect();
        let mut responses = Vec::new();
        for task in tasks {
            responses.push(super::within(task).await.expect("request task"));
        }
        responses
    }
}
