//! TLS downgrade and weak-cipher offers: the gateway speaks TLS 1.2 and 1.3 with AEAD
//! suites and forward secrecy only. Offers of TLS 1.0/1.1, SSLv3, SSLv2, RC4, 3DES, DES,
//! export, NULL, anonymous, static-RSA, CBC, CCM-8 or compression must end in a handshake
//! failure the server itself signals (an alert or a closed connection), never a session.
//!
//! `openssl s_client` makes the offers it still can (run as a real process; the test fails
//! if openssl is not installed: `apt-get install openssl`). Suites this OpenSSL build no
//! longer has at all (RC4, 3DES, DES, export) and the SSLv3/SSLv2 hellos are written byte
//! by byte, next to a hand-made control hello that does get a ServerHello.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Tally;
use crate::support::env::env;

/// Runs `openssl s_client` against `port` with `args`; returns (success, output).
async fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let mut command = Command::new("openssl");
    command
        .arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-servername")
        .arg("app1.example.test")
        .args(args)
        // No system policy (Debian's raises the minimum protocol): only the offer under
        // test decides what the client sends.
        .env("OPENSSL_CONF", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("openssl s_client {}", args.join(" "));
    let output = tokio::task::spawn_blocking(move || {
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("openssl is required for the TLS tests (apt-get install openssl): {e}")
        });
        wait_with_deadline(child, Duration::from_secs(20))
    })
    .await
    .expect("join");
    let (success, text) = output.unwrap_or_else(|| panic!("{what}: did not finish"));
    (success, text)
}

/// Waits for `child` up to `limit`, killing it after; returns (success, stdout + stderr).
fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> Option<(bool, String)> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().ok()?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Some((output.status.success(), text))
}

#[tokio::test]
async fn old_protocols_and_weak_ciphers_are_refused_by_openssl() {
    let mut tally = Tally::new("tls::old_protocols_and_weak_ciphers_are_refused_by_openssl");
    let env = env().await;
    let port = env.gateway.addr.port();
    // Controls: TLS 1.2 and 1.3 with good suites complete a handshake.
    for (args, protocol) in [
        (&["-tls1_2"][..], "TLSv1.2"),
        (&["-tls1_3"][..], "TLSv1.3"),
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"][..],
            "TLSv1.2",
        ),
    ] {
        let (_, output) = s_client(port, args).await;
        assert!(
            output.contains(&format!("New, {protocol}, Cipher is ")),
            "control {args:?}: {output}"
        );
    }
    let offers: &[(&str, &[&str])] = &[
        ("TLS 1.0", &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
        ("TLS 1.1", &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
        (
            "TLS 1.0 with the strongest suite it has",
            &["-tls1", "-cipher", "ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0"],
        ),
        (
            "NULL encryption",
            &["-tls1_2", "-cipher", "eNULL:@SECLEVEL=0"],
        ),
        (
            "anonymous key exchange",
            &["-tls1_2", "-cipher", "aNULL:@SECLEVEL=0"],
        ),
        (
            "static RSA key exchange (no forward secrecy)",
            &["-tls1_2", "-cipher", "kRSA:@SECLEVEL=0"],
        ),
        (
            "CBC suites",
            &[
                "-tls1_2",
                "-cipher",
                "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:@SECLEVEL=0",
            ],
        ),
        (
            "finite-field DHE",
            &["-tls1_2", "-cipher", "kDHE:@SECLEVEL=0"],
        ),
        (
            "CAMELLIA and ARIA",
            &["-tls1_2", "-cipher", "CAMELLIA:ARIA:@SECLEVEL=0"],
        ),
        (
            "TLS 1.3 CCM-8 (64-bit tags)",
            &["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"],
        ),
        (
            "SHA-1 signatures only",
            &[
                "-tls1_2",
                "-sigalgs",
                "ECDSA+SHA1:RSA+SHA1",
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
            ],
        ),
    ];
    for (what, args) in offers {
        let (success, output) = s_client(port, args).await;
        assert!(!success, "{what}: openssl connected: {output}");
        // The server's refusal, not a client that could not make the offer.
        assert!(
            output.contains("SSL alert number"),
            "{what}: no alert from the server (did openssl send the offer?): {output}"
        );
        assert!(
            !output.contains("no protocols available") && !output.contains("no cipher match"),
            "{what}: openssl could not make this offer: {output}"
        );
        assert!(
            !output.contains("New, TLS") && !output.contains("New, SSL"),
            "{what}: a session was established: {output}"
        );
        tally.refused();
    }
    tally.finish();
}

/// A TLS record of `kind` with `version`.
fn record(kind: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// One extension.
fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_be_bytes().to_vec();
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A ClientHello record offering `suites` at `version`, with `compression` methods and the
/// extensions a TLS 1.2 ECDHE-ECDSA handshake needs (SNI, groups, point formats, signature
/// algorithms).
fn client_hello(version: u16, suites: &[u16], compression: &[u8]) -> Vec<u8> {
    let mut hello = version.to_be_bytes().to_vec();
    hello.extend_from_slice(&[0x42; 32]); // random
    hello.push(0); // session id
    hello.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        hello.extend_from_slice(&suite.to_be_bytes());
    }
    hello.push(compression.len() as u8);
    hello.extend_from_slice(compression);
    let name = b"app1.example.test";
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut extensions = extension(0x0000, &sni);
    // supported_groups: x25519, secp256r1, secp384r1.
    extensions.extend(extension(0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]));
    // ec_point_formats: uncompressed.
    extensions.extend(extension(0x000b, &[1, 0]));
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256.
    extensions.extend(extension(0x000d, &[0, 6, 4, 3, 8, 4, 4, 1]));
    // extended_master_secret, renegotiation_info (empty).
    extensions.extend(extension(0x0017, &[]));
    extensions.extend(extension(0xff01, &[0]));
    hello.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    hello.extend(extensions);
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend(hello);
    record(0x16, version.min(0x0301), &handshake)
}

