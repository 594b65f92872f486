//! `tick/…`: one whole server tick in memory (apply every member's input, simulate, replicate,
//! hand snapshots to mailboxes), swept over the number of members.
//!
//! Expected scaling: simulation is linear in ships and projectiles; replication is linear in
//! members × entities visible to each, so in a fixed 4000 × 4000 arena (`full`) it grows faster
//! than linearly as the arena gets crowded, while with the arena sized to the players
//! (`scaled_arena`, constant density) it should grow linearly.

use arena_benches::BenchRoom;
use arena_server::metrics::{Phase, ServerStats, micros_histogram};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::time::Instant;

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(20);
    for clients in [100u32, 500, 2000] {
        let mut room = BenchRoom::new(clients, 4000.0, 300);
        group.bench_function(BenchmarkId::new("full", clients), |b| b.iter(|| room.tick()));
    }
    // The same density as 100 players in 4000² (arena and orbs grow with the players): what a
    // server sized for its player count pays per tick.
    for clients in [100u32, 500, 1000, 2000] {
        let scale = f64::from(clients) / 100.0;
        let mut room = BenchRoom::new(clients, (4000.0 * scale.sqrt()) as f32, (300.0 * scale) as u32);
        group.bench_function(BenchmarkId::new("scaled_arena", clients), |b| b.iter(|| room.tick()));
    }
    // The same with the snapshots encoded on a pool of two threads.
    for clients in [500u32, 2000] {
        let mut room = BenchRoom::scaled(clients, 2);
        group.bench_function(BenchmarkId::new("scaled_arena_2_threads", clients), |b| b.iter(|| room.tick()));
    }
    group.finish();
}

/// `tick/timing_overhead`: what timing one phase costs the room thread — two clock reads, a
/// Prometheus histogram observation and an HDR record. Expected: flat, well under a microsecond
/// (×5 phases per tick).
fn timing_overhead(c: &mut Criterion) {
    let stats = ServerStats::new(30);
    let mut hdr = micros_histogram();
    c.bench_function("tick/timing_overhead", |b| {
        b.iter(|| {
            let t0 = Instant::now();
            let took = std::hint::black_box(Instant::now()) - t0;
            stats.observe(Phase::Replicate, took);
            hdr.saturating_record(took.as_micros().max(1) as u64);
        });
    });
}

criterion_group!(benches, tick, timing_overhead);
criterion_main!(benches);
