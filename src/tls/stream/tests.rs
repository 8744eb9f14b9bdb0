use super::test_pair::{Pair, handshakes, pair};
use super::*;

/// A handshake rustls refuses fails on both sides, and the client hears why: the alert
/// goes out before the stream fails.
#[tokio::test]
async fn a_refused_handshake_sends_the_alert() {
    let (client, server) = handshakes(&[b"gopher"]).await;
    let server = server
        .err()
        .expect("the server refuses an unknown ALPN protocol");
    assert_eq!(server.kind(), io::ErrorKind::InvalidData);
    let Err(client) = client else {
        panic!("the client's handshake succeeded");
    };
    assert!(
        client.to_string().contains("NoApplicationProtocol"),
        "the client did not get the alert: {client}"
    );
}

/// `count` bytes of a pattern that shows a lost, repeated or reordered byte.
fn pattern(count: usize) -> Vec<u8> {
    (0..count).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn the_handshake_gives_alpn_and_sni() {
    let Pair { server, .. } = pair(&[b"http/1.1"]).await;
    assert_eq!(server.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(server.server_name(), Some("localhost"));
}

/// Records of every size cross intact both ways: the client's 16 KiB records grow
/// `incoming`, and a megabyte written at once is taken in pieces under backpressure.
#[tokio::test]
async fn large_writes_cross_intact_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Pair {
        mut client,
        mut server,
    } = pair(&[]).await;
    let up = pattern(300_000);
    let down = pattern(1_000_000);
    let (sent_up, received_up) = tokio::join!(
        async {
            client.write_all(&up).await.expect("client write");
            client.flush().await.expect("client flush");
            let mut received = vec![0u8; down.len()];
            client.read_exact(&mut received).await.expect("client read");
            received
        },
        async {
            let mut received = vec![0u8; up.len()];
            server.read_exact(&mut received).await.expect("server read");
            server.write_all(&down).await.expect("server write");
            server.flush().await.expect("server flush");
            received
        }
    );
    assert!(sent_up == down, "the download arrived changed");
    assert!(received_up == up, "the upload arrived changed");
}

/// The client sends `ping` and the server answers `pong`: both directions, once each.
async fn ping_pong(
    client: &mut tokio_rustls::client::TlsStream<TcpStream>,
    server: &mut TlsStream,
    round: usize,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    client.write_all(b"ping").await.expect("write");
    client.flush().await.expect("flush");
    let mut got = [0u8; 4];
    server.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"ping", "round {round}");
    server.write_all(b"pong").await.expect("write");
    server.flush().await.expect("flush");
    client.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"pong", "round {round}");
}

/// Released while idle, the stream holds no buffer at all, and serves on afterwards.
#[tokio::test]
async fn released_buffers_are_freed_and_come_back_on_use() {
    let Pair {
        mut client,
        mut server,
    } = pair(&[]).await;
    for round in 0..2 {
        ping_pong(&mut client, &mut server, round).await;

        assert!(server.incoming.capacity() > 0, "reading allocated");
        server.release_buffers();
        let held = server.held_buffer_bytes();
        assert_eq!(
            held, 0,
            "round {round}: a released stream holds {held} bytes of buffers"
        );
    }
}

/// The peer's `close_notify` is the end of the stream; a TCP end without one is an error,
/// so a cut-off request is never taken for a whole one.
#[tokio::test]
async fn close_notify_ends_the_stream_and_a_bare_tcp_close_is_an_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Pair {
        mut client,
        mut server,
    } = pair(&[]).await;
    client.write_all(b"last words").await.expect("write");
    client.shutdown().await.expect("close_notify and FIN");
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.expect("a clean end");
    assert_eq!(got, b"last words");

    let Pair { client, mut server } = pair(&[]).await;
    let (mut tcp, _) = client.into_inner();
    tcp.shutdown().await.expect("FIN without close_notify");
    let error = server.read_to_end(&mut Vec::new()).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
}

/// Our `close_notify` reaches the client, which then sees a clean end.
#[tokio::test]
async fn shutdown_sends_close_notify() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Pair {
        mut client,
        mut server,
    } = pair(&[]).await;
    server.write_all(b"bye").await.expect("write");
    server.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    client
        .read_to_end(&mut got)
        .await
        .expect("a clean end, close_notify first");
    assert_eq!(got, b"bye");
}

/// One poll of a read into `buf`.
async fn read_once(stream: &mut TlsStream, buf: &mut [u8]) -> Poll<io::Result<()>> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *stream).poll_read(cx, &mut ReadBuf::new(buf)))).await
}

/// A release asked through the [`IdleRelease`] handle happens at the first read that finds
/// nothing, and not before; then the stream serves on.
#[tokio::test]
async fn an_asked_release_frees_the_buffers_when_a_read_finds_nothing() {
    let Pair {
        mut client,
        mut server,
    } = pair(&[]).await;
    let idle_release = server.idle_release();
    let mut got = [0u8; 4];
    for round in 0..2 {
        ping_pong(&mut client, &mut server, round).await;
        assert!(read_once(&mut server, &mut got).await.is_pending());
        assert!(
            server.held_buffer_bytes() > 0,
            "round {round}: not asked to rest, it keeps them"
        );
        idle_release.ask();
        assert!(read_once(&mut server, &mut got).await.is_pending());
        assert_eq!(
            server.held_buffer_bytes(),
            0,
            "round {round}: a resting stream holds buffers"
        );
    }
}
