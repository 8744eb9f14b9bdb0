//! The idle, first-request and stall deadlines under tokio's paused clock: what wakes the
//! driver, and when.

use std::sync::atomic::AtomicUsize;

use http_body_util::{BodyExt, Full};

use super::*;

/// Counts the polls of `future` into `polls`.
async fn counted<F: Future>(future: F, polls: &AtomicUsize) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        polls.fetch_add(1, Ordering::Relaxed);
        future.as_mut().poll(cx)
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_request_in_flight_past_the_idle_deadline_does_not_wake_the_driver() {
    let activity = Activity::for_tests("idle_timeout = \"1s\"");
    let request = activity.request_started();
    let polls = Arc::new(AtomicUsize::new(0));
    let idle = tokio::spawn({
        let (activity, polls) = (activity.clone(), polls.clone());
        async move { counted(activity.next_event(), &polls).await }
    });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!idle.is_finished(), "idle with a request in flight");
    // The old driver re-armed a timer already past: a poll per turn of the runtime.
    assert!(polls.load(Ordering::Relaxed) <= 3, "{polls:?} polls");
    drop(request);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        !idle.is_finished(),
        "the idle deadline counts from the request's end"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(idle.is_finished());
    assert!(polls.load(Ordering::Relaxed) <= 5, "{polls:?} polls");
}

#[tokio::test(start_paused = true)]
async fn the_first_request_is_due_within_header_read_timeout_the_next_within_idle_timeout() {
    let activity = Activity::for_tests("idle_timeout = \"60s\"\nheader_read_timeout = \"2s\"");
    activity.restart_clock(); // the handshake
    let started = Instant::now();
    assert_eq!(activity.next_event().await, Event::Idle);
    assert_eq!(started.elapsed().as_secs(), 2);
    drop(activity.request_started());
    let started = Instant::now();
    assert_eq!(activity.next_event().await, Event::Idle);
    assert_eq!(started.elapsed().as_secs(), 60);
}

#[tokio::test(start_paused = true)]
async fn a_response_body_keeps_its_request_in_flight_until_sent() {
    let activity = Activity::for_tests("");
    let body = Guarded::new(
        Full::new(Bytes::from_static(b"x")),
        activity.request_started(),
    );
    let mut body = std::pin::pin!(body);
    assert_eq!(activity.in_flight.load(Ordering::Relaxed), 1);
    let frame = body.frame().await.expect("a frame").expect("data");
    assert_eq!(frame.into_data().ok(), Some(Bytes::from_static(b"x")));
    assert_eq!(activity.in_flight.load(Ordering::Relaxed), 1);
    assert!(body.frame().await.is_none());
    assert_eq!(activity.in_flight.load(Ordering::Relaxed), 0);
}

/// A body that yields a frame whenever asked and never ends.
struct Endless;

impl Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x")))))
    }
}

#[tokio::test(start_paused = true)]
async fn a_frame_the_client_does_not_take_for_write_timeout_stalls_the_connection() {
    let activity = Activity::for_tests("write_timeout = \"5s\"\nidle_timeout = \"1h\"");
    let body = Guarded::new(Endless, activity.request_started());
    let mut body = std::pin::pin!(body);
    let watcher = tokio::spawn({
        let activity = activity.clone();
        async move { activity.next_event().await }
    });
    // The client takes a frame every 4 s for a minute: never a stall.
    for _ in 0..15 {
        body.frame().await.expect("frame").expect("data");
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            !watcher.is_finished(),
            "a slow but steady client is not cut"
        );
    }
    body.frame().await.expect("frame").expect("data");
    let started = Instant::now();
    assert_eq!(watcher.await.expect("watcher"), Event::Stalled);
    assert_eq!(started.elapsed().as_secs(), 5);
}

/// A body fed by a channel, as an upstream's body arrives.
struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

impl Body for Fed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|data| data.map(|d| Ok(Frame::data(d))))
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_waiting_for_its_upstream_is_not_a_stall() {
    let activity = Activity::for_tests("write_timeout = \"5s\"\nidle_timeout = \"1h\"");
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let mut body = Box::pin(Guarded::new(Fed(receiver), activity.request_started()));
    let watcher = tokio::spawn({
        let activity = activity.clone();
        async move { activity.next_event().await }
    });
    sender.send(Bytes::from_static(b"x")).await.expect("send");
    body.frame().await.expect("frame").expect("data");
    // hyper asks for the next frame at once; the upstream sends nothing for a minute.
    let next = tokio::spawn(async move { body.frame().await.is_some() });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!watcher.is_finished());
    drop(sender);
    assert!(!next.await.expect("next frame"), "the body ended");
    assert_eq!(watcher.await.expect("watcher"), Event::Idle);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_allows_a_rest_rests_the_connection_idle_release_after_it_ends() {
    let activity = Activity::for_tests("idle_timeout = \"60s\"\nidle_release_after = \"2s\"");
    let mut request = activity.request_started();
    request.allow_rest();
    let started = Instant::now();
    drop(request);
    assert_eq!(activity.next_event().await, Event::Rest);
    assert_eq!(started.elapsed().as_secs(), 2);
    // Once: the idle deadline still follows.
    assert_eq!(activity.next_event().await, Event::Idle);
    assert_eq!(started.elapsed().as_secs(), 60);
}

#[tokio::test(start_paused = true)]
async fn with_idle_release_after_zero_the_rest_follows_the_request_at_once() {
    let activity = Activity::for_tests("idle_release_after = \"0s\"");
    let mut request = activity.request_started();
    request.allow_rest();
    let started = Instant::now();
    drop(request);
    assert_eq!(activity.next_event().await, Event::Rest);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_request_before_the_rest_or_one_that_does_not_allow_it_leaves_the_connection_as_it_is() {
    let activity = Activity::for_tests("idle_timeout = \"60s\"\nidle_release_after = \"2s\"");
    let mut rested = activity.request_started();
    rested.allow_rest();
    drop(rested);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The next request (a body, a close) does not allow it: its end is no rest either.
    let request = activity.request_started();
    drop(request);
    let started = Instant::now();
    assert_eq!(activity.next_event().await, Event::Idle);
    assert_eq!(started.elapsed().as_secs(), 60);
}
