//! The key table read from the config types.

use super::Node;
use crate::config::load::schema;

#[test]
fn sections_keys_and_arrays_of_tables_are_found() {
    let root = schema();
    let keys = root.dotted_keys();
    for key in [
        "server.listen",
        "server.trusted_proxies",
        "tls.sni.host",
        "route.upstream",
        "route.access",
        "route.access.groups",
        "auth.cookie.name",
        "auth.verify_keys.kid",
        "users.file",
        "state.redis_password_file",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }
    assert!(root.get("route").is_some_and(Node::is_array_of_tables));
    assert!(!root.get("server").is_some_and(Node::is_array_of_tables));
    let auth = root.get("auth").expect("auth");
    assert_eq!(auth.get("token_ttl"), Some(&Node::Text));
    assert_eq!(auth.get("require_known_user"), Some(&Node::Value));
}

/// The shipped example, which must list every key.
const EXAMPLE: &str = include_str!("../../../gateway.example.toml");

/// The dotted keys `gateway.example.toml` documents, set (`key = value`) or off
/// (`# key = value`), under the table header (`[a.b]`, `[[a]]`, also commented out) above
/// them; an inline-table value (`access = { groups = … }`) documents its keys too. Each key
/// line must carry its one-line meaning as a trailing comment.
fn example_keys() -> Vec<String> {
    let mut table = String::new();
    let mut keys = Vec::new();
    for (number, line) in EXAMPLE.lines().enumerate() {
        let line = line.trim();
        let code = line.strip_prefix('#').map_or(line, str::trim_start);
        if let Some(header) = code.strip_prefix('[') {
            let name = header.trim_start_matches('[');
            if let Some(end) = name.find(']') {
                table = name[..end].to_owned();
            }
            continue;
        }
        let Some((key, value)) = code.split_once(" = ") else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            continue;
        }
        assert!(
            value.contains(" # "),
            "gateway.example.toml:{}: `{key}` needs a one-line meaning as a trailing comment",
            number + 1
        );
        let path = format!("{table}.{key}");
        if let Some(inline) = value.strip_prefix('{') {
            let inline = &inline[..inline.rfind('}').expect("inline table closes")];
            for entry in inline.split(", ") {
                let (inner, _) = entry.split_once('=').expect("key = value");
                keys.push(format!("{path}.{}", inner.trim()));
            }
        }
        keys.push(path);
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn the_example_documents_exactly_the_keys_of_the_config_types() {
    let mut known = schema().dotted_keys();
    known.sort();
    let documented = example_keys();
    let missing: Vec<&String> = known.iter().filter(|k| !documented.contains(k)).collect();
    let unknown: Vec<&String> = documented.iter().filter(|k| !known.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "keys of the config types missing from gateway.example.toml (add `key = default  # \
         meaning`, or `# key = value  # meaning` when off by default, under its table): \
         {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys in gateway.example.toml that the config types do not have: {unknown:?}"
    );
}

#[test]
fn the_example_is_a_valid_config() {
    if let Err(e) =
        crate::config::Config::from_toml_str(EXAMPLE, std::path::Path::new("/etc/gateway"))
    {
        panic!("gateway.example.toml is not a valid config:\n{e}");
    }
}
