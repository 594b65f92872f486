//! Liveness that means something: `/healthz` fails while the room thread is stuck and after it
//! died, and a room that panics tells its players (`ServerError`, 1011) instead of leaving them
//! connected to nothing.

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
    assert_eq!(health(addr).await.0, 200, "a ticking room is healthy");
    server.inject_fault(Fault::Stall(Duration::from_millis(1500)));
    assert!(health_becomes(addr, 503, Duration::from_secs(1)).await, "a room stuck for 1.5 s fails /healthz");
    let (_, body) = health(addr).await;
    assert!(body.contains("stuck") || body.starts_with("ok"), "the body says why: {body}");
    assert_eq!(arena_tests::http_get(addr, "/readyz").await.0, 503, "nor is it ready");
    assert!(health_becomes(addr, 200, WITHIN).await, "healthy again once it ticks");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_tells_its_players_and_stays_unhealthy() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let mut player = RawClient::joined(&server.ws_url()).await;
    let welcomed = player.wait_for(WITHIN, |m| matches!(m, ServerMsg::Welcome(_)).then_some(())).await;
    assert!(welcomed.is_some());
    server.inject_fault(Fault::Panic);
    let ending = player.ending(WITHIN).await;
    let bye = ending.messages.iter().find_map(|m| if let ServerMsg::Bye(b) = m { Some(b.clone()) } else { None });
    assert_eq!(bye.map(|b| b.reason), Some(ByeReason::ServerError), "the player is told");
    assert_eq!(ending.close.map(|c| c.0), Some(1011), "with close code 1011");
    assert!(health_becomes(addr, 503, WITHIN).await, "a dead room fails /healthz");
    assert!(eventually(WITHIN, || server.stats().room_panics.get() == 1).await, "the panic is counted");
    // Someone arriving now is told too, rather than waiting for a Welcome that never comes.
    let mut late = RawClient::joined(&server.ws_url()).await;
    let ending = late.ending(WITHIN).await;
    assert_eq!(ending.close.map(|c| c.0), Some(1011), "a newcomer learns the room is gone");
    server.shutdown().await;
}
