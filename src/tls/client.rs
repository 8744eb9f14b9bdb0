//! The gateway as a TLS client: one rustls `ClientConfig` builder for every outbound
//! connection that must be verified (HTTPS upstreams, identity providers' discovery, JWKS
//! and token endpoints).
//!
//! Trust comes either from the system's roots (read once per process, the first time a
//! config asks for them) or from a configured CA file, which then replaces the system
//! roots rather than adding to them: a deployment that names its internal CA means "only
//! this CA". rustls always checks the certificate against the name the connection was made
//! to (SNI and verification use the same name); there is no switch to turn that off.
//! Protocol versions are rustls's safe defaults (TLS 1.3 and 1.2), as on the server side.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use super::{PemError, TlsError, load_certificates};
use crate::config::Located;

/// Which certificate authorities an outbound connection trusts.
#[derive(Debug, Clone, Copy)]
pub enum TrustRoots<'a> {
    /// The operating system's trust store (`/etc/ssl/certs` and friends).
    System,
    /// Only the certificates in this PEM file.
    File(&'a Located<PathBuf>),
}

/// A certificate chain and key the gateway presents to the server (mutual TLS).
#[derive(Debug, Clone, Copy)]
pub struct ClientIdentity<'a> {
    /// PEM certificate chain, leaf first.
    pub cert: &'a Located<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: &'a Located<PathBuf>,
}

/// Builds a client config trusting `roots`, presenting `identity` when given, and offering
/// `alpn` (e.g. `[b"h2", b"http/1.1"]`; empty offers nothing).
///
/// # Errors
/// A [`TlsError`] naming the configured file that failed, or
/// [`TlsError::NoSystemRoots`] when the system store is empty or unreadable.
pub fn client_config(
    roots: TrustRoots<'_>,
    identity: Option<ClientIdentity<'_>>,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match roots {
        TrustRoots::System => system_roots()?,
        TrustRoots::File(file) => Arc::new(file_roots(file)?),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::ClientSetup)?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let chain = load_certificates(&identity.cert.value).map_err(|source| {
                TlsError::Certificate {
                    at: identity.cert.at.clone(),
                    path: identity.cert.value.clone(),
                    source,
                }
            })?;
            let key = PrivateKeyDer::from_pem_file(&identity.key.value).map_err(|e| {
                TlsError::PrivateKey {
                    at: identity.key.at.clone(),
                    path: identity.key.value.clone(),
                    source: e.into(),
                }
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| TlsError::Mismatch {
                    at: identity.cert.at.clone(),
                    path: identity.cert.value.clone(),
                    source,
                })?
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn file_roots(file: &Located<PathBuf>) -> Result<RootCertStore, TlsError> {
    let error = |source| TlsError::CaFile {
        at: file.at.clone(),
        path: file.value.clone(),
        source,
    };
    let mut store = RootCertStore::empty();
    for cert in load_certificates(&file.value).map_err(error)? {
        store
            .add(cert)
            .map_err(|e| error(PemError::TrustAnchor(Box::new(e))))?;
    }
    Ok(store)
}

/// The system store, loaded once: reading and parsing a few hundred certificates is too
/// slow to repeat on every reload. Certificates the system has but webpki cannot use are
/// skipped, as browsers do; an empty result is an error.
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, skipped) = store.add_parsable_certificates(loaded.certs);
        if skipped > 0 || !loaded.errors.is_empty() {
            tracing::debug!(
                added,
                skipped,
                errors = loaded.errors.len(),
                "loaded the system trust roots"
            );
        }
        Arc::new(store)
    });
    if roots.is_empty() {
        return Err(TlsError::NoSystemRoots);
    }
    Ok(roots.clone())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Location;

    fn located(path: &Path) -> Located<PathBuf> {
        Located {
            value: path.to_owned(),
            at: Location {
                file: "gateway.toml".into(),
                line: 7,
                col: 11,
            },
        }
    }

    fn write_ca(dir: &Path) -> (PathBuf, PathBuf) {
        let generated =
            rcgen::generate_simple_self_signed(vec!["ca.test".into()]).expect("generate");
        let cert = dir.join("ca.pem");
        let key = dir.join("ca.key");
        std::fs::write(&cert, generated.cert.pem()).expect("write cert");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
        (cert, key)
    }

    #[test]
    fn ca_file_and_client_identity_load_with_alpn() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = write_ca(dir.path());
        let (cert, key) = (located(&cert), located(&key));
        let config = client_config(
            TrustRoots::File(&cert),
            Some(ClientIdentity {
                cert: &cert,
                key: &key,
            }),
            &[b"h2", b"http/1.1"],
        )
        .expect("loads");
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn missing_ca_file_names_its_config_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = located(&dir.path().join("absent.pem"));
        let err = client_config(TrustRoots::File(&missing), None, &[])
            .expect_err("missing file must fail");
        assert!(matches!(err, TlsError::CaFile { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("gateway.toml:7:11: cannot load CA certificates"),
            "{err}"
        );
    }

    #[test]
    fn ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "no pem here\n").expect("write");
        let err =
            client_config(TrustRoots::File(&located(&path)), None, &[]).expect_err("empty CA file");
        assert!(
            matches!(
                err,
                TlsError::CaFile {
                    source: PemError::NoCertificate,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn key_that_does_not_fit_the_client_certificate_is_a_mismatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, _) = write_ca(dir.path());
        let other = tempfile::tempdir().expect("tempdir");
        let (_, other_key) = write_ca(other.path());
        let (cert, other_key) = (located(&cert), located(&other_key));
        let err = client_config(
            TrustRoots::File(&cert),
            Some(ClientIdentity {
                cert: &cert,
                key: &other_key,
            }),
            &[],
        )
        .expect_err("mismatch");
        assert!(matches!(err, TlsError::Mismatch { .. }), "{err:?}");
    }
}
