//! Configuration from the environment: `GATEWAY_<SECTION>__<KEY>=value` sets `key` of
//! `[section]` (`GATEWAY_AUTH__TOKEN_TTL=1h`, `GATEWAY_AUTH__COOKIE__NAME=sso`: one `__`
//! per level), over whatever the file says.
//!
//! The overlay works on the parsed document, before the `Raw*` types see it, so the
//! environment meets the same checks as the file: `deny_unknown_fields` (a misspelt key is
//! an error, not ignored), each value's own parsing, every cross-key rule. Each variable's
//! value is given offsets past the end of the file, so that a problem found in it is
//! reported at the variable (`GATEWAY_AUTH__TOKEN_TTL: invalid duration …`) the way a
//! problem in the file is reported at `file:line:col`.
//!
//! Values: a key that takes a string (durations, addresses, paths and URLs included) takes
//! the variable's text as it is, no quotes needed. Any other key reads it as a TOML value —
//! `true`, `8`, `["10.0.0.0/8", "::1"]`, `{ name = "sso" }` — and text that is not one is a
//! string, which that key's check then refuses by name.
//!
//! Only names of the shape `GATEWAY_` + `…__…` (a double underscore after the prefix) are
//! config: `GATEWAY_CONFIG`, `GATEWAY_LOG_FORMAT` (read by the command line) and secrets
//! named by `secret_env` such as `GATEWAY_JWT_SECRET` are not, and are left alone.
//! Arrays of tables (`[[route]]`, `[[tls.sni]]`, `[[auth.verify_keys]]`) have no name an
//! entry could be addressed by, so variables below them are refused.
//!
//! This module never reads the process environment: `main.rs` captures it once into an
//! [`Environment`], and a reload overlays that same capture on the re-read file.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::location::{Location, Problem};
use super::schema::Node;

/// The prefix of every config variable.
const PREFIX: &str = "GATEWAY_";
/// Between a section and its key, and between a table and its keys.
const SEPARATOR: &str = "__";

/// The config variables of a process environment (the other variables are not kept).
/// `Debug` shows their names only: values may be secrets.
#[derive(Clone, Default)]
pub struct Environment {
    /// Name and value (`None`: not UTF-8), sorted by name.
    variables: Vec<(String, Option<String>)>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.variables.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Environment {
    /// The config variables among `variables` (e.g. `std::env::vars_os()`).
    pub fn from_vars(variables: impl IntoIterator<Item = (OsString, OsString)>) -> Environment {
        let mut variables: Vec<(String, Option<String>)> = variables
            .into_iter()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                is_config_variable(&name).then(|| (name, value.into_string().ok()))
            })
            .collect();
        variables.sort();
        Environment { variables }
    }
}

impl Environment {
    /// The value of the config variable `name`, when it is set (and UTF-8).
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, value)| value.as_deref())
    }
}

/// Whether `name` has the shape of a config variable: `GATEWAY_…__…`.
fn is_config_variable(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.contains(SEPARATOR))
}

/// A key set from the environment, for `gateway check` (which never prints the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentKey {
    /// The dotted key, e.g. `auth.token_ttl`.
    pub key: String,
    /// The variable that set it, e.g. `GATEWAY_AUTH__TOKEN_TTL`.
    pub variable: String,
}

/// What overlaying the environment did.
pub(super) struct Overlay {
    /// The offsets given to each variable's value, for the locator.
    pub(super) ranges: Vec<(Range<usize>, Arc<str>)>,
    /// The keys set, in variable order.
    pub(super) keys: Vec<EnvironmentKey>,
    /// Variables that could not be applied.
    pub(super) problems: Vec<Problem>,
}

/// Sets every variable of `environment` in `root`, the parsed file of `file_len` bytes whose
/// keys `schema` describes.
pub(super) fn overlay<'i>(
    root: &mut DeTable<'i>,
    environment: &'i Environment,
    file_len: usize,
    schema: &Node,
) -> Overlay {
    let mut overlay = Overlay {
        ranges: Vec::new(),
        keys: Vec::new(),
        problems: Vec::new(),
    };
    // One past the file's end, so that an error at the end of the file stays in the file.
    let mut next_offset = file_len + 1;
    for (name, value) in &environment.variables {
        let length = value.as_ref().map_or(0, String::len).max(1);
        let range = next_offset..next_offset + length;
        next_offset = range.end + 1;
        match apply(root, name, value.as_deref(), &range, schema) {
            Ok(key) => {
                overlay.ranges.push((range, name.as_str().into()));
                overlay.keys.push(EnvironmentKey {
                    key,
                    variable: name.clone(),
                });
            }
            Err(message) => overlay.problems.push(Problem {
                at: Location::environment(name),
                message,
            }),
        }
    }
    overlay
}

