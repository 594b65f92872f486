//! Writes seed inputs for every fuzz target, from real traffic where there is any: the golden
//! messages of the protocol's codec tests, and the frames of bots playing an in-memory room (the
//! server's own `Room`, each member's mailbox drained as its writer would, some slowly so that
//! deltas span several ticks; the bots' own brains and input log; a lost connection resumed;
//! desyncs answered with `RequestFull`; a shutdown). The server-side targets get handshakes as
//! browsers, bots and proxies send them, WebSocket byte streams of that traffic, and join tokens.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus -- DIR
//! ```
//!
//! writes `DIR/<target>/<hash>`; `scripts/fuzz.sh seed` then merges them into `fuzz/corpus`
//! with `cargo fuzz cmin`, which keeps only inputs that add coverage.

use arena_bots::behaviour::{Behaviour, Brain};
use arena_bots::mirror::WorldMirror;
use arena_bots::timing::InputLog;
use arena_fuzz::{FUZZ_NOW, FUZZ_SECRET, recipe};
use arena_protocol::delta::{BodyWriter, encode_body};
use arena_protocol::fuzzing::{SESSION_BODY, SESSION_HEADER_BODY, SESSION_MESSAGE};
use arena_protocol::rules::{Arena, Buttons};
use arena_protocol::varint::put_u32;
use arena_protocol::{
    Bye, ByeReason, ClientMsg, ClientWorld, GameEvent, Hello, InputBatch, InputCmd, NetId, PROTOCOL_VERSION,
    PlayerInfo, ResumeToken, ScoreEntry, Scoreboard, ServerMsg, Snapshot, Tick, ViewTime, Welcome, decode_client,
    decode_server, encode_client, encode_server,
};
use arena_server::mailbox::{Batch, Closing, Mailbox};
use arena_server::metrics::ServerStats;
use arena_server::replication::View;
use arena_server::room::post::Post;
use arena_server::room::{ClientId, Room, RoomCommand, RoomSettings};
use arena_server::sim::SimSettings;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seeds per target, by content (so duplicates collapse).
#[derive(Default)]
struct Seeds(BTreeMap<&'static str, BTreeMap<u64, Vec<u8>>>);

impl Seeds {
    fn add(&mut self, target: &'static str, bytes: Vec<u8>) {
        let hash =
            bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        self.0.entry(target).or_default().insert(hash, bytes);
    }

    fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (target, seeds) in &self.0 {
            let dir = dir.join(target);
            std::fs::create_dir_all(&dir)?;
            for (hash, bytes) in seeds {
                std::fs::write(dir.join(format!("seed-{hash:016x}")), bytes)?;
            }
            println!("{target}: {} seeds", seeds.len());
        }
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz/seeds".to_owned()));
    let mut seeds = Seeds::default();
    golden(&mut seeds);
    play(&mut seeds);
    handshakes(&mut seeds);
    tokens(&mut seeds);
    seeds.write(&dir)
}

/// The messages the codec's golden-bytes tests pin, and a few more of each kind.
fn golden(seeds: &mut Seeds) {
    let hello = |name: &str, resume, join_token| {
        ClientMsg::Hello(Hello { protocol_version: PROTOCOL_VERSION, name: name.into(), resume, join_token, room: None })
    };
    let token = recipe(FUZZ_SECRET, "ace", FUZZ_NOW + 60, [7; 12]);
    let cmd = |b, aim| InputCmd { buttons: Buttons(b), aim };
    let view = ViewTime { tick: Tick(298), frac: 0x80 };
    for msg in [
        hello("ace", None, None),
        hello("a", Some(ResumeToken([0xab; 16])), None),
        hello("  \u{7}pilot with a very long name  ", None, Some(token)),
        ClientMsg::Input(InputBatch::new(300, view, vec![cmd(0x08, 0x4000), cmd(0x19, 0x4000)])),
        ClientMsg::Input(InputBatch::new(2, view, vec![cmd(1, 0); 3])),
        ClientMsg::Input(InputBatch::new(99, view, vec![cmd(0xff, 0xffff); 9])),
        ClientMsg::Ping { t: 1 },
        ClientMsg::Ping { t: u64::MAX },
        ClientMsg::RequestFull { tick: Tick(300) },
    ] {
        seeds.add("client_msg", encode_client(&msg));
    }
    // A v3 Hello (no join token): the server answers VersionMismatch.
    seeds.add("client_msg", vec![0x00, 0x03, 0x03, b'a', b'c', b'e', 0x00]);

    let welcome = Welcome {
        your_id: NetId(5),
        tick_hz: 30,
        tick: Tick(100),
        arena_width: 4000,
        arena_height: 4000,
        view_half_width: 1000,
        view_half_height: 625,
        players: vec![PlayerInfo { id: NetId(5), name: "ace".into() }],
        resume_token: ResumeToken([1; 16]),
        resumed: true,
        resume_grace_ms: 15_000,
        room: "main".into(),
    };
    let snapshot = Snapshot {
        tick: Tick(7),
        baseline_gap: 1,
        ack_seq: 5,
        ack_speculated: 1,
        input_queue: 2,
        input_offset: -3,
        checksum: 0x0403_0201,
        body: vec![0, 0, 1, 3, 0x10, 0x02],
    };
    let mut msgs = vec![
        ServerMsg::Welcome(welcome),
        ServerMsg::Snapshot(snapshot),
        ServerMsg::Pong { t: 1 },
        ServerMsg::Event(GameEvent::Joined(PlayerInfo { id: NetId(9), name: "bob".into() })),
        ServerMsg::Event(GameEvent::Left { id: NetId(9) }),
        ServerMsg::Event(GameEvent::Kill { killer: NetId(5), victim: NetId(9) }),
        ServerMsg::Scoreboard(Scoreboard {
            players_online: 2,
            top: vec![ScoreEntry { id: NetId(5), score: 10 }, ScoreEntry { id: NetId(9), score: 0 }],
        }),
    ];
    for reason in [ByeReason::VersionMismatch, ByeReason::JoinRefused, ByeReason::ProtocolError] {
        msgs.push(ServerMsg::Bye(Bye { reason, message: "v".into(), retry_after_ms: 0 }));
    }
    for msg in msgs {
        let frame = encode_server(&msg);
        seeds.add("snapshot_delta", session(&[(SESSION_MESSAGE, &frame)]));
        seeds.add("server_msg", frame);
    }
}

/// One member of the in-memory room: a bot, and what went over its connection.
struct Member {
    client: ClientId,
    mailbox: Arc<Mailbox>,
    brain: Brain,
    log: InputLog,
    mirror: Option<WorldMirror>,
    token: Option<ResumeToken>,
    /// The mailbox is drained every this many ticks (a slow reader gets deltas over several).
    every: u64,
    /// Server frames received, in order.
    down: Vec<Vec<u8>>,
}

fn join(
    room: &mut Room,
    post: &mut Post,
    id: u64,
    behaviour: Behaviour,
    every: u64,
    resume: Option<ResumeToken>,
) -> (Member, Vec<u8>) {
    let hello = Hello { protocol_version: PROTOCOL_VERSION, name: format!("bot{id}"), resume, join_token: None, room: None };
    let frame = encode_client(&ClientMsg::Hello(hello.clone()));
    let mailbox = Arc::new(Mailbox::default());
    let client = ClientId(id);
    post.open(client, mailbox.clone());
    room.handle(RoomCommand::Join { client, name: hello.name, resume, require_resume: false });
    let brain = Brain::new(behaviour, Pcg64Mcg::seed_from_u64(id));
    let member =
        Member { client, mailbox, brain, log: InputLog::default(), mirror: None, token: None, every, down: Vec::new() };
    (member, frame)
}

/// Bots playing 400 ticks in an in-memory room; their client frames and server frames become
/// seeds of `client_msg`, `server_msg` and `snapshot_delta`, and their byte streams seeds of
/// `frame_meter`.
fn play(seeds: &mut Seeds) {
    let settings = RoomSettings {
        sim: SimSettings {
            tick_hz: 30,
            arena: Arena { width: 1500.0, height: 1500.0 },
            orbs: 30,
            seed: 7,
            max_rewind_ticks: 6.0,
        },
        view: View { half_width: 500.0, half_height: 350.0 },
        max_clients: 64,
        slow_client_ticks: 1000,
        snapshot_budget: None,
        resume_grace: Duration::from_secs(15),
        replication_threads: 1,
    };
    let mut room = Room::new(settings, Arc::new(ServerStats::default()));
    let mut post = Post::default();
    let styles = [Behaviour::Chase, Behaviour::Kite, Behaviour::Wander, Behaviour::Patrol, Behaviour::Mixed];
    let mut members = Vec::new();
    let mut up: Vec<Vec<u8>> = Vec::new();
    for (i, behaviour) in styles.into_iter().enumerate() {
        let (m, hello) = join(&mut room, &mut post, i as u64, behaviour, [1, 1, 2, 3, 7][i], None);
        up.push(hello);
        members.push(m);
    }
    let t0 = Instant::now();
    let period = Duration::from_secs(1) / 30;
    let mut batch = Batch::default();
    for tick in 0..400u32 {
        let now = t0 + period * tick;
        room.begin_tick(now);
        if tick == 200 {
            // The wanderer's connection is lost; it comes back with its resume token.
            let lost = members.remove(2);
            post.forget(lost.client);
            room.handle(RoomCommand::Leave { client: lost.client, lost: true });
            seeds.add("snapshot_delta", sessions_of(&lost.down).concat());
            let (m, hello) = join(&mut room, &mut post, 10, Behaviour::Wander, 1, lost.token);
            up.push(hello);
            members.push(m);
        }
        for m in &mut members {
            let Some(mirror) = &m.mirror else { continue };
            let (buttons, aim) = m.brain.decide(mirror);
            let batch = m.log.next(InputCmd { buttons, aim }, mirror.ack_seq, mirror.view());
            let frame = encode_client(&ClientMsg::Input(batch));
            // The server's own path: decode, validate, queue.
            if let Ok(ClientMsg::Input(batch)) = decode_client(&frame)
                && batch.validate().is_ok()
            {
                room.handle(RoomCommand::Input { client: m.client, batch, received: now });
            }
            up.push(frame);
            if tick % 30 == 0 {
                up.push(encode_client(&ClientMsg::Ping { t: u64::from(tick) * 1_000_003 }));
                m.down.push(encode_server(&ServerMsg::Pong { t: u64::from(tick) * 1_000_003 }));
            }
        }
        room.simulate();
        post.settle(&mut room);
        room.replicate();
        post.deliver(&mut room);
        if tick == 399 {
            room.close_all(ByeReason::ShuttingDown, "the server is shutting down");
            post.deliver(&mut room);
        }
        for m in &mut members {
            if !u64::from(tick).is_multiple_of(m.every) && tick != 399 {
                continue;
            }
            m.mailbox.take(&mut batch);
            let mut frames: Vec<Vec<u8>> = batch.frames.drain(..).map(|f| f.to_vec()).collect();
            if let Some(Closing::Bye(bye)) = batch.closing.take() {
                frames.push(encode_server(&ServerMsg::Bye(bye)));
            }
            for frame in frames {
                match decode_server(&frame) {
                    Ok(ServerMsg::Welcome(w)) => {
                        m.token = Some(w.resume_token);
                        m.mirror = Some(WorldMirror::new(&w));
                    }
                    Ok(ServerMsg::Snapshot(s)) => {
                        if let Some(mirror) = &mut m.mirror
                            && mirror.apply_snapshot(&s).is_err()
                        {
                            let ask = ClientMsg::RequestFull { tick: s.tick };
                            up.push(encode_client(&ask));
                            room.handle(RoomCommand::RequestFull { client: m.client });
                        }
                    }
                    Ok(ServerMsg::Event(e)) => {
                        if let Some(mirror) = &mut m.mirror {
                            mirror.apply_event(&e);
                        }
                    }
                    _ => {}
                }
                m.down.push(frame);
            }
        }
    }

    for frame in &up {
        seeds.add("client_msg", frame.clone());
    }
    for m in &members {
        for (i, frame) in m.down.iter().enumerate() {
            // Every non-snapshot frame, and a sample of the snapshots (full ones, and deltas).
            let snapshot = frame.first() == Some(&1);
            if !snapshot || i < 4 || i % 25 == 0 {
                seeds.add("server_msg", frame.clone());
            }
        }
        for s in sessions_of(&m.down) {
            seeds.add("snapshot_delta", s);
        }
        // The client's byte stream: its frames, masked, with pings and pongs between, cut where
        // a ping falls.
        let mut stream = Vec::new();
        for (i, frame) in up.iter().enumerate().filter(|(i, _)| i % members.len() == m.client.0 as usize % 5) {
            stream.extend(ws_frame(0x2, true, frame, i as u32));
            if i % 20 == 0 {
                stream.extend(ws_frame(0xA, true, b"", 0));
            }
            if stream.len() > 600 {
                seeds.add("frame_meter", [&[(i % 251) as u8][..], &stream].concat());
                stream.clear();
            }
        }
    }
}

/// A `snapshot_delta` session input.
fn session(frames: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ctl, bytes) in frames {
        out.push(*ctl);
        put_u32(&mut out, bytes.len() as u32);
        out.extend_from_slice(bytes);
    }
    out
}

