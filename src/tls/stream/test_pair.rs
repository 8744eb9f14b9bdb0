//! A handshaken TLS pair over loopback for tests: a tokio-rustls client and the gateway's
//! [`TlsStream`], with a fresh self-signed certificate.

use std::io;
use std::sync::Arc;

use rustls::ServerConfig;
use tokio::net::TcpStream;

use super::TlsStream;

/// A TLS client (tokio-rustls, trusting a fresh self-signed certificate) and the gateway's
/// server stream, handshaken over loopback TCP.
pub(crate) struct Pair {
    /// The client end.
    pub(crate) client: tokio_rustls::client::TlsStream<TcpStream>,
    /// The gateway's end.
    pub(crate) server: TlsStream,
}

/// The server's and the client's config (the client offering `alpn`).
fn configs(alpn: &[&[u8]]) -> (ServerConfig, rustls::ClientConfig) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let cert = generated.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certified = rustls::sign::CertifiedKey::from_der(vec![cert.clone()], key, &provider)
        .expect("certified key");
    // The gateway's own resolver, which hands the SNI name to the stream.
    let resolver = super::super::SniResolver {
        default: Arc::new(certified),
        by_host: std::collections::HashMap::new(),
    };
    let mut server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (server_config, client_config)
}

/// Both sides' handshakes over loopback TCP.
pub(crate) async fn handshakes(
    alpn: &[&[u8]],
) -> (
    io::Result<tokio_rustls::client::TlsStream<TcpStream>>,
    io::Result<TlsStream>,
) {
    let (server_config, client_config) = configs(alpn);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let client = async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        connector.connect(name, tcp).await
    };
    let server = async {
        let (tcp, _) = listener.accept().await.expect("accept");
        TlsStream::accept(tcp, Arc::new(server_config)).await
    };
    tokio::join!(client, server)
}

/// A handshaken pair (the client offering `alpn`).
pub(crate) async fn pair(alpn: &[&[u8]]) -> Pair {
    let (client, server) = handshakes(alpn).await;
    Pair {
        client: client.expect("client handshake"),
        server: server.expect("server handshake"),
    }
}
