//! `rooms/…`: what a room costs the process when nobody plays in it, in memory (the tick alone;
//! the live cost with its thread's sleep and wake-up is measured by `scripts/rooms-bench.sh`),
//! and a 16-player room's tick, the unit of the rooms-per-process figure.
//!
//! Expected: an empty room's tick is a few µs (its orbs are captured and nothing is encoded);
//! a 16-player room's tick tens of µs.

use arena_benches::BenchRoom;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("rooms");
    // The default room: 4000² with 300 orbs, nobody in it.
    let mut empty = BenchRoom::new(0, 4000.0, 300);
    group.bench_function("empty_tick", |b| b.iter(|| empty.tick()));
    // A 16-player room at the game's density (100 players in 4000²: 1600², 48 orbs).
    let mut sixteen = BenchRoom::new(16, 1600.0, 48);
    group.bench_function(BenchmarkId::new("tick", 16), |b| b.iter(|| sixteen.tick()));
    group.finish();
}

criterion_group!(benches, rooms);
criterion_main!(benches);