/// Sessions of one client's frames: its `Welcome`, then windows of consecutive snapshots, each
/// starting from a full snapshot of the world the client held before it (written as a header and
/// body, as the server would have sent it); every other window as bare bodies.
fn sessions_of(down: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(welcome) = down.iter().find(|f| matches!(decode_server(f), Ok(ServerMsg::Welcome(_)))) else {
        return out;
    };
    let Ok(ServerMsg::Welcome(w)) = decode_server(welcome) else { return out };
    let mut world = ClientWorld::new(arena_protocol::fuzzing::welcome_physics(&w));
    let mut window: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut windows = 0;
    let mut writer = BodyWriter::default();
    for frame in down {
        let Ok(msg) = decode_server(frame) else { continue };
        let ServerMsg::Snapshot(s) = &msg else {
            if !matches!(msg, ServerMsg::Welcome(_)) && (2..5).contains(&window.len()) {
                window.push((SESSION_MESSAGE, frame.clone()));
            }
            continue;
        };
        if window.is_empty() {
            // Start a window from what the client holds now.
            window.push((SESSION_MESSAGE, welcome.clone()));
            if let Some(tick) = world.tick() {
                encode_body(&mut writer, &[], world.entities(), 0, world.physics());
                let mut head = Vec::new();
                put_u32(&mut head, tick.0);
                put_u32(&mut head, 0);
                head.extend_from_slice(&world.checksum().to_le_bytes());
                writer.finish(&mut head);
                window.push((SESSION_HEADER_BODY, head));
            }
        }
        let bare = windows % 2 == 1 && s.baseline_gap <= 15 && world.tick().is_some();
        if bare {
            window.push((SESSION_BODY | ((s.baseline_gap as u8) << 4), s.body.clone()));
        } else {
            window.push((SESSION_MESSAGE, frame.clone()));
        }
        let _ = world.apply(s);
        if window.len() >= 10 {
            let frames: Vec<(u8, &[u8])> = window.iter().map(|(c, b)| (*c, &b[..])).collect();
            out.push(session(&frames));
            window.clear();
            windows += 1;
        }
    }
    out
}

