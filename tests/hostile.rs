//! Hostile clients at the frame level, spoken by hand over TCP where a WebSocket library would
//! refuse: each case closes the offender with the right code and a short reason, is counted in
//! `/metrics`, and leaves a witness bot playing undisturbed.

use arena_bots::behaviour::Brain;
use arena_bots::bot::BotReport;
use arena_protocol::codec::encode_client;
use arena_protocol::rules::Buttons;
use arena_protocol::{Bye, ByeReason, ClientMsg, InputBatch, InputCmd, ServerMsg, Tick, ViewTime, decode_server};
use arena_server::RunningServer;
use arena_tests::{RawClient, RawFrame, RawSocket, client_frame, spawn_bot, start_server};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const WITHIN: Duration = Duration::from_secs(5);

/// The `Bye` among frames the server sent before closing.
fn bye_in(frames: &[RawFrame]) -> Option<Bye> {
    frames.iter().filter(|f| f.opcode == 2).find_map(|f| match decode_server(&f.payload) {
        Ok(ServerMsg::Bye(b)) => Some(b),
        _ => None,
    })
}

/// Words that would betray a decoder's or library's internals in a close reason.
const INTERNALS: [&str; 6] = ["varint", "usize", "platform", "postcard", "serde", "tungstenite"];

/// Checks that the close came with `code`, a matching `Bye`, and a short public reason.
fn assert_closed(frames: &[RawFrame], close: Option<&RawFrame>, reason: ByeReason, code: u16) {
    let close = close.unwrap_or_else(|| panic!("expected a close frame {code}; got only {frames:?}"));
    assert_eq!(close.close_code(), Some(code), "close code");
    let text = String::from_utf8_lossy(close.payload.get(2..).unwrap_or_default()).into_owned();
    assert!(!text.is_empty() && text.len() <= 80, "a short readable reason: {text:?}");
    for word in INTERNALS {
        assert!(!text.to_lowercase().contains(word), "the reason exposes internals ({word}): {text:?}");
    }
    let bye = bye_in(frames).unwrap_or_else(|| panic!("a Bye before the close frame: {frames:?}"));
    assert_eq!(bye.reason, reason);
    assert_eq!(bye.message, text, "the Bye and the close frame say the same");
}

async fn witness_ok(witness: tokio::task::JoinHandle<BotReport>) {
    let w = witness.await.expect("the witness bot should not panic");
    assert!(w.joined && w.error.is_none(), "the witness should play undisturbed: {:?}", w.error);
    assert!(w.snapshots as f64 >= w.played.as_secs_f64() * 30.0 * 0.5, "the witness kept receiving snapshots");
    assert_eq!(w.desyncs, 0, "the witness never desynced");
}

