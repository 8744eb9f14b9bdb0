//! The plain-HTTP listeners: the redirect to HTTPS and the admin listener, served as
//! HTTP/1.1 under the same deadlines as HTTPS connections.

use std::convert::Infallible;
use std::pin::{Pin, pin};
use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::activity::{Activity, Guarded, Served, drive};
use super::write_timeout::WriteTimeout;
use crate::gateway::Snapshot;
use crate::http::{Body, empty};
use crate::router::normalize_host;

/// Serves one plain-HTTP/1.1 connection (the redirect and admin listeners), under the same
/// deadlines as HTTPS connections.
pub(super) async fn serve_plain<S>(
    snapshot: Arc<Snapshot>,
    stream: TcpStream,
    shutdown: watch::Receiver<bool>,
    service: S,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    let settings = &snapshot.config().server;
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(settings));
    let io = TokioIo::new(WriteTimeout::new(stream, settings.write_timeout));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_request_header_bytes);
    let tracked = activity.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let in_flight = tracked.request_started();
        let response = service.call(request);
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Guarded::new(body, in_flight)))
        }
    });
    let connection = pin!(builder.serve_connection(io, service));
    drive(connection, shutdown, &activity).await;
}

impl<S> Served for http1::Connection<TokioIo<WriteTimeout<TcpStream>>, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = Guarded<Body>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Error = hyper::Error;

    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self);
    }
}

/// `308` to the same host and target on HTTPS; 400 without a usable host.
pub(super) fn redirect_to_https(request: &Request<Incoming>, https_port: u16) -> Response<Body> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| normalize_host(h).ok());
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = host.and_then(|host| {
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        HeaderValue::from_str(&format!("https://{host}{port}{target}")).ok()
    });
    let mut response = Response::new(empty());
    match location {
        Some(location) => {
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(header::LOCATION, location);
        }
        None => *response.status_mut() = StatusCode::BAD_REQUEST,
    }
    response
}
