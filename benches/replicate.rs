//! `replicate/…`: the per-client part of replication (visibility, delta, checksum, frame) for
//! one client at steady state, every entity moving as predicted or not, swept over the number of
//! visible entities. The shared per-tick capture is done outside the timed section.
//!
//! Expected scaling: linear in visible entities (a merge of two sorted lists plus copying shared
//! records); the constant is what matters — the target is ≤ 5 µs at 100 entities.
//!
//! `replicate_room/…`: the room's whole replication for every member in one tick (capture,
//! every member's snapshot, hand-off to the mailboxes), cold caches included: many clients per
//! iteration, so per-client baselines do not stay in cache. Throughput is in clients, so
//! criterion's "elements/s" inverts to the cost per client per tick. Scenarios:
//! `crowd_full_view/N` — N drifting ships in 4000², no orbs, each member seeing the whole arena
//! (replication is O(members × entities) there); `scaled_arena/N` — the game at constant density
//! (as `tick/scaled_arena`), replication only.

use arena_benches::{BenchRoom, entities};
use arena_protocol::rules::{Arena, Buttons};
use arena_protocol::{EntityState, NetId, Physics, Tick};
use arena_server::replication::{ClientReplica, InputAck, Replicator, View};
use arena_server::sim::net_ids::NetIdPool;
use bevy_ecs::world::World;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};

fn replicate(c: &mut Criterion) {
    let arena = Arena::DEFAULT;
    let physics = Physics::new(30, arena);
    let mut group = c.benchmark_group("replicate");
    for visible in [25u32, 100, 400] {
        // Everything within a 2000 × 1250 view centred on ship 1 at (1000, 625).
        let mut states: Vec<EntityState> = entities(visible / 2, visible - visible / 2);
        for (i, e) in states.iter_mut().enumerate() {
            let i = i as i32;
            (e.x, e.y) = (16 * (40 + (i * 37) % 1900), 16 * (40 + (i * 53) % 1150));
            if i % 7 == 0 {
                e.flags = EntityState::ship_flags(true, Buttons(Buttons::LEFT));
            }
        }
        let mut world = World::new();
        let mut rep = Replicator::new(&mut world, 30, arena, View { half_width: 1000.0, half_height: 625.0 });
        let mut ids = NetIdPool::default();
        let mut replica = ClientReplica::new(NetId(1), None);
        let mut tick = 1;
        let mut advance = |rep: &mut Replicator, replica: &mut ClientReplica, ids: &mut NetIdPool, turn: bool| {
            for (i, e) in states.iter_mut().enumerate() {
                *e = e.predict(1, &physics);
                // A few ships change their keys and aim every tick: real records to copy.
                if turn && e.kind == arena_protocol::EntityKind::Ship && (i + tick as usize).is_multiple_of(5) {
                    e.aim = (e.aim + 3) % 256;
                }
            }
            tick += 1;
            rep.capture_states(&states, Tick(tick));
            replica.settle(false, ids);
        };
        advance(&mut rep, &mut replica, &mut ids, false);
        replica.encode(&rep, InputAck::default(), &mut ids);
        group.bench_function(BenchmarkId::new("steady_delta", visible), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    advance(&mut rep, &mut replica, &mut ids, true);
                    let start = Instant::now();
                    std::hint::black_box(replica.encode(&rep, InputAck::default(), &mut ids));
                    spent += start.elapsed();
                }
                spent
            });
        });
    }
    group.finish();
}

fn replicate_room(c: &mut Criterion) {
    let mut group = c.benchmark_group("replicate_room");
    group.sample_size(10);
    let rooms = [
        ("crowd_full_view", 400u32, BenchRoom::crowd(400, 4000.0, 1)),
        ("crowd_full_view", 1000, BenchRoom::crowd(1000, 4000.0, 1)),
        ("crowd_full_view_2_threads", 1000, BenchRoom::crowd(1000, 4000.0, 2)),
        ("scaled_arena", 2000, BenchRoom::scaled(2000, 1)),
        ("scaled_arena_2_threads", 2000, BenchRoom::scaled(2000, 2)),
    ];
    for (name, clients, mut room) in rooms {
        group.throughput(Throughput::Elements(u64::from(clients)));
        group.bench_function(BenchmarkId::new(name, clients), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    room.feed_inputs();
                    room.room.simulate();
                    let start = Instant::now();
                    room.room.replicate();
                    spent += start.elapsed();
                    room.drain();
                }
                spent
            });
        });
    }
    group.finish();
}

criterion_group!(benches, replicate, replicate_room);
criterion_main!(benches);
