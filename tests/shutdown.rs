//! Shutting down says goodbye: every connected client gets a `ShuttingDown` Bye and close code
//! 1001, and shutdown finishes within its grace period.

use arena_bots::behaviour::Brain;
use arena_protocol::ByeReason;
use arena_tests::{eventually, reports, spawn_bot, start_server};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_client_with_a_reason() {
    let server = start_server(|_| {}).await;
    let url = server.ws_url();
    let handles: Vec<_> =
        (0..5).map(|i| spawn_bot(&url, &format!("b{i}"), Brain::fixed(0), Duration::from_secs(30))).collect();
    let stats = server.stats().clone();
    let all_in = eventually(Duration::from_secs(10), || stats.clients.get() == 5).await;
    assert!(all_in, "five bots should join");

    let started = Instant::now();
    server.shutdown().await;
    let took = started.elapsed();
    let bots = reports(handles).await;
    assert!(took < arena_server::SHUTDOWN_GRACE * 2, "shutdown should finish within its grace period, took {took:?}");
    for b in &bots {
        assert_eq!(
            b.bye.as_ref().map(|b| b.reason),
            Some(ByeReason::ShuttingDown),
            "each bot should be told the server is shutting down"
        );
        assert_eq!(b.close.as_ref().map(|c| c.0), Some(1001), "close code 1001 means going away");
    }
}
