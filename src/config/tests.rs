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
    let config = parse(&format!(
        "{TLS}[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n"
    ))
    .expect("valid");
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
        "[server]\nlisten = \"0.0.0.0:443\"\nredirect_http = \"0.0.0.0:80\"\nadmin_listen = \"127.0.0.1:9090\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\
max_connections = 50\nworkers = 3\ntls_handshake_timeout = \"3s\"\nheader_read_timeout = \"2s\"\nidle_timeout = \"1m\"\nidle_release_after = \"250ms\"\n\
max_request_header_bytes = 8192\nmax_headers = 20\nupstream_connect_timeout = \"500ms\"\nupstream_timeout = \"30s\"\nshutdown_grace = \"1s\"\n{TLS}\
[[tls.sni]]\nhost = \"App1.Example.com\"\ncert = \"/abs/app1.crt\"\nkey = \"app1.key\"\n\
[[route]]\naccess = \"public\"\nhost = \"*.example.com\"\npath = \"/api/\"\nupstreams = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\"]\n"
    );
    let config = parse(&text).expect("valid");
    assert_eq!(config.server.redirect_http.map(|a| a.port()), Some(80));
    assert_eq!(config.server.admin_listen.map(|a| a.port()), Some(9090));
    assert_eq!(config.server.trusted_proxies.len(), 2);
    assert_eq!(config.server.workers, 3);
    assert_eq!(config.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.server.idle_release_after, Duration::from_millis(250));
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
    let errors = problems(&format!(
        "{TLS}\n[[route]]\naccess = \"public\"\npath = \"/a\"\n"
    ));
    assert_eq!(
        errors,
        vec!["<config>:5:1: route has neither upstream nor upstreams".to_owned()]
    );
}

#[test]
fn route_with_both_upstream_forms_is_rejected() {
    let errors = problems(&format!(
        "{TLS}[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\nupstreams = [\"builtin:whoami\"]\n"
    ));
    assert!(
        errors[0].contains("both upstream and upstreams"),
        "{errors:?}"
    );
}

#[test]
fn duplicate_host_and_path_is_rejected_even_with_trailing_slash() {
    let errors = problems(&format!(
        "{TLS}[[route]]\naccess = \"public\"\nhost = \"a.example.com\"\npath = \"/x\"\nupstream = \"builtin:whoami\"\n\
[[route]]\naccess = \"public\"\nhost = \"A.example.com\"\npath = \"/x/\"\nupstream = \"builtin:whoami\"\n"
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("<config>:12:8: duplicate route"),
        "{errors:?}"
    );
}

#[test]
fn paths_differing_only_in_case_or_path_parameters_are_rejected() {
    let route = |host: &str, path: &str| {
        format!(
            "[[route]]\naccess = \"public\"\nhost = \"{host}\"\npath = \"{path}\"\nupstream = \"builtin:whoami\"\n"
        )
    };
    let errors = problems(&format!(
        "{TLS}{}{}{}{}",
        route("a.example.com", "/admin"),
        route("a.example.com", "/Admin"),
        route("a.example.com", "/admin;v=2"),
        route("b.example.com", "/Admin"),
    ));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("<config>:12:8: route path \"/Admin\" for host a.example.com is the same path as \"/admin\""),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("<config>:17:8: route path \"/admin;v=2\""),
        "{errors:?}"
    );
}

