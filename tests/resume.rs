//! Reconnecting with grace, over real WebSockets: a player whose connection is lost gets the same
//! id and ship back with its resume token; the token works once and only within the grace; a
//! player who says goodbye is gone at once; and the link conditioner delays frames both ways.

use arena_protocol::{ByeReason, ClientMsg, InputBatch, InputFrame, NetId, ServerMsg, Welcome};
use arena_tests::{RawClient, eventually, start_server};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};

const WITHIN: Duration = Duration::from_secs(5);

async fn welcome(c: &mut RawClient) -> Welcome {
    c.wait_for(WITHIN, |m| if let ServerMsg::Welcome(w) = m { Some(w) } else { None })
        .await
        .expect("a Welcome should arrive")
}

/// Whether `id` is in the world of the next few snapshots `watcher` applies (it sees the whole arena).
async fn sees(watcher: &mut RawClient, world: &mut arena_protocol::ClientWorld, id: NetId) -> bool {
    for _ in 0..10 {
        let Some(s) = watcher.wait_for(WITHIN, |m| if let ServerMsg::Snapshot(s) = m { Some(s) } else { None }).await
        else {
            return false;
        };
        world.apply(&s).expect("the watcher's snapshots should apply");
    }
    world.get(id).is_some()
}

async fn watcher(url: &str) -> (RawClient, arena_protocol::ClientWorld) {
    let mut c = RawClient::hello(url, "watcher", None).await;
    let w = welcome(&mut c).await;
    let arena = arena_protocol::rules::Arena { width: w.arena_width as f32, height: w.arena_height as f32 };
    (c, arena_protocol::ClientWorld::new(arena_protocol::Physics::new(w.tick_hz, arena)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_player_resumes_with_its_ship_and_a_token_works_once() {
    let server = start_server(|c| {
        c.arena_size = 1000;
        c.view_width = 2400;
        c.view_height = 2400;
    })
    .await;
    let url = server.ws_url();
    let (mut watch, mut world) = watcher(&url).await;

    let mut first = RawClient::hello(&url, "ace", None).await;
    let w1 = welcome(&mut first).await;
    assert!(!w1.resumed, "a new player is not resumed");
    assert_eq!(w1.resume_grace_ms, 15_000, "the Welcome announces the default grace");
    first.vanish();

    // The ship stays in the world, idle, during the grace.
    assert!(eventually(WITHIN, || server.stats().suspended.get() == 1).await, "the lost player's ship should be kept");
    assert!(sees(&mut watch, &mut world, w1.your_id).await, "the ship of a lost player stays in the world");

    let mut second = RawClient::hello(&url, "ace", Some(w1.resume_token)).await;
    let w2 = welcome(&mut second).await;
    assert!(w2.resumed, "the token should give the player back");
    assert_eq!(w2.your_id, w1.your_id, "the same ship id comes back");
    assert_ne!(w2.resume_token, w1.resume_token, "every Welcome brings a new token");
    let first_snapshot = second.wait_for(WITHIN, |m| if let ServerMsg::Snapshot(s) = m { Some(s) } else { None }).await;
    assert_eq!(first_snapshot.map(|s| s.baseline_gap), Some(0), "a resumed player starts from a full snapshot");
    assert_eq!(server.stats().suspended.get(), 0);
    assert_eq!(server.stats().resumes.get(), 1);

    // Its inputs count from 1 again and are acknowledged.
    let input = InputBatch::one(InputFrame { seq: 1, ..Default::default() });
    second.send_bytes(&arena_protocol::encode_client(&ClientMsg::Input(input))).await;
    let acked = second
        .wait_for(WITHIN, |m| if let ServerMsg::Snapshot(s) = m { (s.ack_seq >= 1).then_some(()) } else { None })
        .await;
    assert!(acked.is_some(), "the resumed connection's first input should be acknowledged");

    // The old token again: used once already, so a new player.
    let mut replay = RawClient::hello(&url, "thief", Some(w1.resume_token)).await;
    let w3 = welcome(&mut replay).await;
    assert!(!w3.resumed && w3.your_id != w1.your_id, "a used token must not give the ship again");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_presented_while_the_player_is_connected_takes_over_its_ship() {
    let server = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut old = RawClient::hello(&url, "ace", None).await;
    let w1 = welcome(&mut old).await;
    // The player reconnects before the server noticed its old connection died.
    let mut new = RawClient::hello(&url, "ace", Some(w1.resume_token)).await;
    let w2 = welcome(&mut new).await;
    assert!(w2.resumed && w2.your_id == w1.your_id);
    let ending = old.ending(WITHIN).await;
    let bye = ending.bye().map(|b| b.reason);
    assert_eq!(bye, Some(ByeReason::Replaced), "the old connection is told why it ends");
    assert_eq!(ending.close.map(|c| c.0), Some(4004));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_runs_out_and_a_goodbye_leaves_at_once() {
    let server = start_server(|c| c.resume_grace = Duration::from_millis(500)).await;
    let url = server.ws_url();
    let mut lost = RawClient::hello(&url, "lost", None).await;
    let w = welcome(&mut lost).await;
    lost.vanish();
    assert!(eventually(WITHIN, || server.stats().suspended.get() == 1).await);
    assert!(eventually(WITHIN, || server.stats().suspended.get() == 0).await, "the grace should run out");
    let mut late = RawClient::hello(&url, "lost", Some(w.resume_token)).await;
    let again = welcome(&mut late).await;
    assert!(!again.resumed && again.your_id != w.your_id, "after the grace the token is worthless");

    // A client that closes normally leaves: nothing is kept for it.
    let mut polite = RawClient::hello(&url, "polite", None).await;
    welcome(&mut polite).await;
    let clients_before = server.stats().clients.get();
    polite.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))).await;
    assert!(eventually(WITHIN, || server.stats().clients.get() == clients_before - 1).await);
    assert_eq!(server.stats().suspended.get(), 0, "a goodbye is not a lost connection");

    // A close frame with code 4000 ("reconnecting") is a lost connection.
    let mut flaky = RawClient::hello(&url, "flaky", None).await;
    welcome(&mut flaky).await;
    flaky.send(Message::Close(Some(CloseFrame { code: CloseCode::from(4000), reason: "lost".into() }))).await;
    assert!(eventually(WITHIN, || server.stats().suspended.get() == 1).await, "code 4000 keeps the ship");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_conditioner_delays_every_frame_both_ways() {
    let server = start_server(|c| {
        c.sim_latency = "60ms".parse().expect("a valid latency");
        c.sim_jitter = Duration::from_millis(10);
    })
    .await;
    let url = server.ws_url();
    let mut c = RawClient::hello(&url, "far", None).await;
    welcome(&mut c).await;
    let mut rtts = Vec::new();
    for t in 1..=5u64 {
        let sent = Instant::now();
        c.send(Message::Binary(Bytes::from(arena_protocol::encode_client(&ClientMsg::Ping { t })))).await;
        let got = c.wait_for(WITHIN, |m| if let ServerMsg::Pong { t: p } = m { (p == t).then_some(()) } else { None });
        assert!(got.await.is_some(), "every ping is answered, in order");
        rtts.push(sent.elapsed());
    }
    server.shutdown().await;
    let min = rtts.iter().min().copied().unwrap_or_default();
    assert!(min >= Duration::from_millis(100), "60 ± 10 ms each way is at least 100 ms round trip, got {rtts:?}");
}

/// A client whose protocol is older than the server's is told so, even though its Hello (no
/// resume field) no longer decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_client_gets_a_version_mismatch() {
    let server = start_server(|_| {}).await;
    let mut c = RawClient::connect(&server.ws_url()).await;
    c.send_bytes(&[0x00, 0x02, 0x03, b'o', b'l', b'd']).await;
    let ending = c.ending(WITHIN).await;
    server.shutdown().await;
    assert_eq!(ending.close.map(|c| c.0), Some(4001), "a v2 Hello should close with 4001");
}
