//! Admission control instead of collapse: a room that cannot hold its tick rate turns new
//! players away with `ServerBusy` (4007) and a retry hint, says so on `/readyz`, keeps serving
//! the players it has, and takes players again once it is calm. The load is made by stalling the
//! room thread (the same fault injection the watchdog tests use): it then skips ticks.

use arena_protocol::{ByeReason, ServerMsg};
use arena_server::room::runner::Fault;
use arena_tests::{RawClient, eventually, start_server};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WITHIN: Duration = Duration::from_secs(5);

/// `GET path` over a fresh connection: the status and the whole response head and body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: arena\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_room_turns_new_players_away_keeps_its_own_and_recovers() {
    let server = start_server(|c| c.admission_control = true).await;
    let addr = server.local_addr();
    let stats = server.stats().clone();
    let mut player = RawClient::joined(&server.ws_url()).await;
    let welcome = player.welcome(WITHIN).await.expect("the first player gets in");
    assert_eq!(get(addr, "/readyz").await.0, 200, "a calm room is ready");

    // 400 ms stuck: the room skips a dozen ticks and is busy from then on for a while.
    assert!(server.inject_fault(&welcome.room, Fault::Stall(Duration::from_millis(400))));
    assert!(eventually(WITHIN, || stats.is_busy()).await, "skipped ticks make the room busy");
    let (status, response) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "a busy room is not ready: {response}");
    assert!(response.contains("busy"), "and says why: {response}");
    assert!(response.to_ascii_lowercase().contains("retry-after: 5"), "with a Retry-After: {response}");

    let mut newcomer = RawClient::joined(&server.ws_url()).await;
    let ending = newcomer.ending(WITHIN).await;
    let bye = ending.bye().expect("the newcomer is told why");
    assert_eq!(bye.reason, ByeReason::ServerBusy);
    assert_eq!(bye.retry_after_ms, 5000, "with when to try again");
    assert!(!ending.messages.iter().any(|m| matches!(m, ServerMsg::Welcome(_))), "and is not let in");
    assert_eq!(ending.close.as_ref().map(|c| c.0), Some(4007), "close code 4007: {:?}", ending.close);
    let (_, metrics) = get(addr, "/metrics").await;
    assert!(metrics.contains("arena_connections_refused_total{reason=\"server_busy\"} 1"), "counted");
    assert!(metrics.contains("arena_room_busy 1"), "and the gauge says busy");

    // The player already in keeps its snapshots all along.
    let mut snapshots = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Some(msg) = player.next_message(until.saturating_duration_since(tokio::time::Instant::now())).await {
        snapshots += u32::from(matches!(msg, ServerMsg::Snapshot(_)));
    }
    assert!(snapshots >= 15, "the player in the room keeps getting snapshots: {snapshots} in 1 s");

    // Calm again after the hold (5 s after the skip left the 2 s window): players get in.
    assert!(eventually(Duration::from_secs(15), || !stats.is_busy()).await, "the room recovers");
    assert_eq!(get(addr, "/readyz").await.0, 200, "and is ready again");
    let mut later = RawClient::joined(&server.ws_url()).await;
    let welcome = later.wait_for(WITHIN, |m| matches!(m, ServerMsg::Welcome(_)).then_some(())).await;
    assert!(welcome.is_some(), "a player arriving after the load gets in");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_hello_while_the_room_is_busy_is_told_busy_not_silent() {
    let server = start_server(|c| {
        c.admission_control = true;
        c.hello_timeout = Duration::from_millis(500);
    })
    .await;
    let stats = server.stats().clone();
    let mut player = RawClient::joined(&server.ws_url()).await;
    let room = player.welcome(WITHIN).await.expect("a room opens for a player").room;
    assert!(server.inject_fault(&room, Fault::Stall(Duration::from_millis(400))));
    assert!(eventually(WITHIN, || stats.is_busy()).await, "skipped ticks make the room busy");
    let mut quiet = RawClient::connect(&server.ws_url()).await;
    let ending = quiet.ending(WITHIN).await;
    let bye = ending.bye().expect("told why");
    assert_eq!(bye.reason, ByeReason::ServerBusy, "busy, not a handshake timeout: {bye:?}");
    assert_eq!(ending.close.as_ref().map(|c| c.0), Some(4007));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_admission_control_off_a_busy_room_still_lets_players_in() {
    let server = start_server(|c| c.admission_control = false).await;
    let stats = server.stats().clone();
    let mut first = RawClient::joined(&server.ws_url()).await;
    let room = first.welcome(WITHIN).await.expect("a room opens for a player").room;
    assert!(server.inject_fault(&room, Fault::Stall(Duration::from_millis(400))));
    assert!(eventually(WITHIN, || stats.is_busy()).await, "the room is busy all the same (and says so in /metrics)");
    assert_eq!(get(server.local_addr(), "/readyz").await.0, 200, "but stays ready");
    let mut player = RawClient::joined(&server.ws_url()).await;
    let welcome = player.wait_for(WITHIN, |m| matches!(m, ServerMsg::Welcome(_)).then_some(())).await;
    assert!(welcome.is_some(), "and lets players in");
    server.shutdown().await;
}
