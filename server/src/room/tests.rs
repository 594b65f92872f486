//! Whole rooms in memory: members joining, playing, reading slowly and leaving, their frames
//! decoded and applied as a client would. The worker pool must change nothing a client receives.

use super::*;
use crate::mailbox::Batch;
use crate::sim::SimSettings;
use arena_protocol::rules::{Arena, Buttons};
use arena_protocol::{ClientWorld, InputFrame, Physics, ViewTime, decode_server};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

const TICK_HZ: u16 = 30;

fn settings(threads: usize) -> RoomSettings {
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
    let mut rng = Pcg64Mcg::seed_from_u64(3);
    let mut players: Vec<Player> = Vec::new();
    let mut left = Vec::new();
    let mut batch = Batch::default();
    for tick in 0..ticks {
        if players.len() < 60 && tick % 3 == 0 {
            let mailbox = Arc::new(Mailbox::default());
            let client = ClientId(players.len() as u64);
            let name = format!("p{}", client.0);
            room.handle(RoomCommand::Join {
                client,
                name,
                mailbox: mailbox.clone(),
                resume: None,
                require_resume: false,
            });
            players.push(Player { mailbox, world: None, stream: Vec::new(), applied: 0 });
        }
        if tick % 50 == 49 {
            let client = rng.random_range(0..players.len());
            if !left.contains(&client) {
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
        room.replicate();
        room.hand_off();
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
fn a_ticks_events_wait_for_its_snapshot_one_wake_per_member() {
    use futures_util::FutureExt;
    let mut room = Room::new(settings(1), Arc::new(ServerStats::default()));
    let (first, second) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
    let join = |room: &mut Room, i: u64, mailbox: &Arc<Mailbox>| {
        let mailbox = mailbox.clone();
        room.handle(RoomCommand::Join {
            client: ClientId(i),
            name: format!("p{i}"),
            mailbox,
            resume: None,
            require_resume: false,
        });
    };
    join(&mut room, 0, &first);
    room.simulate();
    room.replicate();
    room.hand_off();
    let mut batch = Batch::default();
    first.take(&mut batch);
    batch.frames.clear();
    assert!(first.wait().now_or_never().is_some(), "last tick's wake");

    // The second player's arrival is an event for the first: queued, not woken for.
    join(&mut room, 1, &second);
    room.simulate();
    assert!(first.wait().now_or_never().is_none(), "an event alone does not wake the writer");
    room.replicate();
    room.hand_off();
    assert!(first.wait().now_or_never().is_some(), "the snapshot does");
    assert!(first.wait().now_or_never().is_none(), "once");
    first.take(&mut batch);
    let kinds: Vec<_> = batch
        .frames
        .iter()
        .map(|f| match decode_server(f).expect("decodes") {
            ServerMsg::Event(_) => "event",
            ServerMsg::Snapshot(_) => "snapshot",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["event", "snapshot"], "the event goes out in the same write, before the snapshot");
}
