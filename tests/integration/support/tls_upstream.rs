//! An in-process HTTPS upstream: the answers of [`upstream`](super::upstream) over
//! tokio-rustls, with a certificate of a test CA and, when asked, a demand for a client
//! certificate of another CA (mutual TLS). It records the first byte of every connection
//! (a TLS handshake starts with 0x16), so a test can show that nothing came in plain
//! text, and counts the handshakes that failed.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::certs::{LeafFiles, TestCa};
use super::upstream::{Upstream, respond};

/// The first byte of a TLS record carrying a handshake message.
pub const TLS_HANDSHAKE: u8 = 0x16;

/// A running HTTPS upstream.
pub struct TlsUpstream {
    /// Its requests, as the plain upstream records them.
    pub upstream: Upstream,
    first_bytes: Arc<Mutex<Vec<u8>>>,
    failed_handshakes: Arc<AtomicUsize>,
}

impl TlsUpstream {
    /// `https://{host}:PORT`.
    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.upstream.addr.port())
    }

    /// The first byte of every connection accepted so far.
    pub fn first_bytes(&self) -> Vec<u8> {
        self.first_bytes.lock().expect("lock").clone()
    }

    /// How many TLS handshakes failed.
    pub fn failed_handshakes(&self) -> usize {
        self.failed_handshakes.load(Ordering::SeqCst)
    }
}

/// Starts an HTTPS upstream serving `leaf`; with `client_ca`, only clients presenting a
/// certificate of that CA complete the handshake.
pub async fn start(name: &str, leaf: &LeafFiles, client_ca: Option<&TestCa>) -> TlsUpstream {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&leaf.cert)
        .expect("leaf cert")
        .collect::<Result<_, _>>()
        .expect("leaf cert");
    let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("leaf key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.cert.clone()).expect("client CA");
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = TlsUpstream {
        upstream: Upstream::new(listener.local_addr().expect("addr"), name),
        first_bytes: Arc::default(),
        failed_handshakes: Arc::default(),
    };
    let (state, first_bytes, failed) = (
        server.upstream.clone(),
        server.first_bytes.clone(),
        server.failed_handshakes.clone(),
    );
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, state, first_bytes, failed) = (
                acceptor.clone(),
                state.clone(),
                first_bytes.clone(),
                failed.clone(),
            );
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                if matches!(stream.peek(&mut first).await, Ok(1)) {
                    first_bytes.lock().expect("lock").push(first[0]);
                }
                let Ok(tls) = acceptor.accept(stream).await else {
                    failed.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let service = service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(respond(state, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    server
}
