//! Config parsing and validation: every accepted shape and every positioned error.

use std::path::Path;
use std::time::Duration;

use super::{Config, ConfigError, Upstream};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new("/etc/gateway"))
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("config should be invalid:\n{text}"),
        Err(ConfigError::Invalid { problems }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

const TLS: &str = "[tls]\ncert = \"certs/a.crt\"\nkey = \"certs/a.key\"\n";

#[test]
fn minimal_config_gets_defaults() {
    let config = parse(&format!("{TLS}[[route]]\nupstream = \"builtin:whoami\"\n")).expect("valid");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8443");
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.server.max_request_header_bytes, 16_384);
    assert_eq!(config.tls.cert.value, Path::new("/etc/gateway/certs/a.crt"));
    assert_eq!(config.routes.len(), 1);
    assert_eq!(config.routes[0].path, "/");
    assert_eq!(config.routes[0].upstreams, vec![Upstream::Whoami]);
}

#[test]
fn full_server_section_parses() {
    let text = format!(
        "[server]\nlisten = \"0.0.0.0:443\"\nredirect_http = \"0.0.0.0:80\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\
max_connections = 50\ntls_handshake_timeout = \"3s\"\nheader_read_timeout = \"2s\"\nidle_timeout = \"1m\"\n\
max_request_header_bytes = 8192\nmax_headers = 20\nupstream_connect_timeout = \"500ms\"\nupstream_timeout = \"30s\"\nshutdown_grace = \"1s\"\n{TLS}\
[[tls.sni]]\nhost = \"App1.Example.com\"\ncert = \"/abs/app1.crt\"\nkey = \"app1.key\"\n\
[[route]]\nhost = \"*.example.com\"\npath = \"/api/\"\nupstreams = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\"]\n"
    );
    let config = parse(&text).expect("valid");
    assert_eq!(config.server.redirect_http.map(|a| a.port()), Some(80));
    assert_eq!(config.server.trusted_proxies.len(), 2);
    assert_eq!(config.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(
        config.server.upstream_connect_timeout,
        Duration::from_millis(500)
    );
    assert_eq!(config.tls.sni[0].host.value, "app1.example.com");
    assert_eq!(config.tls.sni[0].cert.value, Path::new("/abs/app1.crt"));
    assert_eq!(
        config.tls.sni[0].key.value,
        Path::new("/etc/gateway/app1.key")
    );
    assert_eq!(config.routes[0].path, "/api");
    assert_eq!(config.routes[0].upstreams.len(), 2);
}

#[test]
fn unknown_key_is_reported_at_its_line_and_column() {
    let errors = problems(&format!(
        "[server]\nlisten = \"127.0.0.1:1\"\n  lisen = \"x\"\n{TLS}"
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("<config>:3:3: unknown field `lisen`"),
        "{errors:?}"
    );
}

#[test]
fn bad_duration_points_at_the_value() {
    let errors = problems(&format!("[server]\nidle_timeout = \"10 seconds\"\n{TLS}"));
    assert!(
        errors[0].starts_with("<config>:2:16: invalid duration"),
        "{errors:?}"
    );
}

#[test]
fn bad_socket_address_and_cidr_are_rejected() {
    assert!(
        problems(&format!("[server]\nlisten = \"localhost\"\n{TLS}"))[0]
            .starts_with("<config>:2:10:")
    );
    assert!(
        problems(&format!(
            "[server]\ntrusted_proxies = [\"10.0.0.0/99\"]\n{TLS}"
        ))[0]
            .contains("invalid CIDR")
    );
}

#[test]
fn route_without_upstream_points_at_the_route() {
    let errors = problems(&format!("{TLS}\n[[route]]\npath = \"/a\"\n"));
    assert_eq!(
        errors,
        vec!["<config>:5:1: route has neither upstream nor upstreams".to_owned()]
    );
}

#[test]
fn route_with_both_upstream_forms_is_rejected() {
    let errors = problems(&format!(
        "{TLS}[[route]]\nupstream = \"builtin:whoami\"\nupstreams = [\"builtin:whoami\"]\n"
    ));
    assert!(
        errors[0].contains("both upstream and upstreams"),
        "{errors:?}"
    );
}

#[test]
fn duplicate_host_and_path_is_rejected_even_with_trailing_slash() {
    let errors = problems(&format!(
        "{TLS}[[route]]\nhost = \"a.example.com\"\npath = \"/x\"\nupstream = \"builtin:whoami\"\n\
[[route]]\nhost = \"A.example.com\"\npath = \"/x/\"\nupstream = \"builtin:whoami\"\n"
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("<config>:10:8: duplicate route"),
        "{errors:?}"
    );
}

#[test]
fn unparsable_upstream_url_is_rejected_at_the_value() {
    let errors = problems(&format!("{TLS}[[route]]\nupstream = \"http://a:1/base\"\n"));
    assert!(errors[0].starts_with("<config>:5:12:"), "{errors:?}");
    assert!(errors[0].contains("without a path"), "{errors:?}");
}

#[test]
fn invalid_route_host_and_path_are_rejected() {
    assert!(
        problems(&format!(
            "{TLS}[[route]]\nhost = \"a*.example.com\"\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("invalid route host")
    );
    assert!(
        problems(&format!(
            "{TLS}[[route]]\npath = \"api\"\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("invalid route path")
    );
    assert!(
        problems(&format!(
            "{TLS}[[route]]\npath = \"/a/../..\"\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("invalid route path")
    );
}

#[test]
fn several_problems_are_all_reported() {
    let errors = problems(&format!(
        "[server]\nmax_headers = 0\n{TLS}[[route]]\npath = \"/a\"\n[[route]]\nupstreams = []\n"
    ));
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[test]
fn header_limit_below_hyper_minimum_is_rejected() {
    assert!(
        problems(&format!("[server]\nmax_request_header_bytes = 1024\n{TLS}"))[0]
            .contains("at least 8192")
    );
}

#[test]
fn missing_tls_section_and_wrong_types_are_errors_not_panics() {
    assert!(problems("")[0].contains("missing [tls]"));
    assert!(
        problems(&format!("[server]\nmax_connections = \"many\"\n{TLS}"))[0]
            .contains("invalid type")
    );
    assert!(problems("not toml at all =")[0].starts_with("<config>:1:"));
    assert!(
        problems(&format!(
            "{TLS}[[tls.sni]]\nhost = \"*.x.com\"\ncert = \"a\"\nkey = \"b\"\n"
        ))[0]
            .contains("invalid SNI host")
    );
    assert!(problems(&format!("route = 5\n{TLS}"))[0].contains("invalid type"));
}
