//! Light bots (`--decoding`): a swarm where only a few bots decode snapshots. Everyone joins and
//! plays; the light bots count what they receive without decoding it; the decoding bots still
//! verify every snapshot and measure input→ack; the report says which is which.

use arena_bots::behaviour::Behaviour;
use arena_bots::bot::LiveCounters;
use arena_bots::report::SwarmReport;
use arena_bots::swarm::{self, SwarmConfig};
use arena_tests::start_server;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn light_bots_play_and_count_while_a_few_decode_and_verify() {
    let server = start_server(|c| c.arena_size = 2000).await;
    let config = SwarmConfig {
        url: server.ws_url(),
        bots: 20,
        ramp: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        behaviour: Behaviour::Drift,
        seed: 5,
        source_ips: Vec::new(),
        sim_link: Default::default(),
        ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
        chaos: None,
        decoding: Some(5),
        rooms: Default::default(),
    };
    let bots = swarm::run(&config, Arc::new(LiveCounters::default())).await;
    let stats = server.stats().clone();
    arena_tests::eventually(Duration::from_secs(5), || stats.connections.get() == 0).await;
    server.shutdown().await;
    let report = SwarmReport::from_bots(&bots);

    assert_eq!(report.joined, 20, "everyone joins: {:?}", report.errors);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.decoding_bots, report.light_bots), (5, 15));
    assert_eq!(bots.iter().filter(|b| b.light).count(), 15);
    assert!(bots[..5].iter().all(|b| !b.light), "the first five decode");
    assert_eq!(report.desyncs, 0);
    assert_eq!(stats.desyncs_reported.get(), 0, "light bots never ask for a full snapshot");
    for b in &bots {
        assert!(b.snapshots as f64 >= b.played.as_secs_f64() * 30.0 * 0.5, "every bot gets its snapshots: {b:?}");
        assert!(b.bytes_down > 0 && b.inputs_sent > 0);
        assert!(b.last_ack > 0, "the server applied its inputs (it acknowledged them)");
    }
    for b in bots.iter().filter(|b| b.light) {
        assert_eq!(b.input_ack_us.len(), 0, "light bots do not measure input→ack");
        assert!(!b.snapshot_gap_us.is_empty(), "but do measure snapshot gaps");
        assert_eq!(b.full_snapshots, 0, "nor look inside snapshots");
    }
    for b in bots.iter().filter(|b| !b.light) {
        assert!(!b.input_ack_us.is_empty(), "decoding bots measure input→ack");
        assert!(b.first_pos != b.last_pos, "and drift: their ships move");
    }
    // The server received every bot's inputs and moved every ship (light bots drift too).
    assert!(report.input_ack_ms.count > 0);
    let table = report.to_string();
    assert!(table.lines().any(|l| l.starts_with("decoding / light bots") && l.contains(" 5 / 15")), "{table}");
}