/// A client's WebSocket frame (masked with a key from `key`).
fn ws_frame(opcode: u8, fin: bool, payload: &[u8], key: u32) -> Vec<u8> {
    let mut out = vec![opcode | if fin { 0x80 } else { 0 }];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = key.wrapping_mul(0x9e37_79b9).to_be_bytes();
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Upgrade requests as a browser, a bot (tungstenite) and a proxy send them, and some that the
/// server refuses; byte streams with every kind of frame header.
fn handshakes(seeds: &mut Seeds) {
    let browser = "upgrade: websocket\nconnection: Upgrade\nsec-websocket-version: 13\n\
        sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\nhost: play.example.com\n\
        origin: https://play.example.com\nuser-agent: Mozilla/5.0\n\
        sec-websocket-extensions: permessage-deflate; client_max_window_bits\n";
    let bot = "Host: 127.0.0.1:7777\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n";
    let proxied = "upgrade: WebSocket\nconnection: keep-alive, Upgrade\nsec-websocket-version: 13\n\
        sec-websocket-key: AQIDBAUGBwgJCgsMDQ4PEA==\nx-forwarded-for: 6.6.6.6, 203.0.113.9\n\
        x-forwarded-for: 2001:db8::7\nhost: 10.0.0.5:8080\norigin: http://10.0.0.5:8080/\n\
        allow https://portal.example.com\ntrust 10.0.0.1\n";
    let refused = "upgrade: h2c\nconnection: upgrade\nsec-websocket-version: 8\nsec-websocket-key: abc\n\
        origin: https://evil.example\nallow https://play.example.com/\n";
    let v4 = |a: [u8; 4]| a.to_vec();
    let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().map(|ip| ip.octets().to_vec()).unwrap_or_default();
    for (ctl, peer, text) in [
        (0b0000_0000u8, v4([203, 0, 113, 9]), browser),
        (0b0010_1011, vec![], bot),
        (0b0100_0100, v4([10, 0, 0, 1]), proxied),
        (0b0010_1101, v6("2001:db8::1"), browser),
        (0b1110_1110, v4([1, 2, 3, 4]), proxied),
        (0b0000_1000, v4([198, 51, 100, 7]), refused),
        (0b1111_1101, v6("::1"), proxied),
    ] {
        seeds.add("http_upgrade", [&[ctl][..], &peer, text.as_bytes()].concat());
    }

    let mut stream = ws_frame(0x2, true, &[7; 10], 1);
    stream.extend(ws_frame(0x9, true, b"", 2));
    stream.extend(ws_frame(0x2, false, &[1; 300], 3));
    stream.extend(ws_frame(0x0, false, b"", 4));
    stream.extend(ws_frame(0x0, true, &[2; 200], 5));
    stream.extend(ws_frame(0x1, true, b"hi", 6));
    stream.extend(ws_frame(0x8, true, &[0x03, 0xe8], 7));
    seeds.add("frame_meter", [&[0x37][..], &stream].concat());
    let mut huge = vec![0x00, 0x82, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.extend_from_slice(&[0; 4]);
    seeds.add("frame_meter", huge);
    seeds.add("frame_meter", vec![0xf1, 0x82, 0x7e, 0x01, 0x00, 0xaa, 0xbb]);
}

/// Join tokens: made by the recipe (valid, expired, too long-lived), garbled, and as text.
fn tokens(seeds: &mut Seeds) {
    let parts = |ctl: u8, name: &str, offset: i64, nonce: [u8; 12], garble: &[u8]| {
        [&[ctl][..], name.as_bytes(), &[0], &offset.to_be_bytes(), &nonce, garble].concat()
    };
    seeds.add("join_token", parts(1, "ace", 60, [1; 12], &[]));
    seeds.add("join_token", parts(1, "bot7", -1, [2; 12], &[]));
    seeds.add("join_token", parts(1, "ace", 25 * 3600, [3; 12], &[]));
    seeds.add("join_token", parts(3, "ace", 60, [4; 12], &[3, 1, 70, 0x20]));
    let valid = recipe(FUZZ_SECRET, "ace", FUZZ_NOW + 60, [5; 12]);
    seeds.add("join_token", [&[0u8][..], b"ace\0", valid.as_bytes()].concat());
    seeds.add("join_token", [&[0u8][..], b"bob\0", valid.as_bytes()].concat());
    let docs = "AQAAAAB3NZQAAAECAwQFBgcICQoLFXQ6lUY3RRWtMtCHrzXgWfUmYrifpys2S9vaa9CigxQ";
    seeds.add("join_token", [&[0u8][..], b"ace\0", docs.as_bytes()].concat());
    seeds.add("join_token", [&[0u8][..], b"ace\0", &b"A".repeat(200)[..]].concat());
}
