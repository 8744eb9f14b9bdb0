//! The environment overlay through the whole loader: values win over the file, reach the
//! typed checks, and are reported at their variable.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::{Environment, is_config_variable};
use crate::config::load::parse;
use crate::config::{Config, ConfigError, KeySource};

const BASE: &str = "[tls]\ncert = \"a.crt\"\nkey = \"a.key\"\n\
                    [[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n";

const AUTH: &str =
    "[auth]\nissuer = \"gw\"\nsecret_file = \"jwt.secret\"\nrequire_known_user = false\n";

fn environment(vars: &[(&str, &str)]) -> Environment {
    Environment::from_vars(
        vars.iter()
            .map(|(n, v)| (OsString::from(n), OsString::from(v))),
    )
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    parse(
        text,
        Path::new("/etc/gateway"),
        "gateway.toml".into(),
        &environment(vars),
    )
}

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    match load(text, vars) {
        Err(ConfigError::Invalid { problems }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn only_the_double_underscore_shape_is_config() {
    assert!(is_config_variable("GATEWAY_AUTH__TOKEN_TTL"));
    assert!(is_config_variable("GATEWAY_AUTH__COOKIE__NAME"));
    for other in [
        "GATEWAY_JWT_SECRET",
        "GATEWAY_CONFIG",
        "GATEWAY_LOG_FORMAT",
        "HOME",
        "X__Y",
    ] {
        assert!(!is_config_variable(other), "{other}");
    }
    let config = load(
        &format!("{BASE}{AUTH}"),
        &[("GATEWAY_JWT_SECRET", "x"), ("GATEWAY_CONFIG", "/nope")],
    )
    .expect("other variables are ignored");
    assert!(config.environment.is_empty());
}

#[test]
fn the_environment_wins_over_the_file_and_adds_what_it_lacks() {
    let config = load(
        &format!("{BASE}{AUTH}token_ttl = \"5m\"\n[server]\nlisten = \"127.0.0.1:1\"\n"),
        &[
            ("GATEWAY_AUTH__TOKEN_TTL", "1h"),
            ("GATEWAY_SERVER__LISTEN", "0.0.0.0:8443"),
            ("GATEWAY_SERVER__MAX_CONNECTIONS", "7"),
            (
                "GATEWAY_SERVER__TRUSTED_PROXIES",
                "[\"10.0.0.0/8\", \"::1\"]",
            ),
            ("GATEWAY_AUTH__COOKIE__NAME", "sso"),
            ("GATEWAY_AUTH__ACCEPT_RAW_AUTHORIZATION", "false"),
            ("GATEWAY_AUTH__ISSUER", "123"),
            ("GATEWAY_FORWARD_AUTH__UNMATCHED", "authenticated"),
        ],
    )
    .expect("valid");
    let auth = config.auth.as_ref().expect("auth");
    assert_eq!(auth.token_ttl, Duration::from_secs(3600));
    assert_eq!(auth.cookie.name, "sso");
    assert!(!auth.accept_raw_authorization);
    assert_eq!(auth.issuer, "123", "a string key takes the text as is");
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:8443");
    assert_eq!(config.server.max_connections, 7);
    assert_eq!(config.server.trusted_proxies.len(), 2);
    let keys: Vec<(&str, &str)> = config
        .environment
        .iter()
        .map(|k| (k.key.as_str(), k.variable.as_str()))
        .collect();
    assert!(
        keys.contains(&("auth.token_ttl", "GATEWAY_AUTH__TOKEN_TTL")),
        "{keys:?}"
    );
    assert!(
        keys.contains(&("auth.cookie.name", "GATEWAY_AUTH__COOKIE__NAME")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), 8);
}

#[test]
fn a_whole_section_may_come_from_the_environment_with_paths_resolved_like_the_files() {
    let config = load(
        BASE.replace("\"public\"", "\"authenticated\"").as_str(),
        &[
            ("GATEWAY_AUTH__ISSUER", "gw"),
            ("GATEWAY_AUTH__SECRET_FILE", "secrets/jwt"),
            ("GATEWAY_AUTH__REQUIRE_KNOWN_USER", "false"),
        ],
    )
    .expect("valid");
    let auth = config.auth.expect("auth from the environment");
    let KeySource::SecretFile { path, .. } = auth.key else {
        panic!("secret file expected");
    };
    assert_eq!(path.value, Path::new("/etc/gateway/secrets/jwt"));
    assert_eq!(path.at.to_string(), "GATEWAY_AUTH__SECRET_FILE");
}

#[test]
fn bad_values_are_reported_at_their_variable() {
    let text = format!("{BASE}{AUTH}");
    assert_eq!(
        problems(&text, &[("GATEWAY_AUTH__TOKEN_TTL", "forever")]),
        [
            "GATEWAY_AUTH__TOKEN_TTL: invalid duration \"forever\": expected a number and a unit, \
          like \"30s\", \"5m\", \"2h\" or \"500ms\""
        ]
    );
    let unknown = problems(&text, &[("GATEWAY_AUTH__TOKEN_TLL", "1h")]);
    assert_eq!(unknown.len(), 1);
    assert!(
        unknown[0].starts_with("GATEWAY_AUTH__TOKEN_TLL: unknown field `token_tll`"),
        "{unknown:?}"
    );
    let number = problems(&text, &[("GATEWAY_SERVER__MAX_CONNECTIONS", "many")]);
    assert!(
        number[0].starts_with("GATEWAY_SERVER__MAX_CONNECTIONS: invalid type: string \"many\""),
        "{number:?}"
    );
    let element = problems(
        &text,
        &[(
            "GATEWAY_SERVER__TRUSTED_PROXIES",
            "[\"10.0.0.0/8\", \"nope\"]",
        )],
    );
    assert!(
        element[0].starts_with("GATEWAY_SERVER__TRUSTED_PROXIES: invalid CIDR \"nope\""),
        "{element:?}"
    );
    let section = problems(&text, &[("GATEWAY_NOPE__KEY", "1")]);
    assert!(
        section[0].starts_with("GATEWAY_NOPE__KEY: unknown field `nope`"),
        "{section:?}"
    );
    // A problem in the file is still reported in the file.
    let file = problems(
        &format!("{text}leeway = \"x\"\n"),
        &[("GATEWAY_AUTH__TOKEN_TTL", "1h")],
    );
    assert!(
        file[0].starts_with("gateway.toml:11:10: invalid duration"),
        "{file:?}"
    );
}

#[test]
fn cross_key_rules_see_the_environment() {
    let found = problems(
        &format!("{BASE}{AUTH}"),
        &[("GATEWAY_AUTH__SECRET_ENV", "GATEWAY_JWT_SECRET")],
    );
    assert_eq!(
        found,
        ["GATEWAY_AUTH__SECRET_ENV: set either secret_file or secret_env, not both"]
    );
}

#[test]
fn arrays_of_tables_cannot_be_addressed() {
    for (variable, table) in [
        ("GATEWAY_ROUTE__UPSTREAM", "[[route]]"),
        ("GATEWAY_TLS__SNI__HOST", "[[tls.sni]]"),
        ("GATEWAY_AUTH__VERIFY_KEYS", "[[auth.verify_keys]]"),
    ] {
        let found = problems(&format!("{BASE}{AUTH}"), &[(variable, "x")]);
        assert_eq!(
            found,
            [format!(
                "{variable}: {table} is an array of tables, which the environment cannot \
                 address; write its entries in the config file"
            )]
        );
    }
}

#[test]
fn malformed_names_and_values_are_refused_by_name() {
    let text = format!("{BASE}{AUTH}");
    let empty = problems(&text, &[("GATEWAY_AUTH__", "1")]);
    assert!(
        empty[0].starts_with("GATEWAY_AUTH__: not a config key"),
        "{empty:?}"
    );
    let odd = problems(&text, &[("GATEWAY_AUTH__TOKEN-TTL", "1h")]);
    assert!(
        odd[0].starts_with("GATEWAY_AUTH__TOKEN-TTL: not a config key"),
        "{odd:?}"
    );
    let below_value = problems(&text, &[("GATEWAY_AUTH__ISSUER__X", "1")]);
    assert_eq!(
        below_value,
        ["GATEWAY_AUTH__ISSUER__X: auth.issuer is string in the config file, not a table"]
    );
    let binary = Environment::from_vars([(
        OsString::from("GATEWAY_AUTH__ISSUER"),
        std::os::unix::ffi::OsStringExt::from_vec(vec![0xff]),
    )]);
    match parse(&text, Path::new("/"), "gateway.toml".into(), &binary) {
        Err(ConfigError::Invalid { problems }) => assert_eq!(
            problems[0].to_string(),
            "GATEWAY_AUTH__ISSUER: the value is not valid UTF-8"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_variable_is_looked_up_by_name() {
    let env = environment(&[("GATEWAY_SERVER__ADMIN_LISTEN", "127.0.0.1:9090")]);
    assert_eq!(
        env.variable("GATEWAY_SERVER__ADMIN_LISTEN"),
        Some("127.0.0.1:9090")
    );
    assert_eq!(env.variable("GATEWAY_SERVER__LISTEN"), None);
}

#[test]
fn debug_never_shows_values() {
    let env = environment(&[("GATEWAY_STATE__REDIS_URL", "redis://:hunter2@r/0")]);
    let shown = format!("{env:?}");
    assert!(shown.contains("GATEWAY_STATE__REDIS_URL"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