/// Sets the key `name` addresses to `value`; returns the dotted key.
fn apply<'i>(
    root: &mut DeTable<'i>,
    name: &str,
    value: Option<&'i str>,
    range: &Range<usize>,
    schema: &Node,
) -> Result<String, String> {
    let value = value.ok_or("the value is not valid UTF-8")?;
    let path = key_path(name)?;
    let mut node = Some(schema);
    for (depth, key) in path.iter().enumerate() {
        node = node.and_then(|n| n.get(key));
        if node.is_some_and(Node::is_array_of_tables) {
            let table = path[..=depth].join(".");
            return Err(format!(
                "[[{table}]] is an array of tables, which the environment cannot address; \
                 write its entries in the config file"
            ));
        }
    }
    let value = parse_value(value, node, range);
    insert(root, &path, value, range)?;
    Ok(path.join("."))
}

/// `GATEWAY_AUTH__COOKIE__NAME` → `["auth", "cookie", "name"]`.
fn key_path(name: &str) -> Result<Vec<String>, String> {
    let rest = name.strip_prefix(PREFIX).unwrap_or(name);
    let path: Vec<String> = rest.split(SEPARATOR).map(str::to_ascii_lowercase).collect();
    let valid = path
        .iter()
        .all(|key| !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !valid {
        return Err(format!(
            "not a config key: expected GATEWAY_<SECTION>__<KEY> (letters, digits and `_`, \
             one `__` between levels), e.g. GATEWAY_AUTH__TOKEN_TTL; got {}",
            path.join(".")
        ));
    }
    Ok(path)
}

/// The value of a key whose node is `node`: a string key's text as is; otherwise the text
/// as a TOML value when it is one (a date is not: it stays text), else as a string.
fn parse_value<'i>(
    text: &'i str,
    node: Option<&Node>,
    range: &Range<usize>,
) -> Spanned<DeValue<'i>> {
    let literal = || Spanned::new(range.clone(), DeValue::String(Cow::Borrowed(text)));
    if node == Some(&Node::Text) {
        return literal();
    }
    match DeValue::parse(text) {
        Ok(value) if !value.get_ref().is_datetime() => shifted(value, range.start),
        _ => literal(),
    }
}

/// `value` with every span moved `by` bytes (from the variable's text to its range).
fn shifted(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let inner = match value.into_inner() {
        DeValue::Array(items) => {
            DeValue::Array(items.into_iter().map(|item| shifted(item, by)).collect())
        }
        DeValue::Table(table) => DeValue::Table(
            table
                .into_iter()
                .map(|(key, item)| {
                    let key_span = key.span();
                    let key =
                        Spanned::new(key_span.start + by..key_span.end + by, key.into_inner());
                    (key, shifted(item, by))
                })
                .collect(),
        ),
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, inner)
}

/// Puts `value` at `path` in `root`, creating the tables on the way that the file lacks.
fn insert<'i>(
    root: &mut DeTable<'i>,
    path: &[String],
    value: Spanned<DeValue<'i>>,
    range: &Range<usize>,
) -> Result<(), String> {
    let Some((last, tables)) = path.split_last() else {
        return Err("no key named".to_owned());
    };
    if tables.is_empty() {
        return Err(format!(
            "{last} is a section: name a key in it, e.g. {PREFIX}{}__<KEY>",
            last.to_ascii_uppercase()
        ));
    }
    let spanned = |text: &str| Spanned::new(range.clone(), Cow::Owned(text.to_owned()));
    let mut table = root;
    for (depth, key) in tables.iter().enumerate() {
        let entry = table
            .entry(spanned(key))
            .or_insert_with(|| Spanned::new(range.clone(), DeValue::Table(DeTable::new())));
        table = match entry.get_mut() {
            DeValue::Table(inner) => inner,
            other => {
                return Err(format!(
                    "{} is {} in the config file, not a table",
                    path[..=depth].join("."),
                    other.type_str()
                ));
            }
        };
    }
    table.insert(spanned(last), value);
    Ok(())
}

#[cfg(test)]
mod tests;
