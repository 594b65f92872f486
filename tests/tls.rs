//! TLS on the one port (`--tls-cert`/`--tls-key`), with a throw-away certificate for `localhost`
//! and `127.0.0.1` that each test makes with rcgen: players join and get snapshots over wss, the
//! probes answer over https, plain-HTTP, garbage and silent clients on the TLS port disturb
//! nobody and are counted, and unusable certificate or key files stop the start with a message
//! that names the file.

use arena_bots::behaviour::Behaviour;
use arena_protocol::codec::encode_client;
use arena_protocol::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, decode_server};
use arena_server::RunningServer;
use arena_tests::{eventually, reports, spawn_bots, start_server};
use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const WITHIN: Duration = Duration::from_secs(5);

/// A self-signed certificate and its key as PEM files in a folder of their own, deleted on drop.
struct TestCert {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TestCert {
    /// A new certificate for `localhost` and `127.0.0.1`.
    fn new() -> TestCert {
        TestCert::made(false)
    }

    /// A new certificate for `localhost` and `127.0.0.1`, marked as a CA (as `openssl req -x509`
    /// makes them) when `ca` is true.
    fn made(ca: bool) -> TestCert {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("valid names");
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let key_pair = rcgen::KeyPair::generate().expect("rcgen should make a key");
        let cert = params.self_signed(&key_pair).expect("rcgen should sign the certificate");
        let made = rcgen::CertifiedKey { cert, key_pair };
        let dir = std::env::temp_dir().join(format!(
            "arena-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("the temp folder is writable");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).expect("write the certificate");
        std::fs::write(&key, made.key_pair.serialize_pem()).expect("write the key");
        TestCert { dir, cert, key }
    }

    /// Writes `text` into a file of this folder.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server with TLS on, whose certificate the bots of this process trust.
async fn tls_server(cert: &TestCert) -> RunningServer {
    tls_server_with(cert, |_| {}).await
}

async fn tls_server_with(cert: &TestCert, tweak: impl FnOnce(&mut arena_server::config::Config)) -> RunningServer {
    arena_bots::tls::trust_pem_file(&cert.cert).expect("the bots should trust the test certificate");
    start_server(|c| {
        c.tls_cert = Some(cert.cert.clone());
        c.tls_key = Some(cert.key.clone());
        tweak(c);
    })
    .await
}

/// A TLS connection to `addr` that trusts the test certificates, offering h2 and http/1.1.
async fn tls_connect(addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut config = (*arena_bots::tls::client_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await.expect("connect to the server");
    let name = ServerName::IpAddress(addr.ip().into());
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("the TLS handshake with the server's certificate should succeed")
}

/// An HTTP/1.0 GET over TLS: the status, the body, and the protocol ALPN settled on.
async fn https_get(addr: SocketAddr, path: &str) -> (u16, String, Option<Vec<u8>>) {
    let mut tls = tls_connect(addr).await;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    tls.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.expect("send a request");
    let mut raw = Vec::new();
    // The server may close without a TLS close_notify: keep what came before.
    let _ = tokio::time::timeout(WITHIN, tls.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    (status, body, alpn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_joins_over_wss_and_gets_snapshots() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let url = server.ws_url();
    assert!(url.starts_with("wss://"), "a TLS server's game URL is wss: {url}");

    // A bare client: Hello, Welcome, snapshots.
    let connector = tokio_tungstenite::Connector::Rustls(arena_bots::tls::client_config());
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(&url, None, false, Some(connector))
        .await
        .expect("the WebSocket upgrade should work over TLS");
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: "tls".into(),
        resume: None,
        join_token: None,
        room: None,
    });
    ws.send(Message::Binary(encode_client(&hello).into())).await.expect("send Hello");
    let (mut welcomed, mut snapshots) = (false, 0);
    let deadline = tokio::time::Instant::now() + WITHIN;
    while snapshots < 10 {
        let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await else { break };
        if let Message::Binary(bytes) = msg {
            match decode_server(&bytes) {
                Ok(ServerMsg::Welcome(_)) => welcomed = true,
                Ok(ServerMsg::Snapshot(_)) if welcomed => snapshots += 1,
                _ => {}
            }
        }
    }
    assert!(welcomed, "the server should answer Hello with Welcome over wss");
    assert!(snapshots >= 10, "snapshots should stream over wss; got {snapshots} in {WITHIN:?}");

    // The bots over wss: they play, see each other and do not desync.
    let bots = reports(spawn_bots(&url, 2, Behaviour::Wander, Duration::from_secs(3))).await;
    for bot in &bots {
        assert!(bot.joined && bot.error.is_none(), "a bot should play over wss: {:?}", bot.error);
        assert!(bot.snapshots >= 30, "a bot should get snapshots for 3 s over wss; got {}", bot.snapshots);
        assert_eq!(bot.desyncs, 0, "no snapshot fails to apply over wss");
    }
    let _ = ws.close(None).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_trust_a_self_signed_certificate_marked_as_a_ca_that_they_were_given() {
    // Path validation refuses a CA certificate as a server's own; `--tls-ca` pins it as it is.
    let cert = TestCert::made(true);
    let server = tls_server(&cert).await;
    let bots = reports(spawn_bots(&server.ws_url(), 1, Behaviour::Idle, Duration::from_millis(1500))).await;
    assert!(
        bots[0].joined && bots[0].error.is_none(),
        "the bot should trust the pinned certificate: {:?}",
        bots[0].error
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_and_metrics_answer_over_https_with_http_1_1() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let addr = server.local_addr();
    let (status, body, alpn) = https_get(addr, "/healthz").await;
    assert_eq!(status, 200, "GET /healthz over https should answer 200: {body}");
    assert!(body.starts_with("ok"), "{body}");
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "offered h2 and http/1.1, the server picks http/1.1");
    let (status, body, _) = https_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("arena_tls_handshake_failures_total"), "the failure counter is exported:\n{body}");
    let (status, page, _) = https_get(addr, "/").await;
    assert_eq!(status, 200, "the web client's page is served over https");
    assert!(page.contains("<html") || page.contains("<!doctype") || page.contains("<!DOCTYPE"), "{page}");
    server.shutdown().await;
}

/// `--tls-handshake-timeout` in the test of silent clients: longer than the bots' 4 s of play, so
/// they play while the silent clients still hold their handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_garbage_and_silent_clients_on_the_tls_port_disturb_no_player_and_are_counted() {
    let cert = TestCert::new();
    let server = tls_server_with(&cert, |c| c.tls_handshake_timeout = HANDSHAKE_TIMEOUT).await;
    let addr = server.local_addr();
    let stats = server.stats().clone();

    // Silent clients first: they hold handshakes open (until the handshake timeout), which must
    // not keep anyone else from being accepted; then they are dropped and counted.
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // And one that starts a TLS record and stalls inside it.
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await.expect("send a record header");

    let bots = spawn_bots(&server.ws_url(), 2, Behaviour::Wander, Duration::from_secs(4));

    // Plain HTTP on the TLS port: told to use https, not served.
    let (status, body) = arena_tests::http_get(addr, "/healthz").await;
    assert_eq!(status, 400, "plain HTTP on the TLS port gets a 400: {body}");
    assert!(body.contains("https://"), "which says to use https: {body}");
    // Garbage that looks like a TLS record, and a client that hangs up at once.
    let mut garbage = TcpStream::connect(addr).await.expect("connect");
    garbage.write_all(b"\x16\x03\x01\x00\x10this is not a ClientHello at all").await.expect("send garbage");
    let mut ignored = Vec::new();
    let _ = tokio::time::timeout(WITHIN, garbage.read_to_end(&mut ignored)).await;
    drop(TcpStream::connect(addr).await.expect("connect"));

    for bot in reports(bots).await {
        assert!(bot.joined && bot.error.is_none(), "a TLS player should play undisturbed: {:?}", bot.error);
        assert!(bot.snapshots >= 60, "the player should get snapshots all along; got {} in 4 s", bot.snapshots);
    }
    let counted = eventually(WITHIN, || {
        stats.tls_handshake_failures_with("not_tls") >= 1
            && stats.tls_handshake_failures_with("error") >= 1
            && stats.tls_handshake_failures_with("closed") >= 1
            && stats.tls_handshake_failures_with("timeout") >= 21
    })
    .await;
    assert!(
        counted,
        "each bad client should be counted by reason: not_tls {}, error {}, closed {}, timeout {} (of 21 silent)",
        stats.tls_handshake_failures_with("not_tls"),
        stats.tls_handshake_failures_with("error"),
        stats.tls_handshake_failures_with("closed"),
        stats.tls_handshake_failures_with("timeout"),
    );
    // The silent ones were hung up on.
    for mut socket in silent.into_iter().chain([stalled]) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(WITHIN, socket.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a client silent past the handshake timeout should be disconnected");
    }
    server.shutdown().await;
}

/// The message of a start that should fail.
async fn start_error(cert: &Path, key: &Path) -> String {
    let mut config = arena_server::config::Config::for_tests();
    config.tls_cert = Some(cert.to_owned());
    config.tls_key = Some(key.to_owned());
    match arena_server::start(&config).await {
        Ok(server) => {
            server.shutdown().await;
            panic!("the server should not start with cert {} and key {}", cert.display(), key.display())
        }
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificate_or_key_files_stop_the_start_with_a_clear_message() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let missing = cert.dir.join("missing.pem");
    let err = start_error(&missing, &cert.key).await;
    assert!(err.contains("missing.pem") && err.contains("cannot read"), "a missing certificate file: {err}");

    let not_pem = cert.file("not-a-cert.pem", "hello, I am not a certificate\n");
    let err = start_error(&not_pem, &cert.key).await;
    assert!(err.contains("not-a-cert.pem") && err.contains("no certificate"), "a file with no certificate: {err}");

    let err = start_error(&cert.cert, &cert.cert).await;
    assert!(err.contains("cert.pem") && err.contains("no private key"), "a key file with no key: {err}");

    let err = start_error(&cert.cert, &other.key).await;
    assert!(err.contains("does not match"), "a key of another certificate: {err}");

    let broken = cert.file("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n");
    let err = start_error(&broken, &cert.key).await;
    assert!(err.contains("broken.pem"), "a broken PEM block: {err}");

    let mut only_cert = arena_server::config::Config::for_tests();
    only_cert.tls_cert = Some(cert.cert.clone());
    let err = arena_server::start(&only_cert).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("--tls-key"), "a certificate without a key: {err}");
}
