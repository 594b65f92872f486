//! A 200-bot swarm against an in-process server: the swarm's report agrees with the server's own
//! counters, and nobody desyncs or is dropped.

use arena_bots::behaviour::Behaviour;
use arena_bots::bot::LiveCounters;
use arena_bots::report::SwarmReport;
use arena_bots::swarm::{self, SwarmConfig};
use arena_tests::start_server;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_bot_swarm_reports_what_the_server_counted() {
    let server = start_server(|c| c.arena_size = 6000).await;
    let config = SwarmConfig {
        url: server.ws_url(),
        bots: 200,
        ramp: Duration::from_secs(2),
        duration: Duration::from_secs(6),
        behaviour: Behaviour::Mixed,
        seed: 9,
        source_ips: Vec::new(),
        sim_link: Default::default(),
        ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
        chaos: None,
        decoding: None,
        rooms: Default::default(),
    };
    let live = Arc::new(LiveCounters::default());
    let bots = swarm::run(&config, live.clone()).await;
    let stats = server.stats().clone();
    // Let the server notice every goodbye before reading its counters.
    arena_tests::eventually(Duration::from_secs(5), || stats.connections.get() == 0).await;
    server.shutdown().await;
    let report = SwarmReport::from_bots(&bots);

    assert_eq!(report.joined, 200, "every bot should join: {:?}", report.errors);
    assert!(report.errors.is_empty(), "no bot should fail: {:?}", report.errors);
    assert_eq!(report.desyncs, 0);
    assert!(report.disconnects.is_empty(), "the server should disconnect nobody: {:?}", report.disconnects);
    assert_eq!(stats.closed_with("client_left"), 200, "the server saw 200 clients leave normally");
    assert_eq!(stats.desyncs_reported.get(), 0, "and no resync request");

    let received: u64 = bots.iter().map(|b| b.bytes_down).sum();
    let sent = stats.bytes_sent.get();
    assert!(received <= sent, "bots cannot receive more than the server sent ({received} > {sent})");
    // All bots stop at the same instant; what the server wrote after that is in flight, not lost:
    // at most the last frames per bot.
    assert!(sent - received <= 200 * 1024, "bots should have read all but their last frames: {received} of {sent}");
    let uploaded: u64 = bots.iter().map(|b| b.bytes_up).sum();
    let read = stats.bytes_received.get();
    // The same holds upstream: at most a last input per bot may be unread when its socket closes.
    assert!(
        read <= uploaded && uploaded - read <= 200 * 16,
        "the server should read what the bots sent: {read} of {uploaded}"
    );
    let snapshots: u64 = bots.iter().map(|b| b.snapshots).sum();
    assert!(snapshots <= stats.snapshots_sent.get() && snapshots > 0);
    assert_eq!(
        live.snapshots.load(std::sync::atomic::Ordering::Relaxed),
        snapshots,
        "live counters match the final report"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_spread_over_several_source_addresses() {
    let server = start_server(|_| {}).await;
    let config = SwarmConfig {
        url: server.ws_url(),
        bots: 6,
        ramp: Duration::from_millis(300),
        duration: Duration::from_secs(2),
        behaviour: Behaviour::Wander,
        seed: 1,
        source_ips: vec!["127.0.0.2".parse().expect("an address"), "127.0.0.3".parse().expect("an address")],
        sim_link: Default::default(),
        ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
        chaos: None,
        decoding: None,
        rooms: Default::default(),
    };
    let bots = swarm::run(&config, Arc::new(LiveCounters::default())).await;
    server.shutdown().await;
    let report = SwarmReport::from_bots(&bots);
    assert_eq!(report.joined, 6, "bots bound to 127.0.0.2 and 127.0.0.3 should all join: {:?}", report.errors);
}
