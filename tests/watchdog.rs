//! Liveness that means something: `/healthz` fails while a room thread is stuck, and a room that
//! panics tells its players (`ServerError`, 1011) instead of leaving them connected to nothing,
//! while the process's other rooms play on and `/healthz` reports the panic.

use arena_protocol::{ByeReason, ServerMsg};
use arena_server::room::runner::Fault;
use arena_tests::{RawClient, eventually, start_server};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(5);

async fn health(addr: std::net::SocketAddr) -> (u16, String) {
    arena_tests::http_get(addr, "/healthz").await
}

async fn health_becomes(addr: std::net::SocketAddr, status: u16, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if health(addr).await.0 == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_room_fails_healthz_until_it_ticks_again() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    assert_eq!(health(addr).await.0, 200, "no room yet: healthy");
    let mut player = RawClient::joined(&server.ws_url()).await;
    let room = player.welcome(WITHIN).await.expect("welcomed").room;
    assert_eq!(health(addr).await.0, 200, "a ticking room is healthy");
    assert!(server.inject_fault(&room, Fault::Stall(Duration::from_millis(1500))));
    assert!(health_becomes(addr, 503, Duration::from_secs(1)).await, "a room stuck for 1.5 s fails /healthz");
    let (_, body) = health(addr).await;
    assert!(
        body.contains("stuck: no tick within") && body.contains(&room) || body.starts_with("ok"),
        "the body names the room: {body}"
    );
    assert_eq!(arena_tests::http_get(addr, "/readyz").await.0, 503, "nor is it ready");
    assert!(health_becomes(addr, 200, WITHIN).await, "healthy again once it ticks");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_tells_its_players_and_the_other_rooms_play_on() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let mut doomed = RawClient::in_room(&server.ws_url(), "doomed", Some("a")).await;
    let mut safe = RawClient::in_room(&server.ws_url(), "safe", Some("b")).await;
    assert_eq!(doomed.welcome(WITHIN).await.map(|w| w.room).as_deref(), Some("a"));
    assert_eq!(safe.welcome(WITHIN).await.map(|w| w.room).as_deref(), Some("b"));
    assert!(server.inject_fault("a", Fault::Panic));
    let ending = doomed.ending(WITHIN).await;
    let bye = ending.bye();
    assert_eq!(bye.map(|b| b.reason), Some(ByeReason::ServerError), "the player is told");
    assert_eq!(ending.close.map(|c| c.0), Some(1011), "with close code 1011");
    assert!(eventually(WITHIN, || server.stats().room_panics.get() == 1).await, "the panic is counted");

    // The other room plays on: its player keeps getting snapshots.
    let mut snapshots = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Some(msg) = safe.next_message(until.saturating_duration_since(tokio::time::Instant::now())).await {
        snapshots += u32::from(matches!(msg, ServerMsg::Snapshot(_)));
    }
    assert!(snapshots >= 20, "room b keeps its 30 Hz: {snapshots} snapshots in 1 s");

    // /healthz stays 200 (the process serves its other rooms) and reports the panic.
    let reported = async {
        loop {
            let (status, body) = health(addr).await;
            if body.contains("degraded") {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    let (status, body) = tokio::time::timeout(WITHIN, reported).await.expect("the panic shows on /healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("room_panics=1") && body.contains("room a"), "{body}");
    let (_, rooms) = arena_tests::http_get(addr, "/rooms").await;
    assert!(rooms.contains("\"name\":\"b\"") && !rooms.contains("\"name\":\"a\""), "room a is closed: {rooms}");

    // Someone asking for room a now gets a new room a.
    let mut late = RawClient::in_room(&server.ws_url(), "late", Some("a")).await;
    let welcome = late.welcome(WITHIN).await.expect("a newcomer to a closed room's name gets in");
    assert_eq!(welcome.room, "a");
    server.shutdown().await;
}
