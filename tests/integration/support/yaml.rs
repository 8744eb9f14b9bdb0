//! A reader for the block-style YAML of the shipped examples (compose.yaml, Traefik's
//! dynamic config): `key: value`, `key:` opening a nested map, `- item` list entries;
//! comments and quotes stripped. Not a YAML parser — enough for the files the tests check
//! (serde_yaml is not a dependency).

use std::collections::BTreeSet;

/// `(path, value)` pairs: `services.app1.expose` → `80`, once per list item.
fn yaml_entries(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let content = match line.find('#') {
            Some(at) if at == 0 || line[..at].ends_with(' ') => &line[..at],
            _ => line,
        };
        if content.trim().is_empty() {
            continue;
        }
        let indent = content.len() - content.trim_start().len();
        let content = content.trim();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let path = |key: &str| {
            stack
                .iter()
                .map(|(_, k)| k.as_str())
                .chain((!key.is_empty()).then_some(key))
                .collect::<Vec<_>>()
                .join(".")
        };
        if let Some(item) = content.strip_prefix("- ") {
            out.push((path(""), unquote(item)));
        } else if let Some((key, value)) = content.split_once(':') {
            let value = value.trim();
            if value.is_empty() {
                stack.push((indent, key.trim().to_owned()));
            } else {
                out.push((path(key.trim()), unquote(value)));
            }
        } else {
            panic!("unexpected YAML line {line:?}");
        }
    }
    out
}

fn unquote(value: &str) -> String {
    let value = value.trim();
    ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value)
        .to_owned()
}

/// A YAML file read by [`yaml_entries`].
pub struct Yaml {
    entries: Vec<(String, String)>,
}

impl Yaml {
    pub fn parse(text: &str) -> Yaml {
        Yaml {
            entries: yaml_entries(text),
        }
    }

    pub fn values(&self, path: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn services(&self) -> BTreeSet<&str> {
        self.entries
            .iter()
            .filter_map(|(p, _)| p.strip_prefix("services."))
            .filter_map(|rest| rest.split('.').next())
            .collect()
    }

    /// `(published, container)` ports of a service: `"8443:8443"`, `"127.0.0.1:9090:9090"`.
    pub fn published_ports(&self, service: &str) -> Vec<(u16, u16)> {
        self.values(&format!("services.{service}.ports"))
            .iter()
            .map(|spec| {
                let parts: Vec<_> = spec.rsplitn(3, ':').collect();
                let port = |s: &str| {
                    s.parse::<u16>()
                        .unwrap_or_else(|_| panic!("bad port in {spec:?}"))
                };
                (port(parts[1]), port(parts[0]))
            })
            .collect()
    }
}
