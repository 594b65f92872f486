//! Arena as an Agones game server, end to end against `dummy-agones` (a local Agones SDK server
//! speaking the real gRPC API): `Ready` once listening, health pings while the rooms tick and
//! none while a room is stuck, players and rooms as labels, and on Agones' `Shutdown` (or the
//! last player leaving with `--shutdown-when-empty`) a drain that tells the players, then
//! `Shutdown` from the server. (dummy-agones records the state and labels but not the pings; the
//! server counts what it sent in `arena_agones_health_pings_total`.)

use arena_protocol::ByeReason;
use arena_server::room::runner::Fault;
use arena_tests::{RawClient, eventually, start_server};
use dummy_agones::AgonesServer;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(10);

async fn sidecar() -> (AgonesServer, u16) {
    let sidecar = AgonesServer::default();
    let addr = sidecar.start_with_port(0).await.expect("dummy-agones should start on a free port");
    (sidecar, addr.port())
}

fn state(sidecar: &AgonesServer) -> String {
    sidecar.game_server().status.map(|s| s.state).unwrap_or_default()
}

/// A label the server set (the real sidecar prefixes `agones.dev/sdk-`; the dummy may not).
fn label(sidecar: &AgonesServer, key: &str) -> Option<String> {
    let labels = sidecar.game_server().object_meta.map(|m| m.labels).unwrap_or_default();
    labels.get(&format!("agones.dev/sdk-{key}")).or_else(|| labels.get(key)).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_health_labels_and_a_drain_before_shutdown() {
    let (sidecar, port) = sidecar().await;
    assert_ne!(state(&sidecar), "Ready");
    let server = start_server(|c| {
        c.agones = true;
        c.agones_sdk_port = port;
    })
    .await;
    assert_eq!(state(&sidecar), "Ready", "Ready once the server listens");

    let url = server.ws_url();
    let mut players = Vec::new();
    for i in 0..3 {
        let mut p = RawClient::in_room(&url, &format!("p{i}"), Some("match")).await;
        assert!(p.welcome(WITHIN).await.is_some());
        players.push(p);
    }
    let published =
        || label(&sidecar, "players").as_deref() == Some("3") && label(&sidecar, "rooms").as_deref() == Some("1");
    assert!(eventually(WITHIN, published).await, "players and rooms are published: {:?}", sidecar.game_server());

    let stats = server.stats().clone();
    assert!(eventually(WITHIN, || stats.agones_health_pings.get() >= 2).await, "health pings while the room ticks");
    // A stuck room stops the pings (the watchdog is 10 ticks; the pings come every 2 s).
    assert!(server.inject_fault("match", Fault::Stall(Duration::from_secs(5))));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = stats.agones_health_pings.get();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(stats.agones_health_pings.get(), before, "no health ping while a room is stuck");
    assert!(eventually(WITHIN, || stats.agones_health_pings.get() > before).await, "pings again once it ticks");

    // Agones says Shutdown (the fleet scaled down): the server asks to stop, drains, tells its
    // players, and ends with Shutdown of its own.
    let mut gs = sidecar.game_server();
    if let Some(status) = gs.status.as_mut() {
        status.state = "Shutdown".into();
    }
    sidecar.set_game_server(gs);
    tokio::time::timeout(WITHIN, server.stop_requested()).await.expect("Agones' Shutdown asks the server to stop");
    let shutdown = tokio::spawn(server.shutdown());
    for mut p in players {
        let ending = p.ending(WITHIN).await;
        let bye = ending.bye();
        assert_eq!(bye.map(|b| b.reason), Some(ByeReason::ShuttingDown), "every player is told");
    }
    shutdown.await.expect("the shutdown completes");
    assert_eq!(state(&sidecar), "Shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_match_server_shuts_down_after_its_last_player_leaves() {
    let (sidecar, port) = sidecar().await;
    let server = start_server(|c| {
        c.agones = true;
        c.agones_sdk_port = port;
        c.shutdown_when_empty = true;
    })
    .await;
    assert_eq!(state(&sidecar), "Ready");
    let stop = tokio::time::timeout(Duration::from_secs(2), server.stop_requested()).await;
    assert!(stop.is_err(), "an empty server that never had a player keeps waiting for its match");
    let mut player = RawClient::in_room(&server.ws_url(), "solo", None).await;
    assert!(player.welcome(WITHIN).await.is_some());
    assert!(eventually(WITHIN, || label(&sidecar, "players").as_deref() == Some("1")).await);
    player.send(tokio_tungstenite::tungstenite::Message::Close(None)).await;
    tokio::time::timeout(WITHIN, server.stop_requested()).await.expect("the last player's leaving ends the match");
    assert_eq!(state(&sidecar), "Ready", "not Shutdown before the drain");
    server.shutdown().await;
    assert_eq!(state(&sidecar), "Shutdown", "Shutdown after the drain");
}
