use super::{LoginResult, Metrics, UpstreamErrorKind};

fn line_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn recorded_values_appear_in_the_exposition() {
    let metrics = Metrics::new();
    let route = metrics.route("* /");
    route.record(200);
    route.record(204);
    route.record(502);
    route.record(999);
    metrics.upstream_error(UpstreamErrorKind::Timeout);
    metrics.auth_outcome("expired");
    metrics.login(LoginResult::Throttled);
    metrics.login(LoginResult::Busy);
    metrics.password_checked();
    metrics.token_cache(true);
    metrics.handshake_failed();
    let open = metrics.connection_opened();
    let text = metrics.encode();
    let expected = [
        (r#"gateway_requests_total{route="* /",class="2xx"}"#, 2.0),
        (r#"gateway_requests_total{route="* /",class="5xx"}"#, 2.0),
        (r#"gateway_upstream_errors_total{kind="timeout"}"#, 1.0),
        (r#"gateway_auth_total{outcome="expired"}"#, 1.0),
        (r#"gateway_logins_total{result="throttled"}"#, 1.0),
        (r#"gateway_logins_total{result="busy"}"#, 1.0),
        ("gateway_password_checks_total", 1.0),
        (r#"gateway_token_cache_total{result="hit"}"#, 1.0),
        ("gateway_tls_handshake_failures_total", 1.0),
        ("gateway_open_connections", 1.0),
    ];
    for (series, value) in expected {
        assert_eq!(line_value(&text, series), Some(value), "{series}\n{text}");
    }
    drop(open);
    assert_eq!(
        line_value(&metrics.encode(), "gateway_open_connections"),
        Some(0.0)
    );
    assert!(text.ends_with("# EOF\n"));
}
