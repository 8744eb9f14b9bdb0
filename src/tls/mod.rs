//! Certificates and keys → a rustls `ServerConfig`: SNI selection, ALPN, TLS 1.2 minimum.
//! The client side (the gateway connecting out: HTTPS upstreams, identity providers) is
//! [`client`].
//!
//! The default certificate answers every handshake whose SNI names no `[[tls.sni]]` entry
//! (or that sends no SNI at all); an entry's certificate answers its exact host name. The
//! request pipeline needs to know when SNI picked a dedicated certificate — a request for another host
//! on that connection must get 421 — so [`TlsAcceptor::dedicated_host`] answers that.
//!
//! `generate_self_signed` is a development convenience: when both default files are missing
//! it writes a self-signed certificate for `localhost`/`127.0.0.1` (key mode 0600) and logs a
//! warning. It never overwrites a file. Protocol versions are rustls's safe defaults (TLS 1.3
//! and 1.2; nothing older exists in rustls), with its default cipher suites.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{Located, Location, TlsSettings};
use crate::files::write_file;

pub mod client;
mod sni_seen;
mod stream;

use sni_seen::SniSeen;
#[cfg(test)]
pub(crate) use stream::test_pair;
pub use stream::{IdleRelease, TlsStream};

/// Names the development certificate is valid for.
const SELF_SIGNED_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// Why the TLS setup failed. Each variant names the config position of the offending path.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate file could not be read or holds no PEM certificate.
    #[error("{at}: cannot load certificate {}", path.display())]
    Certificate {
        /// Where the path is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: PemError,
    },
    /// A key file could not be read or holds no usable private key.
    #[error("{at}: cannot load private key {}", path.display())]
    PrivateKey {
        /// Where the path is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: PemError,
    },
    /// The key does not belong to the certificate, or rustls refused the pair.
    #[error("{at}: certificate {} and its key do not fit together", path.display())]
    Mismatch {
        /// Where the certificate is configured.
        at: Location,
        /// The certificate file.
        path: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// A CA file (the trust roots of outbound connections) could not be used.
    #[error("{at}: cannot load CA certificates {}", path.display())]
    CaFile {
        /// Where the path is configured.
        at: Location,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: PemError,
    },
    /// Outbound TLS should trust the system's roots, but the system has none.
    #[error(
        "the system has no usable trust roots (install ca-certificates, or configure a CA file)"
    )]
    NoSystemRoots,
    /// rustls refused the client configuration itself.
    #[error("cannot set up outbound TLS")]
    ClientSetup(#[source] rustls::Error),
    /// The development certificate could not be generated or written.
    #[error("{at}: cannot create self-signed certificate {}", path.display())]
    Generate {
        /// Where the certificate path is configured.
        at: Location,
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What is wrong inside a PEM file.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be read or parsed.
    #[error(transparent)]
    Pem(#[from] rustls::pki_types::pem::Error),
    /// The file parsed but held no certificate.
    #[error("no certificate found in the file")]
    NoCertificate,
    /// A certificate in the file is not a usable trust anchor.
    #[error("not a usable CA certificate: {0}")]
    TrustAnchor(Box<rustls::Error>),
}

/// Reads every PEM certificate in `path`; an empty file is [`PemError::NoCertificate`].
fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let chain =
        CertificateDer::pem_file_iter(path).and_then(|iter| iter.collect::<Result<Vec<_>, _>>())?;
    if chain.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(chain)
}

/// The TLS side of the listener: the rustls config plus the SNI names with their own
/// certificates.
#[derive(Clone)]
pub struct TlsAcceptor {
    /// The rustls config client connections are handshaken with ([`TlsStream::accept`]).
    pub config: Arc<ServerConfig>,
    resolver: Arc<SniResolver>,
}

impl TlsAcceptor {
    /// Loads every certificate and key named in `settings` (generating the development
    /// certificate first when configured and missing).
    ///
    /// # Errors
    /// A [`TlsError`] naming the configured path that failed.
    pub fn load(settings: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
        if settings.generate_self_signed {
            generate_self_signed_if_missing(&settings.cert, &settings.key)?;
        }
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let default = load_certified_key(&settings.cert, &settings.key, &provider)?;
        let mut by_host = HashMap::new();
        for sni in &settings.sni {
            let key = load_certified_key(&sni.cert, &sni.key, &provider)?;
            by_host.insert(sni.host.value.clone(), key);
        }
        let resolver = Arc::new(SniResolver { default, by_host });
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Mismatch {
                at: settings.cert.at.clone(),
                path: settings.cert.value.clone(),
                source,
            })?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor {
            config: Arc::new(config),
            resolver,
        })
    }

    /// The SNI name, lower-cased, when it selected a `[[tls.sni]]` certificate.
    pub fn dedicated_host(&self, sni: Option<&str>) -> Option<String> {
        let host = sni?.trim_end_matches('.').to_ascii_lowercase();
        self.resolver.by_host.contains_key(&host).then_some(host)
    }
}

