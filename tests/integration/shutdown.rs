//! Graceful shutdown: in-flight requests finish, new connections are refused.

use std::time::Duration;

use crate::support::gateway::start;
use crate::support::{upstream, within};

#[tokio::test]
async fn request_in_flight_when_shutdown_starts_still_completes() {
    let app = upstream::start("app").await;
    let mut gateway = start(&format!(
        "[server]\nshutdown_grace = \"10s\"\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let client = gateway.client();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get("localhost", "/slow?ms=700").await }
    });
    // Wait until the upstream has the request, so it is truly in flight.
    app.wait_for_request().await;
    gateway.shutdown();
    let response = within(in_flight).await.expect("task");
    assert_eq!(response.status, 200);
    gateway.join().await;
    assert!(
        tokio::net::TcpStream::connect(gateway.addr).await.is_err(),
        "listener must be closed"
    );
}

#[tokio::test]
async fn shutdown_cuts_connections_still_busy_after_the_grace_period() {
    let app = upstream::start("app").await;
    let mut gateway = start(&format!(
        "[server]\nshutdown_grace = \"300ms\"\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let client = gateway.client();
    let stuck = tokio::spawn({
        let client = client.clone();
        async move { client.get("localhost", "/slow?ms=30000").await }
    });
    app.wait_for_request().await;
    let started = std::time::Instant::now();
    gateway.shutdown();
    gateway.join().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    stuck.abort();
}

/// With several workers, each holds a duplicate of the listening socket: all of them serve,
/// and the listener is really closed only once every worker has stopped.
#[tokio::test]
async fn every_worker_serves_and_stops_with_the_gateway() {
    let app = upstream::start("app").await;
    let mut gateway = start(&format!(
        "[server]\nworkers = 4\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let client = gateway.client();
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.get("localhost", &format!("/{i}")).await })
        })
        .collect();
    for request in requests {
        assert_eq!(within(request).await.expect("task").status, 200);
    }
    assert_eq!(app.received().len(), 40);
    // Workers 1–3 are threads of their own (no other test starts more than two workers).
    for index in 1..=3 {
        assert!(
            thread_named(&format!("gateway-w{index}")),
            "worker {index} is not running"
        );
    }
    gateway.shutdown();
    gateway.join().await;
    assert!(
        tokio::net::TcpStream::connect(gateway.addr).await.is_err(),
        "a worker still holds the listener"
    );
    // The thread signals `run` just before it exits: give it a moment to be gone.
    within(async {
        while thread_named("gateway-w3") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Whether a thread of this process has `name` (from /proc/self/task/*/comm).
fn thread_named(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .any(|comm| comm.trim_end() == name)
}
