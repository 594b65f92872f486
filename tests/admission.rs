//! Who gets in, decided before and at the handshake, over real sockets: per-IP and total
//! connection limits (HTTP 429/503 with `Retry-After`), the Origin check (403), and join tokens
//! (`JoinRefused`, 4006). Every refusal is counted in `/metrics` by reason.

use arena_protocol::codec::encode_client;
use arena_protocol::{ByeReason, ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg};
use arena_server::net::join_token;
use arena_tests::{RawClient, RawSocket, client_frame, eventually, start_server};
use std::time::{Duration, SystemTime};
use tokio_tungstenite::tungstenite::Message;

const WITHIN: Duration = Duration::from_secs(5);

fn retry_after(head: &str) -> Option<u32> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after").then(|| value.trim().parse().ok())?
    })
}

async fn metric(addr: std::net::SocketAddr, line_start: &str) -> Option<f64> {
    let (_, body) = arena_tests::http_get(addr, "/metrics").await;
    body.lines().find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_from_one_address_get_429_and_others_still_get_in() {
    let server = start_server(|c| {
        c.max_connections_per_ip = 2;
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    let addr = server.local_addr();
    let from = |ip: &'static str| format!("X-Forwarded-For: {ip}");
    let a = from("203.0.113.7");
    let (s1, _, first) = RawSocket::upgrade(addr, &[&a]).await;
    let (s2, _, second) = RawSocket::upgrade(addr, &[&a]).await;
    assert_eq!((s1, s2), (101, 101), "two connections from one address are fine");
    let (s3, head, _) = RawSocket::upgrade(addr, &[&a]).await;
    assert_eq!(s3, 429, "the third is refused before the upgrade: {head}");
    assert!(retry_after(&head).is_some_and(|s| s > 0), "with a Retry-After header: {head}");
    let b = from("198.51.100.1");
    let (s4, _, _other) = RawSocket::upgrade(addr, &[&b]).await;
    assert_eq!(s4, 101, "another address is not affected");
    // An IPv6 client's whole /64 counts as one address.
    let (v6a, _, _k1) = RawSocket::upgrade(addr, &["X-Forwarded-For: 2001:db8::1"]).await;
    let (v6b, _, _k2) = RawSocket::upgrade(addr, &["X-Forwarded-For: 2001:db8::2"]).await;
    let (v6c, _, _) = RawSocket::upgrade(addr, &["X-Forwarded-For: 2001:db8::3"]).await;
    assert_eq!((v6a, v6b, v6c), (101, 101, 429));
    drop((first, second));
    // A closed connection frees its place once its socket has lingered out.
    let mut again = 0;
    for _ in 0..40 {
        again = RawSocket::upgrade(addr, &[&a]).await.0;
        if again == 101 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again, 101, "the address gets in again after closing its connections");
    let refused = metric(addr, "arena_connections_refused_total{reason=\"per_ip_limit\"}").await;
    assert!(refused.is_some_and(|n| n >= 2.0), "refusals are counted: {refused:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_answers_503_with_retry_after() {
    let server = start_server(|c| c.max_connections = 2).await;
    let addr = server.local_addr();
    let _a = RawClient::joined(&server.ws_url()).await;
    let _b = RawClient::joined(&server.ws_url()).await;
    let (status, head, _) = RawSocket::upgrade(addr, &[]).await;
    assert_eq!(status, 503, "{head}");
    assert!(retry_after(&head).is_some(), "{head}");
    assert_eq!(arena_tests::http_get(addr, "/healthz").await.0, 200, "plain HTTP still works");
    assert_eq!(metric(addr, "arena_connections_refused_total{reason=\"connection_limit\"}").await, Some(1.0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_from_other_origins_get_403_when_origins_are_set() {
    let open = start_server(|_| {}).await;
    let (status, _, _) = RawSocket::upgrade(open.local_addr(), &["Origin: https://evil.example"]).await;
    assert_eq!(status, 101, "without --allowed-origins any page may connect");
    open.shutdown().await;

    let server = start_server(|c| c.allowed_origins = vec!["https://play.example.com".into()]).await;
    let addr = server.local_addr();
    let (evil, head, _) = RawSocket::upgrade(addr, &["Origin: https://evil.example"]).await;
    assert_eq!(evil, 403, "{head}");
    let (listed, _, _a) = RawSocket::upgrade(addr, &["Origin: https://play.example.com"]).await;
    assert_eq!(listed, 101, "a listed origin");
    let own = format!("Origin: http://{addr}");
    let (own, _, _b) = RawSocket::upgrade(addr, &[&own]).await;
    assert_eq!(own, 101, "the server's own page");
    let (none, _, _c) = RawSocket::upgrade(addr, &[]).await;
    assert_eq!(none, 101, "no Origin: not a browser, so no cross-site risk");
    assert_eq!(metric(addr, "arena_connections_refused_total{reason=\"origin\"}").await, Some(1.0));
    server.shutdown().await;
}

const SECRET: &str = "test-join-secret-0123456789";

async fn hello_with(addr: std::net::SocketAddr, name: &str, token: Option<String>) -> RawSocket {
    let (_, _, socket) = RawSocket::upgrade(addr, &[]).await;
    let mut socket = socket.expect("upgraded");
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.into(),
        resume: None,
        join_token: token,
        room: None,
    });
    socket.send(&client_frame(2, true, &encode_client(&hello), true)).await;
    socket
}

/// The `Bye` reason and message and the close code a connection ended with, or `None` if it was
/// welcomed.
async fn outcome(socket: &mut RawSocket) -> Option<(ByeReason, String, Option<u16>)> {
    let first = socket.next_frame(WITHIN).await.expect("a first frame");
    match arena_protocol::decode_server(&first.payload) {
        Ok(ServerMsg::Welcome(_)) => None,
        Ok(ServerMsg::Bye(b)) => {
            let (_, close) = socket.close_frame(WITHIN).await;
            Some((b.reason, b.message, close.and_then(|c| c.close_code())))
        }
        other => panic!("expected Welcome or Bye, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_tokens_are_required_checked_and_used_once() {
    let server = start_server(|c| c.join_secret = Some(SECRET.parse().expect("a long secret"))).await;
    let addr = server.local_addr();
    let now = SystemTime::now();
    let mint =
        |name: &str, ttl: u64, at: SystemTime| join_token::mint(SECRET.as_bytes(), name, Duration::from_secs(ttl), at);

    let refused = |expected: &str| {
        let expected = expected.to_owned();
        move |o: Option<(ByeReason, String, Option<u16>)>| {
            let (reason, message, code) = o.unwrap_or_else(|| panic!("expected a refusal ({expected}), got a Welcome"));
            assert_eq!(reason, ByeReason::JoinRefused);
            assert_eq!(code, Some(4006));
            assert!(message.contains(&expected), "{message:?} should say {expected:?}");
        }
    };
    refused("needs a join token")(outcome(&mut hello_with(addr, "ace", None).await).await);
    refused("not valid")(outcome(&mut hello_with(addr, "ace", Some("garbage".into())).await).await);
    let forged = join_token::mint(b"someone else's secret!!", "ace", Duration::from_secs(60), now);
    refused("not valid")(outcome(&mut hello_with(addr, "ace", Some(forged)).await).await);
    refused("not valid")(outcome(&mut hello_with(addr, "bob", Some(mint("ace", 60, now))).await).await);
    let stale = mint("ace", 60, now - Duration::from_secs(120));
    refused("expired")(outcome(&mut hello_with(addr, "ace", Some(stale)).await).await);

    let token = mint("ace", 60, now);
    let mut ace = hello_with(addr, "ace", Some(token.clone())).await;
    assert_eq!(outcome(&mut ace).await, None, "a valid token lets the player in");
    refused("already used")(outcome(&mut hello_with(addr, "ace", Some(token)).await).await);

    let refusals = |label: &str| format!("arena_connections_refused_total{{reason=\"join_token_{label}\"}}");
    for (label, n) in [("missing", 1.0), ("malformed", 1.0), ("bad_signature", 2.0), ("expired", 1.0), ("reused", 1.0)]
    {
        assert_eq!(metric(addr, &refusals(label)).await, Some(n), "{label}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_player_resumes_without_a_new_join_token_but_a_bogus_resume_is_refused() {
    let server = start_server(|c| c.join_secret = Some(SECRET.parse().expect("a long secret"))).await;
    let url = server.ws_url();
    let token = join_token::mint(SECRET.as_bytes(), "ace", Duration::from_secs(60), SystemTime::now());
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("connect");
    use futures_util::{SinkExt, StreamExt};
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: "ace".into(),
        resume: None,
        join_token: Some(token),
        room: None,
    });
    ws.send(Message::Binary(encode_client(&hello).into())).await.expect("send");
    let welcome = loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                if let Ok(ServerMsg::Welcome(w)) = arena_protocol::decode_server(&b) {
                    break w;
                }
            }
            other => panic!("expected a Welcome, got {other:?}"),
        }
    };
    drop(ws); // lost, not left
    assert!(eventually(WITHIN, || server.stats().suspended.get() == 1).await, "the ship waits for its player");
    let mut back = RawClient::hello(&url, "ace", Some(welcome.resume_token)).await;
    let resumed = back.wait_for(WITHIN, |m| if let ServerMsg::Welcome(w) = m { Some(w) } else { None }).await;
    let resumed = resumed.expect("the resume token is enough");
    assert!(resumed.resumed && resumed.your_id == welcome.your_id, "the same player is back");

    let mut bogus = RawClient::hello(&url, "ace", Some(arena_protocol::ResumeToken([9; 16]))).await;
    let ending = bogus.ending(WITHIN).await;
    let bye = ending.bye();
    assert_eq!(bye.map(|b| b.reason), Some(ByeReason::JoinRefused), "a made-up resume token is no way in");
    assert_eq!(ending.close.map(|c| c.0), Some(4006));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_given_the_secret_make_their_own_tokens_and_play() {
    let server = start_server(|c| c.join_secret = Some(SECRET.parse().expect("a long secret"))).await;
    // Process-wide in the bots (as `arena-bots --join-secret` sets it); this test binary's other
    // tests speak raw sockets, so they are not affected.
    arena_bots::join::use_secret(SECRET.as_bytes());
    let bots = arena_tests::reports(arena_tests::spawn_bots(
        &server.ws_url(),
        3,
        arena_bots::behaviour::Behaviour::Wander,
        Duration::from_secs(2),
    ))
    .await;
    server.shutdown().await;
    for b in &bots {
        assert!(b.joined && b.error.is_none(), "a bot with a token plays: {:?}", b.error);
        assert!(b.snapshots > 20);
    }
}

/// Reads from `tcp` until the server closes it (EOF or reset); returns what it sent and when.
async fn read_until_closed(tcp: &mut tokio::net::TcpStream) -> (String, std::time::Instant) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return (String::from_utf8_lossy(&got).into_owned(), std::time::Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_request_head_or_idles_after_a_response_is_closed() {
    use tokio::io::AsyncWriteExt;
    const HEADER_TIMEOUT: Duration = Duration::from_millis(600);
    let server = start_server(|c| c.http_header_timeout = HEADER_TIMEOUT).await;
    let addr = server.local_addr();

    // Half a request head, then a byte now and then, never the blank line that ends it.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let opened = std::time::Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: arena\r\n").await.expect("write");
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(WITHIN, trickle).await.ok();
    let (_, closed) = tokio::time::timeout(WITHIN, read_until_closed(&mut slow)).await.expect("closed in time");
    let held = closed - opened;
    assert!(
        held < Duration::from_secs(4),
        "a trickled request head should be cut off after the timeout; held {held:?}"
    );

    // A complete request is answered; then silence on the kept-alive connection ends it too.
    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: arena\r\n\r\n").await.expect("write");
    let (answer, _) = tokio::time::timeout(WITHIN, read_until_closed(&mut idle))
        .await
        .expect("an idle kept-alive connection should be closed within the timeout");
    assert!(answer.starts_with("HTTP/1.1 200"), "the request itself is served: {answer}");

    // Meanwhile the server serves everyone else as usual.
    let (status, _) = arena_tests::http_get(addr, "/healthz").await;
    assert_eq!(status, 200);
    server.shutdown().await;
}