/// Picks the `[[tls.sni]]` certificate for the SNI name, else the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    by_host: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        SniSeen::record(hello.server_name());
        let dedicated = hello.server_name().and_then(|name| {
            // rustls hands over SNI already validated as a DNS name; hosts were lower-cased
            // at config time, and lookup must be case-insensitive (RFC 4343).
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                self.by_host.get(&name.to_ascii_lowercase())
            } else {
                self.by_host.get(name)
            }
        });
        Some(dedicated.unwrap_or(&self.default).clone())
    }
}

fn load_certified_key(
    cert: &Located<PathBuf>,
    key: &Located<PathBuf>,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_error = |source| TlsError::Certificate {
        at: cert.at.clone(),
        path: cert.value.clone(),
        source,
    };
    let chain = load_certificates(&cert.value).map_err(cert_error)?;
    let private_key =
        PrivateKeyDer::from_pem_file(&key.value).map_err(|e| TlsError::PrivateKey {
            at: key.at.clone(),
            path: key.value.clone(),
            source: e.into(),
        })?;
    let certified = CertifiedKey::from_der(chain, private_key, provider).map_err(|source| {
        TlsError::Mismatch {
            at: cert.at.clone(),
            path: cert.value.clone(),
            source,
        }
    })?;
    Ok(Arc::new(certified))
}

fn generate_self_signed_if_missing(
    cert: &Located<PathBuf>,
    key: &Located<PathBuf>,
) -> Result<(), TlsError> {
    if cert.value.exists() || key.value.exists() {
        return Ok(());
    }
    let generate_error =
        |path: &Path, source: Box<dyn std::error::Error + Send + Sync>| TlsError::Generate {
            at: cert.at.clone(),
            path: path.to_owned(),
            source,
        };
    let names = SELF_SIGNED_NAMES.map(String::from).to_vec();
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| generate_error(&cert.value, Box::new(e)))?;
    write_file(
        &key.value,
        generated.signing_key.serialize_pem().as_bytes(),
        0o600,
    )
    .map_err(|e| generate_error(&key.value, Box::new(e)))?;
    write_file(&cert.value, generated.cert.pem().as_bytes(), 0o644)
        .map_err(|e| generate_error(&cert.value, Box::new(e)))?;
    tracing::warn!(
        cert = %cert.value.display(),
        key = %key.value.display(),
        "generated a self-signed certificate for localhost; for development only"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::config::Location;

    fn located(path: PathBuf) -> Located<PathBuf> {
        Located {
            value: path,
            at: Location {
                file: "gateway.toml".into(),
                line: 3,
                col: 8,
            },
        }
    }

    fn settings(dir: &Path, generate: bool) -> TlsSettings {
        TlsSettings {
            cert: located(dir.join("certs/dev.crt")),
            key: located(dir.join("certs/dev.key")),
            generate_self_signed: generate,
            sni: Vec::new(),
            hsts: None,
        }
    }

    #[test]
    fn self_signed_certificate_is_generated_once_with_private_key_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = settings(dir.path(), true);
        TlsAcceptor::load(&settings).expect("generated and loaded");
        let key_mode = fs::metadata(&settings.key.value)
            .expect("key")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&key_mode) & 0o777,
            0o600
        );
        let first = fs::read(&settings.cert.value).expect("cert");
        TlsAcceptor::load(&settings).expect("loaded again");
        assert_eq!(
            fs::read(&settings.cert.value).expect("cert"),
            first,
            "never overwritten"
        );
    }

    #[test]
    fn missing_certificate_names_its_config_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = TlsAcceptor::load(&settings(dir.path(), false))
            .err()
            .expect("missing files must fail");
        assert!(matches!(err, TlsError::Certificate { .. }));
        assert!(
            err.to_string()
                .starts_with("gateway.toml:3:8: cannot load certificate"),
            "{err}"
        );
    }

    #[test]
    fn key_of_another_certificate_is_a_mismatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = settings(dir.path(), true);
        TlsAcceptor::load(&one).expect("generated");
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other = settings(other_dir.path(), true);
        TlsAcceptor::load(&other).expect("generated");
        let mixed = TlsSettings {
            key: other.key.clone(),
            ..one
        };
        let err = TlsAcceptor::load(&mixed).err().expect("mismatch");
        assert!(matches!(err, TlsError::Mismatch { .. }), "{err:?}");
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = settings(dir.path(), true);
        TlsAcceptor::load(&settings).expect("generated");
        fs::write(&settings.key.value, "not a key").expect("overwrite");
        let err = TlsAcceptor::load(&settings).err().expect("bad key");
        assert!(matches!(err, TlsError::PrivateKey { .. }), "{err:?}");
    }
}
