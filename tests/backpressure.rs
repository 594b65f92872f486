//! Backpressure: a client that stops reading gets its snapshots dropped (latest wins), does not
//! slow anybody else down, and is closed once it has been behind for the configured time.

use arena_bots::behaviour::Behaviour;
use arena_protocol::codec::encode_client;
use arena_protocol::{ClientMsg, Hello, PROTOCOL_VERSION};
use arena_tests::{eventually, reports, spawn_bots, start_server};
use futures_util::SinkExt;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_without_hurting_the_others() {
    let server = start_server(|c| {
        c.arena_size = 1200;
        c.orbs = 2000;
        c.slow_client_timeout = Duration::from_secs(1);
        c.send_buffer = Some(4096);
    })
    .await;
    let url = server.ws_url();
    let stats = server.stats().clone();
    let play = Duration::from_secs(8);
    let handles: Vec<_> = spawn_bots(&url, 10, Behaviour::Chase, play);

    // The sloth: a tiny receive window, a proper Hello, then it never reads again.
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small receive buffer");
    let tcp = socket.connect(server.local_addr()).await.expect("connect");
    let (mut sloth, _) = tokio_tungstenite::client_async(url.as_str(), tcp).await.expect("handshake");
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: "sloth".into(),
        resume: None,
        join_token: None,
        room: None,
    });
    sloth.send(Message::Binary(encode_client(&hello).into())).await.expect("hello");
    let stopped_reading = Instant::now();

    let closed = eventually(Duration::from_secs(10), || stats.closed_with("too_slow") == 1).await;
    let took = stopped_reading.elapsed();
    let bots = reports(handles).await;
    let dropped = stats.snapshots_dropped.get();
    server.shutdown().await;
    drop(sloth);

    assert!(closed, "the sloth should be closed as too slow");
    assert!(took < Duration::from_secs(8), "it should be closed soon after the 1 s timeout, took {took:?}");
    assert!(dropped > 0, "snapshots should have been dropped for the sloth before it was closed");
    for (i, b) in bots.iter().enumerate() {
        assert!(b.joined && b.error.is_none(), "bot {i} should be undisturbed: {:?}", b.error);
        assert_eq!(b.desyncs, 0, "bot {i} should see no desync");
        let rate = b.snapshots as f64 / b.played.as_secs_f64();
        assert!(rate > 30.0 * 0.6, "bot {i} should keep receiving about one snapshot per tick, got {rate:.1}/s");
    }
}
