//! Bots play together over real WebSockets: snapshots at the tick rate, everyone sees everyone,
//! ships go where they steer, shots hit and scores change.

use arena_bots::behaviour::{Behaviour, Brain};
use arena_protocol::rules::{Buttons, SHIP_RADIUS};
use arena_tests::{reports, spawn_bot, spawn_bots, start_server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_play_a_small_arena_together() {
    let server = start_server(|c| {
        c.arena_size = 1000;
        c.view_width = 2400;
        c.view_height = 2400;
    })
    .await;
    let url = server.ws_url();
    let play = Duration::from_secs(5);
    let handles = spawn_bots(&url, 20, Behaviour::Chase, play);
    let bots = reports(handles).await;
    let stats = server.stats().clone();
    server.shutdown().await;

    for (i, b) in bots.iter().enumerate() {
        assert!(b.joined && b.error.is_none(), "bot {i} should play without error, got {:?} / {:?}", b.error, b.bye);
        let expected = b.played.as_secs_f64() * 30.0;
        let got = b.snapshots as f64;
        assert!(
            got >= expected * 0.5 && got <= expected * 1.1 + 2.0,
            "bot {i} should receive about one snapshot per tick: {got} in {:?} (expected ~{expected:.0})",
            b.played
        );
        assert_eq!(b.others_seen.len(), 19, "bot {i} should have seen all 19 other bots (whole arena in view)");
        assert!(b.last_ack > 0, "bot {i}'s inputs should be acknowledged");
        assert_eq!(b.desyncs, 0, "bot {i}'s world should always match the server's checksum");
    }
    assert!(bots.iter().any(|b| b.kills_seen > 0), "twenty chasing bots should kill someone within 5 s");
    assert!(bots.iter().any(|b| b.top_score_seen > 0), "the scoreboard should show a score above zero");
    assert!(stats.snapshots_sent.get() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ships_move_the_way_they_steer() {
    let server = start_server(|_| {}).await;
    let url = server.ws_url();
    let play = Duration::from_secs(2);
    let right = spawn_bot(&url, "right", Brain::fixed(Buttons::RIGHT), play);
    let up = spawn_bot(&url, "up", Brain::fixed(Buttons::UP), play);
    let bots = reports(vec![right, up]).await;
    server.shutdown().await;

    let wall = 4000.0 - SHIP_RADIUS;
    let (r0, r1) = (bots[0].first_pos.expect("a first position"), bots[0].last_pos.expect("a last position"));
    assert!(r1.0 > r0.0 + 200.0 || r1.0 == wall, "holding RIGHT should move far to the right: {r0:?} → {r1:?}");
    assert_eq!(r1.1, r0.1, "holding RIGHT should not move vertically");
    let (u0, u1) = (bots[1].first_pos.expect("a first position"), bots[1].last_pos.expect("a last position"));
    assert!(u1.1 < u0.1 - 200.0 || u1.1 == SHIP_RADIUS, "holding UP should move far up (−y): {u0:?} → {u1:?}");
    assert_eq!(u1.0, u0.0, "holding UP should not move sideways");
}
