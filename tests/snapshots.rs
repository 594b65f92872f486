//! Delta snapshots verified by every client: a hundred bots play, each checks the checksum of
//! every snapshot it applies, and none may disagree with the server.

use arena_bots::behaviour::Behaviour;
use arena_tests::{reports, spawn_bots, start_server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_bots_play_without_a_single_desync() {
    let server = start_server(|c| c.arena_size = 2500).await;
    let url = server.ws_url();
    let handles = spawn_bots(&url, 100, Behaviour::Mixed, Duration::from_secs(6));
    let bots = reports(handles).await;
    let stats = server.stats().clone();
    server.shutdown().await;

    let mut snapshots = 0;
    for (i, b) in bots.iter().enumerate() {
        assert!(b.joined && b.error.is_none(), "bot {i} should play without error: {:?}", b.error);
        assert_eq!(b.desyncs, 0, "bot {i}'s world should match the server's checksum after every snapshot");
        assert_eq!(b.full_snapshots, 1, "bot {i} should need exactly one full snapshot (on join)");
        assert!(b.snapshots > 30, "bot {i} should receive snapshots steadily, got {}", b.snapshots);
        snapshots += b.snapshots;
    }
    assert_eq!(stats.desyncs_reported.get(), 0, "no client should have asked for a resync");
    assert!(snapshots > 100 * 30, "a hundred bots over six seconds should receive thousands of snapshots");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_bandwidth_budget_bots_stay_in_sync() {
    let server = start_server(|c| {
        c.arena_size = 1500;
        c.max_kbps = Some(24);
    })
    .await;
    let url = server.ws_url();
    let handles = spawn_bots(&url, 30, Behaviour::Chase, Duration::from_secs(5));
    let bots = reports(handles).await;
    server.shutdown().await;
    for (i, b) in bots.iter().enumerate() {
        assert!(b.joined && b.error.is_none(), "bot {i} should play without error: {:?}", b.error);
        assert_eq!(b.desyncs, 0, "bot {i}: deferred updates must never break the checksum");
        let kbps = b.bytes_down as f64 * 8.0 / 1000.0 / b.played.as_secs_f64();
        assert!(kbps < 24.0 * 2.0, "bot {i} should stay near its 24 kbit/s budget, got {kbps:.1}");
    }
}
