//! Forwarding: streaming bodies, WebSocket, upstream failures, round robin and failover.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Request;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::client::{Protocol, read};
use crate::support::gateway::{public_route, start};
use crate::support::{upstream, within};

const BIG: u64 = 256 * 1024 * 1024;
/// How much the process may grow while moving [`BIG`] bytes: far less than the body.
const MEMORY_SLACK: u64 = 64 * 1024 * 1024;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS")
}

/// Samples resident memory until dropped; returns the peak.
struct PeakMemory {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakMemory {
    fn start() -> PeakMemory {
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(resident_bytes()));
        let sampler = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                sampler.fetch_max(resident_bytes(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        PeakMemory { peak, task }
    }

    fn stop(self) -> u64 {
        self.task.abort();
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_download_streams_without_buffering() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let client = gateway.client();
    let baseline = resident_bytes();
    let sampler = PeakMemory::start();
    let request = Request::get(format!("/download?bytes={BIG}"))
        .header("host", "localhost")
        .body(Full::<Bytes>::default())
        .expect("request");
    let tls = client.connect("localhost", Protocol::Http1).await;
    let response = crate::support::client::send_on(tls, request, Protocol::Http1).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = 0u64;
    while let Some(frame) = within(body.frame()).await {
        received += frame
            .expect("frame")
            .data_ref()
            .map_or(0, |d| d.len() as u64);
    }
    let peak = sampler.stop();
    assert_eq!(received, BIG);
    assert!(
        peak < baseline + MEMORY_SLACK,
        "resident memory grew by {} MiB",
        (peak - baseline) >> 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_streams_without_buffering() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let client = gateway.client();
    let baseline = resident_bytes();
    let sampler = PeakMemory::start();
    let chunk = Bytes::from(vec![b'u'; 64 * 1024]);
    let chunks = BIG / chunk.len() as u64;
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))),
    );
    let request = Request::post("/upload")
        .header("host", "localhost")
        .body(StreamBody::new(stream))
        .expect("request");
    let tls = client.connect("localhost", Protocol::Http1).await;
    let (mut sender, connection) = within(hyper::client::conn::http1::handshake(
        hyper_util::rt::TokioIo::new(tls),
    ))
    .await
    .expect("handshake");
    tokio::spawn(connection);
    let response = tokio::time::timeout(Duration::from_secs(120), sender.send_request(request))
        .await
        .expect("upload finished in time")
        .expect("response");
    let response = read(response).await;
    let peak = sampler.stop();
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["bytes"], BIG);
    assert!(
        peak < baseline + MEMORY_SLACK,
        "resident memory grew by {} MiB",
        (peak - baseline) >> 20
    );
}

#[tokio::test]
async fn websocket_messages_echo_through_the_gateway() {
    let app = upstream::start("app").await;
    let gateway = start(&public_route(&app.url())).await;
    let tls = gateway.client().connect("localhost", Protocol::Http1).await;
    let request = format!("wss://localhost:{}/ws", gateway.addr.port())
        .into_client_request()
        .expect("ws request");
    let (mut ws, response) = within(tokio_tungstenite::client_async(request, tls))
        .await
        .expect("ws handshake");
    assert_eq!(response.status(), 101);
    for text in ["hello", "through the gateway"] {
        within(ws.send(Message::text(text))).await.expect("send");
        let echoed = within(ws.next()).await.expect("message").expect("ok");
        assert_eq!(echoed, Message::text(text));
    }
    within(ws.send(Message::binary(vec![0u8, 1, 2, 255])))
        .await
        .expect("send");
    assert_eq!(
        within(ws.next()).await.expect("message").expect("ok"),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    let received = app.last();
    assert_eq!(received.headers["upgrade"], "websocket");
}

#[tokio::test]
async fn unreachable_upstream_gets_502_without_naming_it() {
    let closed = upstream::closed_port().await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nupstream = \"http://{closed}\"\n"
    ))
    .await;
    let response = gateway.client().get("localhost", "/").await;
    assert_eq!(response.status, 502);
    assert_eq!(response.json()["error"], "bad_gateway");
    assert!(!response.text().contains(&closed.port().to_string()));
}

#[tokio::test]
async fn slow_upstream_gets_504_after_upstream_timeout() {
    let app = upstream::start("app").await;
    let gateway = start(&format!(
        "[server]\nupstream_timeout = \"300ms\"\n[[route]]\naccess = \"public\"\nupstream = \"{}\"\n",
        app.url()
    ))
    .await;
    let started = Instant::now();
    let response = gateway.client().get("localhost", "/slow?ms=3000").await;
    assert_eq!(response.status, 504);
    assert_eq!(response.json()["error"], "gateway_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let fast = gateway.client().get("localhost", "/slow?ms=10").await;
    assert_eq!(fast.status, 200);
}

#[tokio::test]
async fn upstreams_take_turns() {
    let a = upstream::start("a").await;
    let b = upstream::start("b").await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nupstreams = [\"{}\", \"{}\"]\n",
        a.url(),
        b.url()
    ))
    .await;
    let client = gateway.client();
    let mut served = Vec::new();
    for _ in 0..4 {
        served.push(
            client.get("localhost", "/").await.json()["upstream"]
                .as_str()
                .map(String::from)
                .expect("name"),
        );
    }
    assert_eq!(served, ["a", "b", "a", "b"]);
}

#[tokio::test]
async fn failed_upstream_is_skipped_and_requests_still_succeed() {
    let live = upstream::start("live").await;
    let dead = upstream::closed_port().await;
    let gateway = start(&format!(
        "[[route]]\naccess = \"public\"\nupstreams = [\"http://{dead}\", \"{}\"]\n",
        live.url()
    ))
    .await;
    let client = gateway.client();
    for _ in 0..6 {
        let response = client.get("localhost", "/").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.json()["upstream"], "live");
    }
    assert_eq!(live.received().len(), 6);
}