/// What the server answered to a hello.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    ServerHello,
    Alert(u8),
    Closed,
    Other(Vec<u8>),
}

/// Sends `hello` on a fresh TCP connection and reads the first record back.
async fn answer(port: u16, hello: &[u8]) -> Answer {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    tcp.write_all(hello).await.expect("write");
    let mut head = [0u8; 5];
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut head)).await;
    let Ok(Ok(_)) = read else {
        return Answer::Closed;
    };
    let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
    let mut body = vec![0u8; len];
    if !matches!(
        tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut body)).await,
        Ok(Ok(_))
    ) {
        return Answer::Closed;
    }
    match (head[0], body.first()) {
        (0x16, Some(0x02)) => Answer::ServerHello,
        (0x15, _) => Answer::Alert(body.get(1).copied().unwrap_or(0)),
        _ => Answer::Other(head.to_vec()),
    }
}

#[tokio::test]
async fn hand_made_hellos_for_broken_suites_are_refused() {
    let mut tally = Tally::new("tls::hand_made_hellos_for_broken_suites_are_refused");
    let env = env().await;
    let port = env.gateway.addr.port();
    const TLS12: u16 = 0x0303;
    // Control: the same hello with a good suite gets a ServerHello, so a refusal below is
    // about the suites, the version or the compression.
    let good = client_hello(TLS12, &[0xc02b], &[0]);
    assert_eq!(
        answer(port, &good).await,
        Answer::ServerHello,
        "control hello"
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "RC4 (RFC 7465)",
            client_hello(TLS12, &[0x0005, 0x0004, 0xc007, 0xc011], &[0]),
        ),
        (
            "3DES (Sweet32)",
            client_hello(TLS12, &[0x000a, 0xc008, 0xc012, 0x0016], &[0]),
        ),
        (
            "single DES",
            client_hello(TLS12, &[0x0009, 0x0015, 0x001a], &[0]),
        ),
        (
            "export grade (FREAK, Logjam)",
            client_hello(TLS12, &[0x0003, 0x0006, 0x0008, 0x0014, 0x0017], &[0]),
        ),
        (
            "NULL encryption",
            client_hello(TLS12, &[0x0001, 0x0002, 0x003b, 0xc006, 0xc010], &[0]),
        ),
        (
            "anonymous key exchange",
            client_hello(TLS12, &[0x0018, 0x001b, 0xc018, 0xc019], &[0]),
        ),
        (
            "a good suite, DEFLATE only (CRIME)",
            client_hello(TLS12, &[0xc02b], &[1]),
        ),
        (
            "SSLv3 with its suites",
            client_hello(0x0300, &[0x0005, 0x000a, 0x002f], &[0]),
        ),
        (
            "TLS 1.0 with a good suite",
            client_hello(0x0301, &[0xc00a, 0xc02b], &[0]),
        ),
        (
            "TLS 1.1 with a good suite",
            client_hello(0x0302, &[0xc00a, 0xc02b], &[0]),
        ),
        (
            "SSLv2-compatible hello",
            vec![
                0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, // header
                0x01, 0x00, 0x80, 0x07, 0x00, 0xc0, 0x03, 0x00, 0x80, 0x06, 0x00, 0x40, 0x02, 0x00,
                0x80, 0x04, 0x00, 0x80, 0x00, 0x00, 0x04, // cipher specs
                0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                0x42, 0x42, // challenge
            ],
        ),
        ("no suites at all", client_hello(TLS12, &[], &[0])),
    ];
    for (what, hello) in cases {
        let outcome = answer(port, &hello).await;
        assert!(
            matches!(outcome, Answer::Alert(_) | Answer::Closed),
            "{what}: {outcome:?}"
        );
        tally.refused();
    }
    // The listener survives all of it.
    assert_eq!(
        answer(port, &good).await,
        Answer::ServerHello,
        "control again"
    );
    tally.finish();
}
