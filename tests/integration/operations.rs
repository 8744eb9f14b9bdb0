//! Operations: the admin listener (health, readiness, metrics) and live reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::client::Protocol;
use crate::support::env::env;
use crate::support::gateway::{public_route, start};
use crate::support::raw::{plain, plain_get};
use crate::support::requests::Req;
use crate::support::tokens::{claims, mint_hs256, now, with_claim};
use crate::support::users::ALICE_PASSWORD;
use crate::support::{upstream, within};

/// `GET path` on the admin listener; returns (status, body).
async fn admin_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let text = plain_get(addr, "admin", path).await;
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Parses the Prometheus text exposition into `series{labels} → value`.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(metrics: &HashMap<String, f64>, series: &str) -> f64 {
    metrics.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn health_and_readiness_answer_on_the_admin_listener() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    assert_eq!(
        admin_get(gateway.admin_addr, "/healthz").await,
        (200, "ok\n".to_owned())
    );
    assert_eq!(admin_get(gateway.admin_addr, "/readyz").await.0, 200);
    assert_eq!(admin_get(gateway.admin_addr, "/nope").await.0, 404);
}

#[tokio::test]
async fn readiness_fails_while_an_upstream_host_cannot_be_resolved() {
    let gateway = start(
        "[[route]]\naccess = \"public\"\nupstream = \"http://no-such-upstream.invalid:8080\"\n",
    )
    .await;
    let (status, body) = admin_get(gateway.admin_addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no-such-upstream.invalid:8080"), "{body}");
    assert_eq!(
        admin_get(gateway.admin_addr, "/healthz").await.0,
        200,
        "alive though not ready"
    );
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_requests() {
    let env = env().await;
    let admin = env.gateway.admin_addr;
    let (token, _) = env.login("alice", ALICE_PASSWORD).await;
    // Two authenticated requests (the second is a token-cache hit), one without credentials,
    // one with an expired token, one public, one failed login.
    for _ in 0..2 {
        assert_eq!(
            env.send(Req::get("app1.example.test", "/x").bearer(&token))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        env.send(Req::get("app1.example.test", "/x")).await.status,
        401
    );
    let expired = mint_hs256(&with_claim(
        claims("alice"),
        "exp",
        serde_json::json!(now() - 3600),
    ));
    assert_eq!(
        env.send(Req::get("app1.example.test", "/x").bearer(&expired))
            .await
            .status,
        401
    );
    assert_eq!(
        env.send(Req::get("app1.example.test", "/public/p"))
            .await
            .status,
        200
    );
    assert_eq!(
        env.login_json("app1.example.test", "alice", "wrong")
            .await
            .status,
        401
    );
    // A TLS handshake that fails: plain text on the TLS port.
    plain(env.gateway.addr, b"GET / HTTP/1.1\r\n\r\n").await;

    let (status, text) = admin_get(admin, "/metrics").await;
    assert_eq!(status, 200);
    let metrics = parse_metrics(&text);
    let requests = |route: &str, class: &str| {
        value(
            &metrics,
            &format!("gateway_requests_total{{route=\"{route}\",class=\"{class}\"}}"),
        )
    };
    assert_eq!(requests("app1.example.test /", "2xx"), 2.0, "{text}");
    assert_eq!(requests("app1.example.test /", "4xx"), 2.0, "{text}");
    assert_eq!(requests("app1.example.test /public", "2xx"), 1.0, "{text}");
    assert_eq!(requests("gateway endpoints", "2xx"), 1.0, "{text}");
    assert_eq!(requests("gateway endpoints", "4xx"), 1.0, "{text}");
    assert_eq!(
        value(&metrics, r#"gateway_auth_total{outcome="valid"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(&metrics, r#"gateway_auth_total{outcome="expired"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&metrics, r#"gateway_logins_total{result="success"}"#),
        1.0
    );
    assert_eq!(
        value(&metrics, r#"gateway_logins_total{result="failure"}"#),
        1.0
    );
    assert_eq!(
        value(&metrics, r#"gateway_token_cache_total{result="hit"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&metrics, r#"gateway_token_cache_total{result="miss"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(&metrics, "gateway_tls_handshake_failures_total"),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&metrics, "gateway_request_duration_seconds_count"),
        7.0,
        "{text}"
    );
    assert!(
        text.contains("# TYPE gateway_open_connections gauge"),
        "{text}"
    );
}

#[tokio::test]
async fn upstream_failures_are_counted_by_kind() {
    let closed = upstream::closed_port().await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nupstream = \"http://{closed}\"\n"
    ))
    .await;
    assert_eq!(gateway.client().get("localhost", "/").await.status, 502);
    let (_, text) = admin_get(gateway.admin_addr, "/metrics").await;
    let metrics = parse_metrics(&text);
    assert_eq!(
        value(&metrics, r#"gateway_upstream_errors_total{kind="connect"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &metrics,
            r#"gateway_requests_total{route="* /",class="5xx"}"#
        ),
        1.0,
        "{text}"
    );
}

/// Keeps `workers` clients requesting `host`/`path` until stopped; counts failures.
struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(
        client: crate::support::client::TestClient,
        host: &'static str,
        workers: usize,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = (0..workers)
            .map(|_| {
                let (client, stop, served, failures) = (
                    client.clone(),
                    stop.clone(),
                    served.clone(),
                    failures.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let response = client.get(host, "/load").await;
                        if response.status == 200 {
                            served.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failures.lock().expect("lock").push(format!(
                                "{} {}",
                                response.status,
                                response.text()
                            ));
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            served,
            failures,
            tasks,
        }
    }

    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            within(task).await.expect("load task");
        }
        let failures = self.failures.lock().expect("lock").clone();
        (self.served.load(Ordering::Relaxed), failures)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_applies_new_routes_users_and_certificates_without_failures() {
    let blue = upstream::start("blue").await;
    let green = upstream::start("green").await;
    let env_config =
        |upstream: &str| format!("[[route]]\naccess = \"public\"\nupstream = \"{upstream}\"\n");
    let gateway = start(&env_config(&blue.url())).await;
    let load = Load::start(gateway.client(), "localhost", 4);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 1. The route now points at another upstream.
    let text = std::fs::read_to_string(&gateway.config_path).expect("config");
    std::fs::write(
        &gateway.config_path,
        text.replace(&blue.url(), &green.url()),
    )
    .expect("write");
    gateway
        .gateway
        .reload_from(&gateway.config_path, &|_| None)
        .expect("reload");
    // Polled, bounded by `within`: the load reaches the new upstream once the route moved.
    green.wait_for_request().await;
    let after_route_change = green.received().len();
    assert!(after_route_change > 0, "new route not used");

    // 2. New certificate files: new connections get the new certificate.
    let before = gateway.client().connect("localhost", Protocol::Http1).await;
    let old_cert = before.get_ref().1.peer_certificates().expect("certs")[0].clone();
    let dir = gateway.config_path.parent().expect("dir");
    let new_cert = gateway
        .ca
        .leaf(dir, "default", &crate::support::gateway::DEFAULT_NAMES);
    gateway
        .gateway
        .reload_from(&gateway.config_path, &|_| None)
        .expect("reload with new cert");
    let after = gateway.client().connect("localhost", Protocol::Http1).await;
    let served_cert = after.get_ref().1.peer_certificates().expect("certs")[0].clone();
    assert_eq!(served_cert, new_cert.der);
    assert_ne!(served_cert, old_cert);

    let (served, failures) = load.finish().await;
    assert!(
        failures.is_empty(),
        "{} failed requests during reloads: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(served > 20, "only {served} requests were served");
    assert!(green.received().len() >= after_route_change);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_picks_up_a_new_user_and_keeps_revocations() {
    let env = env().await;
    let (token, _) = env.login("alice", ALICE_PASSWORD).await;
    // Log out: the token is revoked.
    let logout = env
        .send(
            Req::post("app1.example.test", "/.auth/logout")
                .bearer(&token)
                .origin("https://app1.example.test"),
        )
        .await;
    assert_eq!(logout.status, 303);
    assert_eq!(
        env.login_json("app1.example.test", "dora", "dora-pass")
            .await
            .status,
        401
    );

    let dir = env.gateway.config_path.parent().expect("dir");
    let users = std::fs::read_to_string(dir.join("users.toml")).expect("users");
    let dora = format!(
        "{users}\n[[user]]\nname = \"dora\"\npassword = \"{}\"\n",
        crate::support::users::hash_password("dora-pass")
    );
    std::fs::write(dir.join("users.toml"), dora).expect("write users");
    env.gateway
        .gateway
        .reload_from(&env.gateway.config_path, &|_| None)
        .expect("reload");

    assert_eq!(
        env.login_json("app1.example.test", "dora", "dora-pass")
            .await
            .status,
        200
    );
    let revoked = env
        .send(Req::get("app1.example.test", "/x").bearer(&token))
        .await;
    assert_eq!(
        revoked.status, 401,
        "a reload must not un-revoke a logged-out token"
    );
}

#[tokio::test]
async fn bad_reload_is_refused_with_positions_and_the_old_config_keeps_serving() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let good = std::fs::read_to_string(&gateway.config_path).expect("config");
    std::fs::write(
        &gateway.config_path,
        format!("[server]\nidle_timeout = \"soon\"\n{good}"),
    )
    .expect("write");
    let error = gateway
        .gateway
        .reload_from(&gateway.config_path, &|_| None)
        .expect_err("invalid config must be refused");
    let message = error.to_string();
    assert!(
        message.contains("gateway.toml:2:16: invalid duration"),
        "{message}"
    );
    // A config that parses but names a missing certificate is refused too.
    std::fs::write(
        &gateway.config_path,
        good.replace("default.crt", "missing.crt"),
    )
    .expect("write");
    assert!(
        gateway
            .gateway
            .reload_from(&gateway.config_path, &|_| None)
            .is_err()
    );

    assert_eq!(
        gateway.client().get("localhost", "/still").await.status,
        200
    );
    let (_, text) = admin_get(gateway.admin_addr, "/metrics").await;
    let metrics = parse_metrics(&text);
    assert_eq!(
        value(
            &metrics,
            r#"gateway_config_reloads_total{result="failure"}"#
        ),
        2.0,
        "{text}"
    );
}
