//! Whole rooms in memory: members joining, playing, reading slowly and leaving, their frames
//! decoded and applied as a client would. The worker pool must change nothing a client receives.

use super::*;
use crate::mailbox::{Batch, Mailbox};
use crate::room::post::Post;
use crate::sim::SimSettings;
use arena_protocol::rules::{Arena, Buttons};
use arena_protocol::{ClientWorld, InputFrame, Physics, ViewTime, decode_server};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

const TICK_HZ: u16 = 30;

pub(super) fn settings(threads: usize) -> RoomSettings {
    RoomSettings {
        sim: SimSettings {
            tick_hz: TICK_HZ,
            arena: Arena { width: 1500.0, height: 1500.0 },
            orbs: 40,
            seed: 11,
            max_rewind_ticks: 6.0,
        },
        view: View { half_width: 500.0, half_height: 350.0 },
        max_clients: 1000,
        slow_client_ticks: 20,
        snapshot_budget: None,
        resume_grace: Duration::from_secs(15),
        replication_threads: threads,
    }
}

/// One member as a client sees it: every snapshot frame it was handed, and its world.
struct Player {
    mailbox: Arc<Mailbox>,
    world: Option<ClientWorld>,
    stream: Vec<u8>,
    applied: u64,
}

/// Plays `ticks` ticks of a scripted room (the same script for any `threads`): members join
/// over time, steer and fire at random, some read only now and then, a few leave. Returns each
/// member's snapshot bytes and the snapshots applied; panics on the first snapshot that fails to
/// apply or to match its checksum.
fn play(threads: usize, ticks: u32) -> (Vec<Vec<u8>>, u64) {
    let settings = settings(threads);
    let physics = Physics::new(TICK_HZ, settings.sim.arena);
    let mut room = Room::new(settings, Arc::new(ServerStats::default()));
    let mut post = Post::default();
    let mut rng = Pcg64Mcg::seed_from_u64(3);
    let mut players: Vec<Player> = Vec::new();
    let mut left = Vec::new();
    let mut batch = Batch::default();
    for tick in 0..ticks {
        if players.len() < 60 && tick % 3 == 0 {
            let mailbox = Arc::new(Mailbox::default());
            let client = ClientId(players.len() as u64);
            let name = format!("p{}", client.0);
            post.open(client, mailbox.clone());
            room.handle(RoomCommand::Join { client, name, resume: None, require_resume: false });
            players.push(Player { mailbox, world: None, stream: Vec::new(), applied: 0 });
        }
        if tick % 50 == 49 {
            let client = rng.random_range(0..players.len());
            if !left.contains(&client) {
                post.forget(ClientId(client as u64));
                room.handle(RoomCommand::Leave { client: ClientId(client as u64), lost: false });
                left.push(client);
            }
        }
        for (i, _) in players.iter().enumerate().filter(|(i, _)| !left.contains(i)) {
            let buttons = Buttons(rng.random_range(0..16) | if rng.random_bool(0.1) { Buttons::FIRE } else { 0 });
            let input =
                InputFrame { seq: tick + 1, buttons, aim: rng.random(), view: ViewTime { tick: room.tick(), frac: 0 } };
            let batch = InputBatch::one(input);
            room.handle(RoomCommand::Input { client: ClientId(i as u64), batch, received: Instant::now() });
        }
        room.simulate();
        post.settle(&mut room);
        room.replicate();
        post.deliver(&mut room);
        for (i, p) in players.iter_mut().enumerate() {
            // Every fifth member reads only every fourth tick: its snapshots are retracted and
            // replaced by ones with a longer baseline gap.
            if i % 5 == 4 && tick % 4 != 0 {
                continue;
            }
            p.mailbox.take(&mut batch);
            for frame in batch.frames.drain(..) {
                match decode_server(&frame).expect("the server's frames decode") {
                    // (A Welcome's resume token is random: not compared.)
                    ServerMsg::Welcome(_) => p.world = Some(ClientWorld::new(physics)),
                    ServerMsg::Snapshot(s) => {
                        p.stream.extend_from_slice(&frame);
                        let world = p.world.as_mut().expect("a Welcome comes first");
                        world.apply(&s).unwrap_or_else(|e| panic!("member {i} at tick {tick}: {e}"));
                        p.applied += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    let applied = players.iter().map(|p| p.applied).sum();
    (players.into_iter().map(|p| p.stream).collect(), applied)
}

#[test]
fn every_snapshot_applies_whatever_the_number_of_replication_threads() {
    for threads in [1, 2, 4] {
        let (_, applied) = play(threads, 300);
        assert!(applied > 60 * 150, "{threads} threads: {applied} snapshots applied");
    }
}

#[test]
fn the_worker_pool_sends_every_client_the_very_bytes_one_thread_sends() {
    let (one, _) = play(1, 300);
    let (three, _) = play(3, 300);
    assert_eq!(one.len(), three.len());
    for (i, (a, b)) in one.iter().zip(&three).enumerate() {
        assert!(
            a == b,
            "member {i}: {} bytes on one thread, {} on three, first difference at {:?}",
            a.len(),
            b.len(),
            { a.iter().zip(b).position(|(x, y)| x != y) }
        );
    }
}

#[test]
fn a_room_returns_what_it_sends_per_member_with_no_mailbox_and_no_runtime() {
    let mut room = Room::new(settings(1), Arc::new(ServerStats::default()));
    let mut out = Output::default();
    let join = |room: &mut Room, i: u64| {
        room.handle(RoomCommand::Join {
            client: ClientId(i),
            name: format!("p{i}"),
            resume: None,
            require_resume: false,
        });
    };
    join(&mut room, 0);
    room.take_output(&mut out);
    assert!(matches!(&out.direct[..], [(ClientId(0), f)] if matches!(decode_server(f), Ok(ServerMsg::Welcome(_)))));
    assert!(out.broadcast.is_empty() && out.snapshots.is_empty() && out.closes.is_empty());
    out.clear();

    join(&mut room, 1);
    room.simulate();
    room.replicate();
    room.take_output(&mut out);
    assert_eq!(out.direct.len(), 1, "the second Welcome");
    let events = out.broadcast.iter().filter(|f| matches!(decode_server(f), Ok(ServerMsg::Event(_)))).count();
    assert!(events >= 1, "the joins are events for everyone");
    let to: Vec<ClientId> = out.snapshots.iter().map(|(c, _)| *c).collect();
    assert_eq!(to, [ClientId(0), ClientId(1)], "one snapshot per member");
    let full = |f: &Bytes| match decode_server(f) {
        Ok(ServerMsg::Snapshot(s)) => s.baseline_gap == 0,
        other => panic!("expected a snapshot, got {other:?}"),
    };
    assert!(out.snapshots.iter().all(|(_, f)| full(f)), "first snapshots are full");
    out.clear();

    // Member 0 takes its snapshot, member 1's is never taken: the next is a delta for 0 only.
    room.snapshot_dropped(ClientId(1));
    room.simulate();
    room.replicate();
    room.take_output(&mut out);
    let by: BTreeMap<ClientId, bool> = out.snapshots.iter().map(|(c, f)| (*c, full(f))).collect();
    assert!(!by[&ClientId(0)], "member 0 holds tick 1: a delta");
    assert!(by[&ClientId(1)], "member 1 never got one: full again");
    out.clear();

    room.close_all(ByeReason::ShuttingDown, "bye");
    room.take_output(&mut out);
    let closed: Vec<(ClientId, ByeReason)> = out.closes.iter().map(|(c, b)| (*c, b.reason)).collect();
    assert_eq!(closed, [(ClientId(0), ByeReason::ShuttingDown), (ClientId(1), ByeReason::ShuttingDown)]);
}
