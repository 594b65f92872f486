//! Chaos clients against one server at once: each misbehaviour is closed with its reason, and
//! the well-behaved bots playing alongside notice nothing.

use arena_bots::behaviour::{Behaviour, Brain, Chaos};
use arena_bots::bot::{self, BotConfig, LiveCounters};
use arena_protocol::PROTOCOL_VERSION;
use arena_tests::{reports, spawn_bots, start_server};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_is_closed_and_nobody_else_notices() {
    let server = start_server(|c| {
        c.arena_size = 1500;
        c.orbs = 1500;
        c.hello_timeout = Duration::from_secs(1);
        c.slow_client_timeout = Duration::from_secs(1);
        c.send_buffer = Some(4096);
    })
    .await;
    let url = server.ws_url();
    let play = Duration::from_secs(6);
    let good: Vec<_> = spawn_bots(&url, 5, Behaviour::Chase, play);
    let kinds =
        [Chaos::Silent, Chaos::Malformed, Chaos::Oversize, Chaos::Flood, Chaos::SlowReader, Chaos::ReconnectStorm];
    let chaos: Vec<_> = kinds
        .iter()
        .map(|&c| {
            let config = BotConfig {
                url: url.clone(),
                name: format!("{c:?}"),
                protocol_version: PROTOCOL_VERSION,
                brain: Brain::fixed(0),
                stop_at: Instant::now() + Duration::from_secs(4),
                chaos: Some(c),
                source_ip: None,
                link: Default::default(),
                ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
                light: false,
                room: None,
            };
            tokio::spawn(bot::run(config, Arc::new(LiveCounters::default())))
        })
        .collect();
    let chaos = reports(chaos).await;
    let good = reports(good).await;
    let stats = server.stats().clone();
    server.shutdown().await;

    let code = |i: usize| chaos[i].close.as_ref().map(|c| c.0);
    assert_eq!(code(0), Some(4003), "a silent client is timed out: {:?}", chaos[0]);
    assert_eq!(code(1), Some(1007), "garbage is invalid payload");
    assert_eq!(code(2), Some(1009), "an oversized frame is refused with 1009: {:?}", chaos[2].close);
    assert_eq!(code(3), Some(1008), "a flood is a policy violation");
    assert_eq!(stats.closed_with("too_slow"), 1, "the slow reader is dropped as too slow");
    assert!(chaos[5].connections > 5, "the reconnect storm reconnects: {}", chaos[5].connections);
    assert!(chaos[5].error.is_none(), "every storm connection is welcomed: {:?}", chaos[5].error);
    for (i, b) in good.iter().enumerate() {
        assert!(b.joined && b.error.is_none(), "good bot {i} should be undisturbed: {:?}", b.error);
        assert_eq!(b.desyncs, 0);
        assert!(b.snapshots as f64 >= b.played.as_secs_f64() * 30.0 * 0.6, "good bot {i} keeps its snapshot rate");
    }
}
