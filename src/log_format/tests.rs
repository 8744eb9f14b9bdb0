//! The formats against `tracing_subscriber`'s own: the same events must give the same
//! lines (timestamps aside), so switching formatters changed nothing a log reader sees.

use std::io;
use std::sync::{Arc, Mutex};

use tracing::{info, info_span, warn};
use tracing_subscriber::fmt::MakeWriter;

use super::{Json, JsonFields, Text, TextFields, within_request};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().expect("capture").clone())
            .expect("utf-8")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug)]
struct Outer(std::io::Error);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot reach the upstream")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// How a test marks the events of request `id`: ours with [`within_request`], the
/// reference formatter's with the `request` span the gateway used to open.
type InRequest = fn(u64, &dyn Fn());

fn in_request_span(id: u64, events: &dyn Fn()) {
    info_span!("request", id).in_scope(events);
}

fn in_request_scope(id: u64, events: &dyn Fn()) {
    within_request(id, events);
}

/// A request's worth of events: nested spans, a field recorded later, every kind of value.
fn events(in_request: InRequest) {
    let conn = info_span!("conn", peer = %"127.0.0.1:4242", local = ?Some(8443), sni = tracing::field::Empty);
    conn.record("sni", "app.example.test");
    let _conn = conn.enter();
    in_request(7, &|| {
        info!(addr = %"127.0.0.1:8443", "listening for https");
        warn!(
            error = &Outer(io::Error::other("refused")) as &(dyn std::error::Error + 'static),
            attempt = 2i64,
            "upstream failed"
        );
        info!(
            method = %"GET",
            host = "app.example.test",
            path = "/a \"b\"/é",
            route = Some("app /"),
            user = None::<&str>,
            amr = "pwd otp",
            status = 200u16,
            cached = true,
            duration_ms = 1.5f64,
            "access"
        );
    });
    info!(count = 3u64, "no span but the connection's");
}

/// Events outside any span, and of a request outside any span.
fn events_without_a_connection(in_request: InRequest) {
    info!(ratio = 0.25f64, "no span");
    in_request(9, &|| info!(delta = -3i64, "a request alone"));
}

/// Every scenario, requests marked by `in_request`.
fn all_events(in_request: InRequest) -> impl Fn() {
    move || {
        events(in_request);
        events_without_a_connection(in_request);
    }
}

/// The text lines our formatter writes for `events`.
fn capture_ours_text(events: impl Fn()) -> Vec<String> {
    let out = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .event_format(Text)
        .fmt_fields(TextFields)
        .with_writer(out.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, events);
    out.lines()
}

fn capture_ours_json() -> Vec<serde_json::Value> {
    let out = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .event_format(Json)
        .fmt_fields(JsonFields)
        .with_writer(out.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, all_events(in_request_scope));
    out.lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Drops the timestamp (`2026-12-04T23:16:09.049129Z `).
fn untimed(line: &str) -> &str {
    assert_eq!(line.as_bytes()[26], b'Z', "{line}");
    &line[28..]
}

#[test]
fn text_lines_match_tracing_subscribers_full_format() {
    let out = Capture::default();
    let reference = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(out.clone())
        .finish();
    tracing::subscriber::with_default(reference, all_events(in_request_span));
    let expected = out.lines();
    let ours = capture_ours_text(all_events(in_request_scope));
    assert_eq!(ours.len(), 6, "{ours:#?}");
    assert_eq!(ours.len(), expected.len(), "{expected:#?}");
    for (ours, expected) in ours.iter().zip(&expected) {
        assert_eq!(untimed(ours), untimed(expected));
    }
    assert!(
        ours[2].ends_with(
            "conn{peer=127.0.0.1:4242 local=Some(8443) sni=\"app.example.test\"}:request{id=7}: \
             gateway::log_format::tests: access method=GET host=\"app.example.test\" \
             path=\"/a \\\"b\\\"/é\" route=\"app /\" amr=\"pwd otp\" status=200 cached=true \
             duration_ms=1.5"
        ),
        "{}",
        ours[2]
    );
}

#[test]
fn json_lines_match_tracing_subscribers_json_format() {
    let out = Capture::default();
    let reference = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_writer(out.clone())
        .finish();
    tracing::subscriber::with_default(reference, all_events(in_request_span));
    let expected: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    let ours = capture_ours_json();
    assert_eq!(ours.len(), expected.len());
    for (ours, expected) in ours.iter().zip(&expected) {
        let (mut ours, mut expected) = (ours.clone(), expected.clone());
        for line in [&mut ours, &mut expected] {
            let object = line.as_object_mut().expect("object");
            assert!(object.remove("timestamp").is_some_and(|t| t.is_string()));
        }
        assert_eq!(ours, expected);
    }
    let access = &ours[2];
    assert_eq!(access["message"], "access");
    assert_eq!(access["span"]["name"], "request");
    assert_eq!(access["span"]["id"], 7);
    assert_eq!(access["spans"][0]["sni"], "app.example.test");
    assert_eq!(access["spans"][1]["name"], "request");
    assert_eq!(access["duration_ms"], 1.5);
}

#[test]
fn a_value_with_a_line_break_or_escape_sequence_stays_on_its_line() {
    let lines = capture_ours_text(|| {
        info!(header = %"x\nforged=1 \u{1b}[2J", "evil\r\nline");
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("evil\\r\\nline header=x\\nforged=1 \\x1b[2J"),
        "{}",
        lines[0]
    );
}
