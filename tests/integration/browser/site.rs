//! A static web site for the browser tests: a hyper HTTP/1.1 server on `127.0.0.1:0` that
//! answers each path with a fixed file (the single-page app's shell and script, the
//! attacker's page), standing in for the web server an app's files would come from.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::support::upstream::serve_http1;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::net::TcpListener;

/// One file of the site.
pub struct File {
    /// The path it answers; `*` answers every path no other file does (the history-API
    /// fallback of a single-page app).
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl File {
    pub fn new(path: &'static str, content_type: &'static str, body: impl Into<Bytes>) -> File {
        File {
            path,
            content_type,
            body: body.into(),
        }
    }
}

/// Serves `files` until the test ends; returns the upstream URL, `http://127.0.0.1:PORT`.
pub async fn start(files: Vec<File>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind site");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let files = Arc::new(files);
    serve_http1(listener, move |stream| {
        let files = files.clone();
        let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let response = answer(&files, request.uri().path());
            async move { Ok::<_, Infallible>(response) }
        });
        (stream, service)
    });
    format!("http://{addr}")
}

fn answer(files: &[File], path: &str) -> Response<Full<Bytes>> {
    let file = files
        .iter()
        .find(|f| f.path == path)
        .or_else(|| files.iter().find(|f| f.path == "*"));
    match file {
        Some(file) => Response::builder()
            .header("content-type", file.content_type)
            .header("cache-control", "no-store")
            .body(Full::new(file.body.clone()))
            .expect("response"),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found")))
            .expect("response"),
    }
}