#[test]
fn a_path_that_climbs_above_the_root_without_its_parameters_is_rejected() {
    let errors = problems(&format!(
        "{TLS}[[route]]\naccess = \"public\"\npath = \"/..;/x\"\nupstream = \"builtin:whoami\"\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("climbs above `/`"), "{errors:?}");
}

#[test]
fn unparsable_upstream_url_is_rejected_at_the_value() {
    let errors = problems(&format!(
        "{TLS}[[route]]\naccess = \"public\"\nupstream = \"http://a:1/base\"\n"
    ));
    assert!(errors[0].starts_with("<config>:6:12:"), "{errors:?}");
    assert!(errors[0].contains("without a path"), "{errors:?}");
}

#[test]
fn invalid_route_host_and_path_are_rejected() {
    assert!(
        problems(&format!(
            "{TLS}[[route]]\naccess = \"public\"\nhost = \"a*.example.com\"\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("invalid route host")
    );
    assert!(
        problems(&format!(
            "{TLS}[[route]]\naccess = \"public\"\npath = \"api\"\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("invalid route path")
    );
    assert!(
        problems(&format!(
            "{TLS}[[route]]\naccess = \"public\"\npath = \"/a/../..\"\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("invalid route path")
    );
}

#[test]
fn several_problems_are_all_reported() {
    let errors = problems(&format!(
        "[server]\nmax_headers = 0\n{TLS}[[route]]\naccess = \"public\"\npath = \"/a\"\n[[route]]\naccess = \"public\"\nupstreams = []\n"
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

const AUTH: &str = "[auth]\nissuer = \"https://auth.example.com\"\nsecret_file = \"jwt.secret\"\n[users]\nfile = \"users.toml\"\n";

#[test]
fn routes_are_protected_by_default_and_need_an_auth_section() {
    let errors = problems(&format!("{TLS}[[route]]\nupstream = \"builtin:whoami\"\n"));
    assert!(
        errors[0].starts_with("<config>:4:1: route requires authentication"),
        "{errors:?}"
    );
    let config = parse(&format!(
        "{AUTH}{TLS}[[route]]\nupstream = \"builtin:whoami\"\n"
    ))
    .expect("valid");
    assert_eq!(
        config.routes[0].access,
        crate::config::Access::AUTHENTICATED
    );
}

#[test]
fn access_forms_parse_and_bad_ones_are_positioned() {
    let config = parse(&format!(
        "{AUTH}{TLS}[[route]]\npath = \"/a\"\naccess = \"public\"\nupstream = \"builtin:whoami\"\n\
[[route]]\npath = \"/b\"\naccess = {{ groups = [\"admins\", \"ops\"] }}\nupstream = \"builtin:whoami\"\n"
    ))
    .expect("valid");
    assert_eq!(config.routes[0].access, crate::config::Access::Public);
    assert_eq!(
        config.routes[1].access,
        crate::config::Access::Listed {
            allowed: crate::config::Allowlist {
                groups: vec!["admins".to_owned(), "ops".to_owned()],
                ..Default::default()
            },
            second_factor: false
        }
    );
    let errors = problems(&format!(
        "{AUTH}{TLS}[[route]]\naccess = \"everyone\"\nupstream = \"builtin:whoami\"\n"
    ));
    assert!(
        errors[0].starts_with("<config>:10:10: invalid access"),
        "{errors:?}"
    );
    assert!(
        problems(&format!(
            "{AUTH}{TLS}[[route]]\naccess = {{ groups = [] }}\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("access groups is empty")
    );
    assert!(
        problems(&format!(
            "{AUTH}{TLS}[[route]]\naccess = {{ group = [\"a\"] }}\nupstream = \"builtin:whoami\"\n"
        ))[0]
            .contains("unknown field")
    );
}

#[test]
fn auth_defaults_follow_the_design() {
    let config = parse(&format!("{AUTH}{TLS}")).expect("valid");
    let auth = config.auth.expect("auth");
    assert_eq!(auth.algorithm, jsonwebtoken::Algorithm::HS256);
    assert_eq!(auth.prefix, "/.auth");
    assert_eq!(auth.token_ttl, Duration::from_secs(7200));
    assert_eq!(auth.renew_before, Duration::from_secs(1800));
    assert_eq!(auth.session_lifetime, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(auth.leeway, Duration::from_secs(30));
    assert_eq!(auth.user_claim, "sub");
    assert!(auth.accept_raw_authorization && auth.require_known_user);
    assert_eq!(auth.cookie.name, "gateway_token");
    assert!(auth.cookie.secure);
    assert_eq!(auth.headers.user.as_str(), "x-forwarded-user");
    let users = config.users.expect("users");
    assert_eq!(users.throttle.max_failures, 5);
    assert_eq!(users.device_cookie_ttl, Duration::from_secs(90 * 86_400));
    assert_eq!(
        users.file.map(|f| f.value),
        Some(Path::new("/etc/gateway/users.toml").to_owned())
    );
}

#[test]
fn redirect_domains_default_to_cookie_domains() {
    let config = parse(&format!(
        "{AUTH}[auth.cookie]\ndomains = [\".Example.com\"]\n{TLS}"
    ))
    .expect("valid");
    let auth = config.auth.expect("auth");
    assert_eq!(auth.cookie.domains, vec!["example.com".to_owned()]);
    assert_eq!(auth.allowed_domains, vec!["example.com".to_owned()]);
}

#[test]
fn key_settings_must_fit_the_algorithm() {
    let hs_with_pem = "[auth]\nissuer = \"i\"\nsecret_file = \"s\"\nprivate_key = \"k.pem\"\nrequire_known_user = false\n";
    assert!(
        problems(&format!("{hs_with_pem}{TLS}"))[0].contains("private_key is for RS/PS/ES/EdDSA")
    );
    let rs_with_secret = "[auth]\nissuer = \"i\"\nalgorithm = \"RS256\"\nsecret_file = \"s\"\nrequire_known_user = false\n";
    let errors = problems(&format!("{rs_with_secret}{TLS}"));
    assert!(
        errors.iter().any(|e| e.contains("needs private_key")),
        "{errors:?}"
    );
    let both = "[auth]\nissuer = \"i\"\nsecret_file = \"s\"\nsecret_env = \"E\"\nrequire_known_user = false\n";
    assert!(problems(&format!("{both}{TLS}"))[0].contains("not both"));
    let none = "[auth]\nissuer = \"i\"\nalgorithm = \"none\"\nsecret_file = \"s\"\nrequire_known_user = false\n";
    assert!(
        problems(&format!("{none}{TLS}"))[0]
            .starts_with("<config>:3:13: unknown algorithm \"none\"")
    );
}

#[test]
fn cookie_and_header_settings_are_checked() {
    let base = "[auth]\nissuer = \"i\"\nsecret_file = \"s\"\nrequire_known_user = false\n";
    assert!(
        problems(&format!("{base}[auth.cookie]\nname = \"a b\"\n{TLS}"))[0]
            .contains("invalid cookie name")
    );
    assert!(
        problems(&format!(
            "{base}[auth.cookie]\nsecure = false\nsame_site = \"None\"\n{TLS}"
        ))[0]
            .contains("requires secure")
    );
    assert!(
        problems(&format!("{base}[auth.cookie]\nsame_site = \"lax\"\n{TLS}"))[0]
            .contains("invalid same_site")
    );
    assert!(
        problems(&format!(
            "{base}[auth.cookie]\ndomains = [\"exa mple.com\"]\n{TLS}"
        ))[0]
            .contains("invalid domain")
    );
    assert!(
        problems(&format!("{base}[auth.headers]\nuser = \"Cookie\"\n{TLS}"))[0]
            .contains("invalid identity header")
    );
    assert!(problems(&format!("{base}prefix = \"/\"\n{TLS}"))[0].contains("invalid prefix"));
}

#[test]
fn known_users_need_a_users_file_and_users_need_auth() {
    let no_users = "[auth]\nissuer = \"i\"\nsecret_file = \"s\"\n";
    assert!(problems(&format!("{no_users}{TLS}"))[0].contains("needs a [users] file"));
    assert!(
        problems(&format!("[users]\nfile = \"u.toml\"\n{TLS}"))[0]
            .contains("[users] needs an [auth] section")
    );
    assert!(
        problems(&format!("{AUTH}max_failures = 0\n{TLS}"))[0]
            .contains("max_failures must be at least 1")
    );
}

#[test]
fn hsts_is_optional_checked_and_positioned() {
    const ROUTE: &str = "[[route]]\naccess = \"public\"\nupstream = \"builtin:whoami\"\n";
    let config = parse(&format!("{TLS}{ROUTE}")).expect("valid");
    assert!(config.tls.hsts.is_none(), "no header unless configured");
    let config = parse(&format!(
        "{TLS}hsts = \"max-age=31536000; includeSubDomains\"\n{ROUTE}"
    ))
    .expect("valid");
    assert_eq!(
        config.tls.hsts.as_ref().and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );
    let errors = problems(&format!(
        "{TLS}hsts = \"max-age=1; includeSubdomain\"\n{ROUTE}"
    ));
    assert!(
        errors[0].starts_with("<config>:4:8: hsts: unknown directive \"includeSubdomain\""),
        "{errors:?}"
    );
}

#[test]
fn device_cookies_can_be_turned_off_and_a_bad_lifetime_is_positioned() {
    let config = parse(&format!("{AUTH}device_cookie_ttl = \"0s\"\n{TLS}")).expect("valid");
    assert!(config.users.expect("users").device_cookie_ttl.is_zero());
    let config = parse(&format!("{AUTH}device_cookie_ttl = \"30d\"\n{TLS}")).expect("valid");
    assert_eq!(
        config.users.expect("users").device_cookie_ttl,
        Duration::from_secs(30 * 86_400)
    );
    let errors = problems(&format!("{AUTH}device_cookie_ttl = \"forever\"\n{TLS}"));
    assert!(
        errors[0].starts_with("<config>:6:") && errors[0].contains("invalid duration"),
        "{errors:?}"
    );
}

#[test]
fn session_lifetime_parses_and_may_not_be_shorter_than_a_token() {
    let with = |line: &str| AUTH.replacen("[auth]\n", &format!("[auth]\n{line}\n"), 1);
    let config = parse(&format!("{}{TLS}", with("session_lifetime = \"12h\""))).expect("valid");
    let auth = config.auth.expect("auth");
    assert_eq!(auth.session_lifetime, Duration::from_secs(12 * 3600));
    let errors = problems(&format!("{}{TLS}", with("session_lifetime = \"1h\"")));
    assert!(
        errors[0].starts_with(
            "<config>:2:20: [auth] session_lifetime (3600s) must be at least token_ttl (7200s)"
        ),
        "{errors:?}"
    );
}

#[test]
fn cookie_prefixes_follow_the_browser_rules() {
    let cookie = |lines: &str| format!("{AUTH}[auth.cookie]\n{lines}\n{TLS}");
    for ok in [
        "name = \"__Host-gw\"",
        "name = \"__Secure-gw\"\ndomains = [\"example.com\"]",
        "name = \"__host_gw\"\nsecure = false",
    ] {
        parse(&cookie(ok)).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    let errors = problems(&cookie("domains = [\"example.com\"]\nname = \"__Host-gw\""));
    assert!(
        errors[0].starts_with(
            "<config>:8:8: cookie name \"__Host-gw\": a __Host- cookie may not have a Domain"
        ),
        "{errors:?}"
    );
    for bad in [
        "name = \"__Secure-gw\"\nsecure = false",
        "name = \"__HOST-gw\"\nsecure = false",
    ] {
        let errors = problems(&cookie(bad));
        assert!(
            errors[0].contains("needs secure = true"),
            "{bad}: {errors:?}"
        );
    }
}

#[test]
fn connection_deadlines_and_backlog_have_defaults_and_parse() {
    let config = parse(TLS).expect("valid");
    assert_eq!(config.server.body_read_timeout, Duration::from_secs(30));
    assert_eq!(config.server.write_timeout, Duration::from_secs(30));
    assert_eq!(config.server.listen_backlog, 4096);
    let config = parse(&format!(
        "[server]\nbody_read_timeout = \"5s\"\nwrite_timeout = \"2m\"\nlisten_backlog = 511\n{TLS}"
    ))
    .expect("valid");
    assert_eq!(config.server.body_read_timeout, Duration::from_secs(5));
    assert_eq!(config.server.write_timeout, Duration::from_secs(120));
    assert_eq!(config.server.listen_backlog, 511);
}

#[test]
fn zero_deadlines_and_bad_backlogs_are_positioned_errors() {
    let errors = problems(&format!(
        "[server]\nbody_read_timeout = \"0s\"\nwrite_timeout = \"0ms\"\nlisten_backlog = 0\n{TLS}"
    ));
    assert_eq!(
        errors,
        vec![
            "<config>:2:21: body_read_timeout must be longer than zero",
            "<config>:3:17: write_timeout must be longer than zero",
            "<config>:4:18: listen_backlog must be between 1 and 65535",
        ]
    );
    for value in ["70000", "-1", "\"4096\""] {
        let errors = problems(&format!("[server]\nlisten_backlog = {value}\n{TLS}"));
        assert_eq!(errors.len(), 1, "{value}: {errors:?}");
        assert!(errors[0].starts_with("<config>:2:"), "{value}: {errors:?}");
    }
    let errors = problems(&format!("[server]\nwrite_timeout = \"soon\"\n{TLS}"));
    assert!(
        errors[0].starts_with("<config>:2:17: invalid duration"),
        "{errors:?}"
    );
}

#[test]
fn second_factor_route_rules_and_policy_parse_and_bad_ones_are_positioned() {
    use crate::config::{Access, SecondFactorPolicy};
    let config = parse(&format!(
        "{AUTH}{TLS}[[route]]\npath = \"/a\"\naccess = {{ groups = [\"admins\"], second_factor = true }}\nupstream = \"builtin:whoami\"\n\
[[route]]\npath = \"/b\"\naccess = {{ second_factor = true }}\nupstream = \"builtin:whoami\"\n"
    ))
    .expect("valid");
    assert_eq!(
        config.routes[0].access,
        Access::Listed {
            allowed: crate::config::Allowlist {
                groups: vec!["admins".to_owned()],
                ..Default::default()
            },
            second_factor: true
        }
    );
    assert_eq!(
        config.routes[1].access,
        Access::Authenticated {
            second_factor: true
        }
    );
    let auth = config.auth.as_ref().expect("auth");
    assert_eq!(auth.second_factor, SecondFactorPolicy::Optional);
    for bad in [
        "{ second_factor = \"yes\" }",
        "{ groups = [\"a\"], otp = true }",
        "{}",
    ] {
        let errors = problems(&format!(
            "{AUTH}{TLS}[[route]]\naccess = {bad}\nupstream = \"builtin:whoami\"\n"
        ));
        assert!(errors[0].starts_with("<config>:10:"), "{bad}: {errors:?}");
    }
    let required = AUTH.replace("[auth]\n", "[auth]\nsecond_factor = \"required\"\n");
    let config = parse(&format!("{required}{TLS}")).expect("valid");
    let auth = config.auth.as_ref().expect("auth");
    assert_eq!(auth.second_factor, SecondFactorPolicy::Required);
    let wrong = AUTH.replace("[auth]\n", "[auth]\nsecond_factor = \"always\"\n");
    let errors = problems(&format!("{wrong}{TLS}"));
    assert!(
        errors[0].contains(":17: invalid second_factor \"always\""),
        "{errors:?}"
    );
}

#[test]
fn upstream_tls_keys_need_an_https_upstream_and_go_in_pairs() {
    let route = |keys: &str, upstream: &str| {
        Config::from_toml_str(
            &format!(
                "[tls]\ncert = \"a.crt\"\nkey = \"a.key\"\n[[route]]\naccess = \"public\"\n\
                 upstream = \"{upstream}\"\n{keys}"
            ),
            Path::new("/etc/gateway"),
        )
    };
    let config = route(
        "upstream_ca_file = \"ca.pem\"\nupstream_client_cert = \"c.crt\"\nupstream_client_key = \"c.key\"\n",
        "https://app.internal:8443",
    )
    .expect("valid");
    let tls = &config.routes[0].upstream_tls;
    assert_eq!(
        tls.ca_file.as_ref().map(|f| f.value.clone()),
        Some(Path::new("/etc/gateway/ca.pem").to_owned())
    );
    assert!(tls.client_identity.is_some());
    let error =
        |keys: &str, upstream: &str| route(keys, upstream).expect_err("refused").to_string();
    assert_eq!(
        error("upstream_ca_file = \"ca.pem\"\n", "http://app:80"),
        "<config>:7:20: upstream_ca_file is for https upstreams; this route has none"
    );
    assert_eq!(
        error("upstream_client_cert = \"c.crt\"\n", "https://app"),
        "<config>:7:24: upstream_client_cert and upstream_client_key go together"
    );
    assert_eq!(
        error("upstream_client_key = \"c.key\"\n", "https://app"),
        "<config>:7:23: upstream_client_cert and upstream_client_key go together"
    );
}

#[test]
fn users_need_a_file_or_an_htpasswd_and_htpasswd_groups_are_checked() {
    let users = |section: &str| {
        Config::from_toml_str(
            &format!(
                "[tls]\ncert = \"a.crt\"\nkey = \"a.key\"\n[auth]\nissuer = \"gw\"\n\
                 secret_file = \"s\"\n[users]\n{section}"
            ),
            Path::new("/etc/gateway"),
        )
    };
    let config =
        users("htpasswd = \"users.htpasswd\"\nhtpasswd_groups = [\"users\"]\n").expect("valid");
    let settings = config.users.expect("users");
    assert!(settings.file.is_none());
    let htpasswd = settings.htpasswd.expect("htpasswd");
    assert_eq!(
        htpasswd.file.value,
        Path::new("/etc/gateway/users.htpasswd")
    );
    assert_eq!(htpasswd.groups, ["users"]);
    let error = |section: &str| users(section).expect_err("refused").to_string();
    assert_eq!(
        error("max_failures = 3\n"),
        "<config>:7:1: [users] needs file = \"users.toml\", htpasswd = \"users.htpasswd\", or both"
    );
    assert_eq!(
        error("file = \"u.toml\"\nhtpasswd_groups = [\"users\"]\n"),
        "<config>:9:19: htpasswd_groups needs htpasswd"
    );
    assert!(
        error("htpasswd = \"h\"\nhtpasswd_groups = [\"a,b\"]\n")
            .starts_with("<config>:9:20: invalid group \"a,b\""),
    );
}