async fn healthy(server: &RunningServer) {
    assert_eq!(arena_tests::http_get(server.local_addr(), "/healthz").await.0, 200, "/healthz after the attack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_frame_is_refused_from_its_header_with_1009_not_a_reset() {
    let server = start_server(|_| {}).await;
    let witness = spawn_bot(&server.ws_url(), "witness", Brain::fixed(0), Duration::from_secs(3));
    let mut raw = RawSocket::joined(server.local_addr()).await;
    let received_before = server.stats().bytes_received.get();
    // 1 MiB in one frame, written whole: the server must answer with a close frame that arrives
    // although most of those bytes are still unread when it closes.
    raw.send(&client_frame(2, true, &vec![7u8; 1 << 20], true)).await;
    let (frames, close) = raw.close_frame(WITHIN).await;
    assert_closed(&frames, close.as_ref(), ByeReason::TooLarge, 1009);
    let buffered = server.stats().bytes_received.get() - received_before;
    assert!(buffered < 1024, "the frame's payload was never taken in as a message ({buffered} bytes counted)");
    healthy(&server).await;
    witness_ok(witness).await;
    assert_eq!(server.stats().closed_with("too_large"), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_messages_close_1007_with_a_short_reason() {
    let server = start_server(|_| {}).await;
    let garbage: [&[u8]; 5] = [
        &[0xde, 0xad, 0xbe, 0xef, 0xff, 0xff],             // not a message
        &[0x09],                                           // unknown message tag
        &[0x01, 0x05],                                     // truncated input
        &[0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // a varint that does not end
        &[0x03, 0x01, 0x00, 0x00],                         // trailing bytes after a ping
    ];
    for bytes in garbage {
        let mut raw = RawSocket::joined(server.local_addr()).await;
        raw.send(&client_frame(2, true, bytes, true)).await;
        let (frames, close) = raw.close_frame(WITHIN).await;
        assert_closed(&frames, close.as_ref(), ByeReason::Malformed, 1007);
    }
    // Before the Hello too.
    let (_, _, raw) = RawSocket::upgrade(server.local_addr(), &[]).await;
    let mut raw = raw.expect("upgraded");
    raw.send(&client_frame(2, true, &[0x00], true)).await;
    let (frames, close) = raw.close_frame(WITHIN).await;
    assert_closed(&frames, close.as_ref(), ByeReason::Malformed, 1007);
    healthy(&server).await;
    assert_eq!(server.stats().closed_with("malformed"), 6);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol_errors_close_1002() {
    let server = start_server(|_| {}).await;
    let cases: [Vec<u8>; 3] = [
        client_frame(2, true, &encode_client(&ClientMsg::Ping { t: 1 }), false), // unmasked
        {
            let mut f = client_frame(2, true, &encode_client(&ClientMsg::Ping { t: 1 }), true);
            f[0] |= 0x40; // a reserved bit
            f
        },
        client_frame(0, true, b"", true), // a continuation with nothing to continue
    ];
    for frame in cases {
        let mut raw = RawSocket::joined(server.local_addr()).await;
        raw.send(&frame).await;
        let (frames, close) = raw.close_frame(WITHIN).await;
        assert_closed(&frames, close.as_ref(), ByeReason::ProtocolError, 1002);
    }
    healthy(&server).await;
    assert_eq!(server.stats().closed_with("protocol_error"), 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_any_frame_kind_are_dropped_then_closed_1008() {
    let server = start_server(|_| {}).await;
    let witness = spawn_bot(&server.ws_url(), "witness", Brain::fixed(0), Duration::from_secs(4));
    let input = encode_client(&ClientMsg::Input(InputBatch::new(
        1,
        ViewTime::default(),
        vec![InputCmd { buttons: Buttons(0), aim: 0 }],
    )));
    let request_full = encode_client(&ClientMsg::RequestFull { tick: Tick(1) });
    let kinds: [(&str, Vec<u8>, Vec<u8>); 5] = [
        ("pings", Vec::new(), client_frame(9, true, b"", true)),
        ("pongs", Vec::new(), client_frame(10, true, b"x", true)),
        // An unfinished message, then empty continuation frames that add no bytes.
        ("continuations", client_frame(2, false, &[0x03], true), client_frame(0, false, b"", true)),
        ("inputs", Vec::new(), client_frame(2, true, &input, true)),
        ("full requests", Vec::new(), client_frame(2, true, &request_full, true)),
    ];
    for (kind, lead, frame) in kinds {
        let mut raw = RawSocket::joined(server.local_addr()).await;
        let mut burst = lead;
        for _ in 0..3000 {
            burst.extend_from_slice(&frame);
        }
        raw.send(&burst).await;
        let (frames, close) = raw.close_frame(WITHIN).await;
        assert!(close.is_some(), "a flood of {kind} should be closed");
        assert_closed(&frames, close.as_ref(), ByeReason::InputFlood, 1008);
    }
    healthy(&server).await;
    witness_ok(witness).await;
    let stats = server.stats();
    assert_eq!(stats.closed_with("input_flood"), 5);
    let served = stats.desyncs_reported.get();
    assert!(served <= 2, "a flood of full requests is served at most once per few ticks: {served}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_requests_within_the_budget_are_served_at_most_once_per_eight_ticks() {
    let server = start_server(|_| {}).await;
    let mut client = RawClient::joined(&server.ws_url()).await;
    let request = encode_client(&ClientMsg::RequestFull { tick: Tick(1) });
    let started = Instant::now();
    // 40 a second: within the frame budget, far above what a desynced client needs.
    while started.elapsed() < Duration::from_secs(2) {
        client.send_bytes(&request).await;
        let _ = client.next_message(Duration::from_millis(25)).await;
    }
    let elapsed_ticks = started.elapsed().as_secs_f64() * 30.0;
    let stats = server.stats().clone();
    let alive = client.wait_for(WITHIN, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.is_some();
    server.shutdown().await;
    let served = stats.desyncs_reported.get() as f64;
    assert!(alive, "the client stays connected: asking too often is not a flood");
    assert!(served <= elapsed_ticks / 8.0 + 2.0, "served {served} in {elapsed_ticks:.0} ticks");
    assert!(served >= 2.0, "requests spaced out enough are served: {served}");
    assert!(stats.full_requests_ignored.get() > 40, "the rest are ignored and counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_pinged_then_closed_4005() {
    let server = start_server(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let mut raw = RawSocket::joined(server.local_addr()).await;
    let started = Instant::now();
    // This client never answers: it reads, but sends nothing, not even a pong.
    let (frames, close) = raw.close_frame(WITHIN).await;
    let took = started.elapsed();
    assert!(frames.iter().any(|f| f.opcode == 9), "the server pings before giving up");
    assert_closed(&frames, close.as_ref(), ByeReason::IdleTimeout, 4005);
    assert!(took >= Duration::from_millis(900), "not before the idle timeout: {took:?}");
    assert_eq!(server.stats().closed_with("idle_timeout"), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_client_that_answers_pings_is_kept() {
    let server = start_server(|c| c.idle_timeout = Duration::from_secs(1)).await;
    // A library client answers pings by itself while it reads; it sends nothing else.
    let mut client = RawClient::joined(&server.ws_url()).await;
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(2500) {
        assert!(client.next_message(WITHIN).await.is_some(), "the connection stays open");
    }
    client.send(Message::Binary(encode_client(&ClientMsg::Ping { t: 7 }).into())).await;
    let pong = client.wait_for(WITHIN, |m| matches!(m, ServerMsg::Pong { t: 7 }).then_some(())).await;
    assert!(pong.is_some(), "still served after 2.5 idle timeouts of quiet");
    assert_eq!(server.stats().closed_with("idle_timeout"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_input_values_never_break_the_simulation() {
    let server = start_server(|c| c.arena_size = 1000).await;
    let witness = spawn_bot(&server.ws_url(), "witness", Brain::fixed(0), Duration::from_secs(3));
    let mut client = RawClient::joined(&server.ws_url()).await;
    let welcome = client.wait_for(WITHIN, |m| matches!(m, ServerMsg::Welcome(_)).then_some(())).await;
    assert!(welcome.is_some(), "welcome");
    let views = [ViewTime { tick: Tick(u32::MAX), frac: 255 }, ViewTime { tick: Tick(0), frac: 0 }];
    for seq in 1..=60u32 {
        let cmd = InputCmd { buttons: Buttons(0xff), aim: u16::MAX };
        let batch = InputBatch::new(seq * 1000, views[seq as usize % 2], vec![cmd; 8]);
        client.send_bytes(&encode_client(&ClientMsg::Input(batch))).await;
        tokio::time::sleep(Duration::from_millis(33)).await;
    }
    let mut snapshots = 0;
    while snapshots < 10 {
        match client.next_message(WITHIN).await {
            Some(ServerMsg::Snapshot(_)) => snapshots += 1,
            Some(ServerMsg::Bye(b)) => panic!("closed: {b:?}"),
            Some(_) => {}
            None => panic!("the connection ended"),
        }
    }
    healthy(&server).await;
    witness_ok(witness).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_budget_loses_messages_then_is_closed() {
    let server = start_server(|_| {}).await;
    let mut raw = RawSocket::joined(server.local_addr()).await;
    let ping = client_frame(2, true, &encode_client(&ClientMsg::Ping { t: 1 }), true);
    // About 150 messages a second against a budget of 70: the burst allowance goes first, then
    // messages are dropped, then the connection is closed.
    let started = Instant::now();
    let mut sent = 0u32;
    // Fifteen every 100 ms, whatever the timer's resolution on a loaded machine.
    let burst: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 15).collect();
    // The server closes after about two seconds; stop before its socket stops lingering (2 s
    // later), or a reset could destroy the close frame before this client reads it.
    while started.elapsed() < Duration::from_millis(2500) {
        raw.send(&burst).await;
        sent += 15;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (frames, close) = raw.close_frame(WITHIN).await;
    let pongs = frames.iter().filter(|f| f.opcode == 2).count();
    assert_closed(&frames, close.as_ref(), ByeReason::InputFlood, 1008);
    let dropped = server.stats().messages_dropped.get();
    assert!(dropped > 0, "messages past the budget are dropped before the close");
    assert!(pongs + 1 < sent as usize, "dropped pings got no pong: {pongs} pongs for {sent} pings");
    server.shutdown().await;
}
