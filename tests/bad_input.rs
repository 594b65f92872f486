//! Whatever a client sends, the server does not panic: the offending connection gets a `Bye` and
//! a close frame with the right code and a readable reason, and nobody else notices.

use arena_bots::behaviour::{Behaviour, Brain};
use arena_bots::bot::{self, BotConfig, LiveCounters};
use arena_protocol::codec::encode_client;
use arena_protocol::{ByeReason, ClientMsg, InputBatch, InputFrame, ServerMsg};
use arena_tests::{RawClient, reports, spawn_bot, spawn_bots, start_server};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const WITHIN: Duration = Duration::from_secs(5);

fn bye_reason(messages: &[ServerMsg]) -> Option<ByeReason> {
    messages.iter().find_map(|m| match m {
        ServerMsg::Bye(b) => Some(b.reason),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_protocol_version_is_turned_away_with_a_reason() {
    let server = start_server(|_| {}).await;
    let config = BotConfig {
        url: server.ws_url(),
        name: "old".into(),
        protocol_version: 999,
        brain: Brain::fixed(0),
        stop_at: Instant::now() + WITHIN,
        chaos: None,
        source_ip: None,
        link: Default::default(),
        ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
        light: false,
        room: None,
    };
    let report = bot::run(config, Arc::new(LiveCounters::default())).await;
    server.shutdown().await;
    assert!(!report.joined, "a client with the wrong version must not join");
    let bye = report.bye.expect("the server should say Bye before closing");
    assert_eq!(bye.reason, ByeReason::VersionMismatch);
    assert!(bye.message.contains("999"), "the reason should name the version: {:?}", bye.message);
    assert_eq!(report.close.map(|c| c.0), Some(4001), "close code 4001 means version mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_frame_closes_that_connection_and_nobody_elses() {
    let server = start_server(|c| c.arena_size = 1000).await;
    let url = server.ws_url();
    let play = Duration::from_secs(3);
    let handles = spawn_bots(&url, 3, Behaviour::Wander, play);

    let mut vandal = RawClient::joined(&url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    vandal.send_bytes(&[0xde, 0xad, 0xbe, 0xef, 0xff, 0xff]).await;
    let ending = vandal.ending(WITHIN).await;
    assert_eq!(bye_reason(&ending.messages), Some(ByeReason::Malformed), "garbage should get a Malformed Bye");
    let (code, reason) = ending.close.expect("the server should send a close frame");
    assert_eq!(code, 1007, "close code 1007 means invalid payload");
    assert!(!reason.is_empty(), "the close frame should say why");

    let bots = reports(handles).await;
    let stats = server.stats().clone();
    server.shutdown().await;
    for b in &bots {
        assert!(b.joined && b.error.is_none(), "other clients should play on undisturbed: {:?}", b.error);
        assert!(
            b.snapshots as f64 >= b.played.as_secs_f64() * 30.0 * 0.5,
            "other clients should keep receiving snapshots"
        );
    }
    assert_eq!(stats.closed_with("malformed"), 1, "exactly one connection was closed as malformed");
}

async fn closed_for(setup: impl AsyncFnOnce(&mut RawClient), expect: ByeReason, code: u16) {
    let server = start_server(|_| {}).await;
    let mut client = RawClient::connect(&server.ws_url()).await;
    setup(&mut client).await;
    let ending = client.ending(WITHIN).await;
    let healthy = reqwest_free_healthz(server.local_addr()).await;
    server.shutdown().await;
    assert_eq!(bye_reason(&ending.messages), Some(expect), "expected a {expect:?} Bye, got {:?}", ending.messages);
    assert_eq!(ending.close.as_ref().map(|c| c.0), Some(code), "expected close code {code}: {:?}", ending.close);
    assert!(healthy, "the server should still answer /healthz afterwards");
}

async fn reqwest_free_healthz(addr: std::net::SocketAddr) -> bool {
    arena_tests::http_get(addr, "/healthz").await.0 == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_is_refused() {
    closed_for(async |c| c.send(Message::Text("hello?".into())).await, ByeReason::UnsupportedData, 1003).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_other_than_hello_is_refused() {
    let input = encode_client(&ClientMsg::Input(InputBatch::one(InputFrame { seq: 1, ..Default::default() })));
    closed_for(async |c| c.send_bytes(&input).await, ByeReason::Malformed, 1007).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused() {
    closed_for(async |c| c.send_bytes(&[0u8; 4 * 1024]).await, ByeReason::TooLarge, 1009).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_frame_is_cut_off_without_harm() {
    let server = start_server(|_| {}).await;
    let url = server.ws_url();
    let witness = spawn_bot(&url, "witness", Brain::fixed(0), Duration::from_secs(2));
    let mut client = RawClient::joined(&url).await;
    client.send_bytes(&vec![7u8; 4 << 20]).await;
    let ending = client.ending(WITHIN).await;
    let healthy = reqwest_free_healthz(server.local_addr()).await;
    let witness = witness.await.expect("the witness bot should not panic");
    server.shutdown().await;
    assert_eq!(ending.close.map(|c| c.0), Some(1009), "a frame over the limit is refused with 1009, not a bare drop");
    assert!(healthy, "the server should still answer /healthz");
    assert!(witness.joined && witness.error.is_none(), "another client should be undisturbed: {:?}", witness.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_flood_is_cut_off() {
    closed_for(
        async |c| {
            let hello = encode_client(&ClientMsg::Hello(arena_protocol::Hello {
                protocol_version: arena_protocol::PROTOCOL_VERSION,
                name: "flood".into(),
                resume: None,
                join_token: None,
                room: None,
            }));
            c.send_bytes(&hello).await;
            for seq in 1..=2000 {
                c.send_bytes(&encode_client(&ClientMsg::Input(InputBatch::one(InputFrame {
                    seq,
                    ..Default::default()
                }))))
                .await;
            }
        },
        ByeReason::InputFlood,
        1008,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_request_to_the_websocket_path_is_a_400() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /ws HTTP/1.0\r\nHost: x\r\n\r\n").await.expect("write");
    let mut out = String::new();
    let _ = tokio::time::timeout(WITHIN, s.read_to_string(&mut out)).await;
    server.shutdown().await;
    assert!(out.starts_with("HTTP/1.0 400") || out.starts_with("HTTP/1.1 400"), "expected 400, got {out:?}");
}
