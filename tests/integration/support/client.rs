//! A real TLS client: rustls trusting the test CA, hyper's HTTP/1.1 or HTTP/2 client
//! connection on top. Raw bytes on these connections are [`super::raw`]'s.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::within;

/// Which HTTP version to offer in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

/// A response read to the end.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Connects to one gateway.
#[derive(Clone)]
pub struct TestClient {
    addr: SocketAddr,
    roots: Arc<RootCertStore>,
}

impl TestClient {
    pub fn new(addr: SocketAddr, ca: &CertificateDer<'static>) -> TestClient {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone()).expect("add CA");
        TestClient {
            addr,
            roots: Arc::new(roots),
        }
    }

    /// A TLS connection with SNI `server_name`, offering `protocol` by ALPN.
    pub async fn connect(&self, server_name: &str, protocol: Protocol) -> TlsStream<TcpStream> {
        let alpn = match protocol {
            Protocol::Http1 => b"http/1.1".to_vec(),
            Protocol::Http2 => b"h2".to_vec(),
        };
        self.handshake(server_name, vec![alpn]).await
    }

    /// A TLS connection with SNI `server_name` whose client offers no ALPN protocol.
    pub async fn connect_without_alpn(&self, server_name: &str) -> TlsStream<TcpStream> {
        self.handshake(server_name, Vec::new()).await
    }

    async fn handshake(&self, server_name: &str, alpn: Vec<Vec<u8>>) -> TlsStream<TcpStream> {
        self.try_handshake(server_name, alpn)
            .await
            .expect("connect and tls handshake")
    }

    /// [`TestClient::connect`], returning a refused connection or handshake as an error (for
    /// polling a server that is still starting).
    pub async fn try_connect(
        &self,
        server_name: &str,
        protocol: Protocol,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let alpn = match protocol {
            Protocol::Http1 => b"http/1.1".to_vec(),
            Protocol::Http2 => b"h2".to_vec(),
        };
        self.try_handshake(server_name, vec![alpn]).await
    }

    /// An HTTP/1.1 TLS connection with SNI `localhost` whose client speaks TLS 1.2 only.
    pub async fn connect_tls12(&self) -> TlsStream<TcpStream> {
        let config = ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        self.handshake_with(config, "localhost", vec![b"http/1.1".to_vec()])
            .await
            .expect("connect and tls 1.2 handshake")
    }

    async fn try_handshake(
        &self,
        server_name: &str,
        alpn: Vec<Vec<u8>>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let config = ClientConfig::builder()
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        self.handshake_with(config, server_name, alpn).await
    }

    async fn handshake_with(
        &self,
        mut config: ClientConfig,
        server_name: &str,
        alpn: Vec<Vec<u8>>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        config.alpn_protocols = alpn;
        let tcp = within(TcpStream::connect(self.addr)).await?;
        let name = ServerName::try_from(server_name.to_owned()).expect("server name");
        within(TlsConnector::from(Arc::new(config)).connect(name, tcp)).await
    }

    /// Sends one request on a new connection; SNI is the request's `Host` (without port).
    pub async fn send(&self, request: Request<Full<Bytes>>, protocol: Protocol) -> TestResponse {
        let host = request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h).to_owned())
            .or_else(|| request.uri().host().map(String::from))
            .unwrap_or_else(|| "localhost".to_owned());
        let tls = self.connect(&host, protocol).await;
        let response = send_on(tls, request, protocol).await;
        read(response).await
    }

    /// `GET https://{host}{path}` over HTTP/1.1.
    pub async fn get(&self, host: &str, path: &str) -> TestResponse {
        let request = Request::get(path)
            .header("host", host)
            .body(Full::default())
            .expect("request");
        self.send(request, Protocol::Http1).await
    }
}

/// Sends `request` on an established TLS connection and returns the response head.
pub async fn send_on(
    tls: TlsStream<TcpStream>,
    request: Request<Full<Bytes>>,
    protocol: Protocol,
) -> http::Response<Incoming> {
    match protocol {
        Protocol::Http1 => {
            let (mut sender, connection) =
                within(hyper::client::conn::http1::handshake(TokioIo::new(tls)))
                    .await
                    .expect("http1 handshake");
            tokio::spawn(connection);
            within(sender.send_request(request))
                .await
                .expect("response")
        }
        Protocol::Http2 => {
            let (mut sender, _connection) = http2(tls).await;
            within(sender.send_request(request))
                .await
                .expect("response")
        }
    }
}

/// An HTTP/2 client connection on `tls` (hyper's defaults), driven by a spawned task;
/// returns the sender and that task, which ends when the connection does.
pub async fn http2<B>(tls: TlsStream<TcpStream>) -> (SendRequest<B>, JoinHandle<hyper::Result<()>>)
where
    B: hyper::body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, connection) = within(hyper::client::conn::http2::handshake(
        TokioExecutor::new(),
        TokioIo::new(tls),
    ))
    .await
    .expect("http2 handshake");
    (sender, tokio::spawn(connection))
}

/// `GET https://localhost:{port}{path}` on an HTTP/2 connection, read to the end.
pub async fn get_h2(sender: &mut SendRequest<Full<Bytes>>, port: u16, path: &str) -> TestResponse {
    let request = Request::get(format!("https://localhost:{port}{path}"))
        .body(Full::default())
        .expect("request");
    read(
        within(sender.send_request(request))
            .await
            .expect("response"),
    )
    .await
}

/// Reads a response to the end.
pub async fn read(response: http::Response<Incoming>) -> TestResponse {
    let (parts, body) = response.into_parts();
    let body = within(body.collect()).await.expect("body").to_bytes();
    TestResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
