//! Tests of `access`, `networks` and `methods` as written in a route.

use std::path::Path;

use http::Method;

use super::{Access, Allowlist};
use crate::config::{Config, ConfigError};

const BASE: &str = "[auth]\nissuer = \"https://auth.example.com\"\nsecret_env = \"S\"\n\
                    require_known_user = false\n\
                    [tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n";

fn load(routes: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(&format!("{BASE}{routes}"), Path::new("/etc/gateway"))
}

/// The error of a config whose one route has `keys`, which are on line 10.
fn error(keys: &str) -> String {
    load(&format!(
        "[[route]]\nupstream = \"builtin:whoami\"\n{keys}\n"
    ))
    .expect_err("must be refused")
    .to_string()
}

#[test]
fn users_groups_and_email_domains_parse_together_with_second_factor() {
    let config = load(
        "[[route]]\nupstream = \"builtin:whoami\"\n\
         access = { users = [\"alice\"], groups = [\"ops\"], email_domains = [\"Example.COM\"], second_factor = true }\n\
         [[route]]\npath = \"/b\"\nupstream = \"builtin:whoami\"\naccess = { email_domains = [\"example.org\"] }\n",
    )
    .expect("valid");
    assert_eq!(
        config.routes[0].access,
        Access::Listed {
            allowed: Allowlist {
                users: vec!["alice".to_owned()],
                groups: vec!["ops".to_owned()],
                email_domains: vec!["example.com".to_owned()],
            },
            second_factor: true,
        }
    );
    assert_eq!(
        config.routes[0].access.to_string(),
        "users alice; groups ops; email domains example.com + second factor"
    );
    assert_eq!(
        config.routes[1].access.to_string(),
        "email domains example.org"
    );
}

#[test]
fn misused_access_rules_are_positioned_errors() {
    for (keys, message) in [
        ("access = { users = [] }", "access users is empty"),
        (
            "access = { email_domains = [] }",
            "access email_domains is empty",
        ),
        ("access = { users = [\"\"] }", "names are non-empty"),
        (
            "access = { users = [\" alice\"] }",
            "without surrounding spaces",
        ),
        ("access = { groups = [\"a,b\"] }", "cannot contain ','"),
        (
            "access = { email_domains = [\"@example.com\"] }",
            "without '@' (\"example.com\")",
        ),
        (
            "access = { email_domains = [\"bob@example.com\"] }",
            "without '@'",
        ),
        (
            "access = { email_domains = [\"example..com\"] }",
            "not a domain name",
        ),
        (
            "access = { email_domains = [\"*.example.com\"] }",
            "not a domain name",
        ),
        (
            "access = { emails = [\"a@b.c\"] }",
            "unknown field `emails`",
        ),
        ("access = {}", "admits nobody"),
    ] {
        let got = error(keys);
        assert!(got.starts_with("<config>:10:10: "), "{keys}: {got}");
        assert!(got.contains(message), "{keys}: {got}");
    }
}

#[test]
fn networks_and_methods_parse() {
    let config = load(
        "[[route]]\nupstream = \"builtin:whoami\"\nnetworks = [\"10.0.0.0/8\", \"::1\"]\nmethods = [\"GET\", \"HEAD\", \"PROPFIND\"]\n",
    )
    .expect("valid");
    let route = &config.routes[0];
    let networks: Vec<String> = route
        .networks
        .as_ref()
        .expect("networks")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(networks, ["10.0.0.0/8", "::1/128"]);
    let propfind = Method::from_bytes(b"PROPFIND").expect("method");
    assert_eq!(
        route.methods.as_deref(),
        Some(&[Method::GET, Method::HEAD, propfind][..])
    );
    let config = load("[[route]]\nupstream = \"builtin:whoami\"\n").expect("valid");
    assert!(config.routes[0].networks.is_none());
    assert!(config.routes[0].methods.is_none());
}

#[test]
fn misused_networks_and_methods_are_positioned_errors() {
    for (keys, at, message) in [
        ("networks = []", "10:12", "route networks is empty"),
        (
            "networks = [\"10.0.0.0/33\"]",
            "10:12",
            "invalid CIDR \"10.0.0.0/33\"",
        ),
        (
            "networks = [\"10.0.0.0/8\", \"ten\"]",
            "10:12",
            "invalid CIDR \"ten\"",
        ),
        ("networks = \"10.0.0.0/8\"", "10:12", "invalid type"),
        ("methods = []", "10:11", "route methods is empty"),
        ("methods = [\"get\"]", "10:12", "write \"GET\""),
        (
            "methods = [\"GET\", \"G ET\"]",
            "10:19",
            "not an HTTP method",
        ),
        (
            "methods = [\"GET\", \"GET\"]",
            "10:19",
            "lists \"GET\" twice",
        ),
        ("methods = [\"TRACE\"]", "10:12", "never forwards"),
        ("methods = [\"CONNECT\"]", "10:12", "never forwards"),
    ] {
        let got = error(keys);
        assert!(
            got.starts_with(&format!("<config>:{at}: ")),
            "{keys}: {got}"
        );
        assert!(got.contains(message), "{keys}: {got}");
    }
}

#[test]
fn routes_of_one_host_and_path_must_have_disjoint_methods() {
    let route = |methods: &str| {
        format!(
            "[[route]]\nhost = \"a.example.com\"\npath = \"/api\"\nupstream = \"builtin:whoami\"\n{methods}\n"
        )
    };
    let config = load(&format!(
        "{}{}{}",
        route("methods = [\"GET\", \"HEAD\"]"),
        route("methods = [\"POST\"]"),
        route("path = \"/other\"").replacen("path = \"/api\"\n", "", 1)
    ))
    .expect("disjoint methods are two routes");
    assert_eq!(config.routes.len(), 3);
    for (second, shared) in [
        ("methods = [\"POST\", \"HEAD\"]", " (both serve HEAD)"),
        ("", ""),
    ] {
        let got = load(&format!(
            "{}{}",
            route("methods = [\"GET\", \"HEAD\"]"),
            route(second)
        ))
        .expect_err("overlap")
        .to_string();
        assert!(
            got.contains(&format!(
                "duplicate route for host a.example.com and path \"/api\"{shared};"
            )),
            "{second}: {got}"
        );
    }
    // A route without methods overlaps every other one.
    let got = load(&format!("{}{}", route(""), route("methods = [\"DELETE\"]")))
        .expect_err("overlap")
        .to_string();
    assert!(got.contains("duplicate route"), "{got}");
}
