//! `[tls]` and its `[[tls.sni]]` entries: which certificate and key files to serve, by SNI
//! host, and the HSTS header. Files are only *named* here, resolved against the config
//! file's folder; `crate::tls` reads them before any port is bound.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::hsts;
use super::location::{Located, Problems};

/// `[tls]`.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Default certificate chain (PEM).
    pub cert: Located<PathBuf>,
    /// Default private key (PEM).
    pub key: Located<PathBuf>,
    /// Create a self-signed certificate and key when both files are missing.
    pub generate_self_signed: bool,
    /// Extra certificates chosen by SNI.
    pub sni: Vec<SniSettings>,
    /// The `Strict-Transport-Security` value for every HTTPS response, checked at load.
    pub hsts: Option<http::HeaderValue>,
}

/// One `[[tls.sni]]` entry.
#[derive(Debug, Clone)]
pub struct SniSettings {
    /// The SNI host name (lower-case, no trailing dot).
    pub host: Located<String>,
    /// Certificate chain (PEM).
    pub cert: Located<PathBuf>,
    /// Private key (PEM).
    pub key: Located<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
    #[serde(default)]
    generate_self_signed: bool,
    #[serde(default)]
    sni: Vec<RawSni>,
    hsts: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSni {
    host: Spanned<String>,
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

pub(super) fn validate_tls(
    raw: RawTls,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Option<TlsSettings> {
    let locator = problems.locator;
    let resolve = |path: Spanned<PathBuf>| locator.resolved(path, base_dir);
    let mut seen = HashSet::new();
    let mut sni = Vec::new();
    for entry in raw.sni {
        let host_offset = entry.host.span().start;
        let host = entry
            .host
            .get_ref()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host.is_empty() || host.contains(['*', ':', '/', ' ']) {
            problems.add(
                host_offset,
                format!(
                    "invalid SNI host {:?}: expected a DNS name such as \"app1.example.com\"",
                    entry.host.get_ref()
                ),
            );
            continue;
        }
        if !seen.insert(host.clone()) {
            problems.add(host_offset, format!("duplicate [[tls.sni]] host {host:?}"));
            continue;
        }
        let mut located_host = locator.located(entry.host);
        located_host.value = host;
        sni.push(SniSettings {
            host: located_host,
            cert: resolve(entry.cert),
            key: resolve(entry.key),
        });
    }
    let hsts = raw
        .hsts
        .and_then(|hsts| match hsts::parse_hsts(hsts.get_ref()) {
            Ok(value) => Some(value),
            Err(message) => {
                problems.add(hsts.span().start, message);
                None
            }
        });
    Some(TlsSettings {
        cert: resolve(raw.cert),
        key: resolve(raw.key),
        generate_self_signed: raw.generate_self_signed,
        sni,
        hsts,
    })
}
